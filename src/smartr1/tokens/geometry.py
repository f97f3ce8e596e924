"""Pose algebra shared by the motion tokenizer: local frames, composition and box corners.

Poses are `(..., 3)` tensors of (x, y, heading). Everything is batched over leading dims.
"""

from __future__ import annotations

import math

import torch


def wrap_angle(a: torch.Tensor) -> torch.Tensor:
    """Angles into [-pi, pi)."""
    return torch.remainder(a + math.pi, 2 * math.pi) - math.pi


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


def box_corners(
    pose: torch.Tensor, length: torch.Tensor | float, width: torch.Tensor | float
) -> torch.Tensor:
    """[..., 4, 2] corners (front-left, front-right, rear-right, rear-left) of boxes at `pose` [..., 3].

    The fixed corner order makes a box turned by pi far from the original, so the corner distance
    also measures heading.
    """
    length = torch.as_tensor(length, dtype=pose.dtype, device=pose.device)
    width = torch.as_tensor(width, dtype=pose.dtype, device=pose.device)
    hl, hw = length / 2, width / 2
    # unit box corner signs [4, 2]
    sx = torch.tensor([1.0, 1.0, -1.0, -1.0], dtype=pose.dtype, device=pose.device)
    sy = torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=pose.dtype, device=pose.device)
    lx = sx * hl[..., None] if hl.dim() else sx * hl  # [..., 4]
    ly = sy * hw[..., None] if hw.dim() else sy * hw
    c, s = torch.cos(pose[..., 2])[..., None], torch.sin(pose[..., 2])[..., None]
    x = pose[..., 0, None] + c * lx - s * ly
    y = pose[..., 1, None] + s * lx + c * ly
    return torch.stack([x, y], dim=-1)


def corner_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean corner distance between boxes [..., 4, 2] (broadcast) -> [...]."""
    return torch.linalg.vector_norm(a - b, dim=-1).mean(-1)
