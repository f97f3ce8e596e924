"""Relative pose features of an edge (source -> receiver), invariant to the world frame.

The model never sees absolute coordinates: every interaction is described by the source's position
and heading as seen from the receiver. Features are scaled to order one so that Fourier features with
unit-normal initial frequencies start in a useful range.
"""

from __future__ import annotations

import math

import torch

DIST_SCALE = 10.0  # metres per unit of the distance feature


def wrap_angle(a: torch.Tensor) -> torch.Tensor:
    """Angles to [-pi, pi)."""
    return torch.remainder(a + math.pi, 2.0 * math.pi) - math.pi


def relative_pose_features(
    src: torch.Tensor, dst: torch.Tensor, time_gap: torch.Tensor | None = None, time_scale: float = 1.0
) -> torch.Tensor:
    """Edge features from poses (x, y, heading).

    src, dst: [..., 3] (broadcastable). Returns [..., 3] (distance, direction of src in dst's frame,
    relative heading) or [..., 4] with the time gap appended (in slots / time_scale).
    """
    d = src[..., :2] - dst[..., :2]
    dist = torch.linalg.vector_norm(d, dim=-1)
    direction = wrap_angle(torch.atan2(d[..., 1], d[..., 0]) - dst[..., 2])
    rel_heading = wrap_angle(src[..., 2] - dst[..., 2])
    feats = [dist / DIST_SCALE, direction, rel_heading]
    if time_gap is not None:
        feats.append(torch.broadcast_to(time_gap, dist.shape).to(dist.dtype) / time_scale)
    return torch.stack(feats, dim=-1)


def to_local(points: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
    """World xy points [..., P, 2] into the frame of pose [..., 3]."""
    c, s = pose[..., 2].cos().unsqueeze(-1), pose[..., 2].sin().unsqueeze(-1)
    d = points - pose[..., None, :2]
    return torch.stack([c * d[..., 0] + s * d[..., 1], -s * d[..., 0] + c * d[..., 1]], dim=-1)


def compose(pose: torch.Tensor, local: torch.Tensor) -> torch.Tensor:
    """Local poses [..., K, 3] (x, y, heading in the frame of pose [..., 3]) -> world poses [..., K, 3]."""
    c, s = pose[..., 2].cos().unsqueeze(-1), pose[..., 2].sin().unsqueeze(-1)
    x = pose[..., None, 0] + c * local[..., 0] - s * local[..., 1]
    y = pose[..., None, 1] + s * local[..., 0] + c * local[..., 1]
    h = wrap_angle(pose[..., None, 2] + local[..., 2])
    return torch.stack([x, y, h], dim=-1)
