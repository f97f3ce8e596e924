"""Kinematic features (speeds, accelerations) and displacement errors, f32, official op order.

All functions take `[..., 91]` step arrays (any leading dims) and keep the step axis last.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from smartr1.data.timeline import STEP_SECONDS
from smartr1.metrics import _ops

DT = float(np.float32(STEP_SECONDS))
DT2 = float(np.float32(STEP_SECONDS**2))


def central_diff(f: torch.Tensor) -> torch.Tensor:
    """(f[t+1] − f[t−1]) / 2 along the last axis, NaN at both ends."""
    pad = torch.full_like(f[..., :1], float("nan"))
    return torch.cat([pad, (f[..., 2:] - f[..., :-2]) / 2, pad], dim=-1)


def linear_speed(x: torch.Tensor, y: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
    """3D (or 2D when z is None, as TTC uses) speed by central differences, m/s."""
    dx, dy = central_diff(x), central_diff(y)
    dz = torch.zeros_like(dx) if z is None else central_diff(z)
    return _ops.norm3(dx, dy, dz) / DT


@dataclass
class Kinematics:
    linear_speed: torch.Tensor  # [..., T]
    linear_acceleration: torch.Tensor
    angular_speed: torch.Tensor
    angular_acceleration: torch.Tensor


def kinematic_features(
    x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, heading: torch.Tensor
) -> Kinematics:
    speed = linear_speed(x, y, z)
    accel = central_diff(speed) / DT
    dh_step = _ops.wrap_angle(central_diff(heading) * 2) / 2
    d2h_step = _ops.wrap_angle(central_diff(dh_step) * 2) / 2
    return Kinematics(speed, accel, dh_step / DT, d2h_step / DT2)


def average_displacement_error(
    sim_xyz: torch.Tensor, log_xyz: torch.Tensor, log_valid: torch.Tensor
) -> torch.Tensor:
    """Mean 3D error over log-valid steps, the history steps (error 0) counted in the denominator.

    sim_xyz: [..., E, 80, 3] future; log_xyz: [..., E, 80, 3]; log_valid: [..., E, 91].
    Returns [..., E].
    """
    d = sim_xyz - log_xyz
    err = _ops.norm3(d[..., 0], d[..., 1], d[..., 2])
    fut_valid = log_valid[..., -err.shape[-1] :]
    total = torch.where(fut_valid, err, torch.zeros_like(err)).sum(-1)
    return total / log_valid.sum(-1).to(err.dtype)
