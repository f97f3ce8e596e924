"""Relative pose features of an edge (source -> receiver), invariant to the world frame.

The model never sees absolute coordinates: every interaction is described by the source's position
and heading as seen from the receiver. Features are scaled to order one so that Fourier features with
unit-normal initial frequencies start in a useful range.
"""

from __future__ import annotations

import torch

from smartr1.data.geometry import wrap_angle

DIST_SCALE = 10.0  # metres per unit of the distance feature


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
