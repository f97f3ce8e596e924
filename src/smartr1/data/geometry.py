"""Pose algebra every layer shares: angle wrapping, local frames and box corners.

Poses are `[..., 3]` (x, y, heading). Functions that say "array" take NumPy arrays or torch tensors
and return the same kind. The WOSAC metric keeps its own float32 variants (`metrics/_ops.py`,
`metrics/interaction.py`), whose operation order has to match the official package.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def wrap_angle(a):
    """Angles (array) into [-pi, pi)."""
    if isinstance(a, torch.Tensor):
        return torch.remainder(a + math.pi, 2 * math.pi) - math.pi
    return (np.asarray(a) + np.pi) % (2 * np.pi) - np.pi


def to_local(pose: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
    """`pose` [..., 3] expressed in the frame of `frame` [..., 3] (broadcast)."""
    dx = pose[..., 0] - frame[..., 0]
    dy = pose[..., 1] - frame[..., 1]
    c, s = torch.cos(frame[..., 2]), torch.sin(frame[..., 2])
    return torch.stack([c * dx + s * dy, -s * dx + c * dy, wrap_angle(pose[..., 2] - frame[..., 2])], dim=-1)


def to_world(local: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
    """Inverse of `to_local`: a local pose [..., 3] placed at `frame` [..., 3] (broadcast)."""
    c, s = torch.cos(frame[..., 2]), torch.sin(frame[..., 2])
    x = frame[..., 0] + c * local[..., 0] - s * local[..., 1]
    y = frame[..., 1] + s * local[..., 0] + c * local[..., 1]
    return torch.stack([x, y, wrap_angle(frame[..., 2] + local[..., 2])], dim=-1)


def points_to_local(points: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
    """World xy points [..., P, 2] into the frame of `frame` [..., 3]."""
    c, s = frame[..., 2].cos().unsqueeze(-1), frame[..., 2].sin().unsqueeze(-1)
    d = points - frame[..., None, :2]
    return torch.stack([c * d[..., 0] + s * d[..., 1], -s * d[..., 0] + c * d[..., 1]], dim=-1)


def box_corners(pose, length, width):
    """[..., 4, 2] corners (front-left, front-right, rear-right, rear-left) of boxes at `pose` [..., 3]
    (array); `length` / `width` are scalars or arrays broadcasting against `pose[..., 0]`.

    The fixed corner order makes a box turned by pi far from the original, so the mean corner
    distance also measures heading (motion tokens are matched by it).
    """
    xp = torch if isinstance(pose, torch.Tensor) else np
    if xp is torch:
        length = torch.as_tensor(length, dtype=pose.dtype, device=pose.device)
        width = torch.as_tensor(width, dtype=pose.dtype, device=pose.device)
        sx = torch.tensor([1.0, 1.0, -1.0, -1.0], dtype=pose.dtype, device=pose.device)
        sy = torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=pose.dtype, device=pose.device)
    else:
        pose, length, width = np.asarray(pose), np.asarray(length), np.asarray(width)
        sx, sy = np.array([1.0, 1.0, -1.0, -1.0]), np.array([1.0, -1.0, -1.0, 1.0])
    hl, hw = length / 2, width / 2
    lx = sx * hl[..., None] if hl.ndim else sx * hl  # [..., 4]
    ly = sy * hw[..., None] if hw.ndim else sy * hw
    c, s = xp.cos(pose[..., 2])[..., None], xp.sin(pose[..., 2])[..., None]
    x = pose[..., 0, None] + c * lx - s * ly
    y = pose[..., 1, None] + s * lx + c * ly
    return xp.stack([x, y], -1)


def corner_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean corner distance between boxes [..., 4, 2] (broadcast) -> [...]."""
    return torch.linalg.vector_norm(a - b, dim=-1).mean(-1)
