"""Relative pose features of an edge (source -> receiver), invariant to the world frame.

The model never sees absolute coordinates: every interaction is described by the source's position
and heading as seen from the receiver. Features are scaled to order one so that Fourier features with
unit-normal initial frequencies start in a useful range.
"""

from __future__ import annotations

import torch

from smartr1.data.geometry import wrap_angle

DIST_SCALE = 10.0  # metres per unit of the distance feature
SAME_PLACE = 1e-3  # metres: closer than this, a source has no direction
POSE_FEATURES = 3  # features per edge, without the time gap
ANGLE_DIMS = (1, 2)  # the features that are angles (periodic: see FourierEmbedding)


def relative_pose_features(
    src: torch.Tensor, dst: torch.Tensor, time_gap: torch.Tensor | None = None, time_scale: float = 1.0
) -> torch.Tensor:
    """Edge features from poses (x, y, heading).

    src, dst: [..., 3] (broadcastable). Returns [..., 3] (distance, direction of src in dst's frame,
    relative heading; angles wrapped to [-pi, pi), at ANGLE_DIMS) or [..., 4] with the time gap appended
    (in slots / time_scale).
    """
    d = src[..., :2] - dst[..., :2]
    dist = torch.linalg.vector_norm(d, dim=-1)
    direction = wrap_angle(torch.atan2(d[..., 1], d[..., 0]) - dst[..., 2])
    # A coincident source (a standing agent's own past, a lane branching off) has no direction; atan2
    # would make one up from the world frame (0 - heading), so it gets 0 in the receiver's frame.
    direction = torch.where(dist > SAME_PLACE, direction, torch.zeros_like(direction))
    rel_heading = wrap_angle(src[..., 2] - dst[..., 2])
    feats = [dist / DIST_SCALE, direction, rel_heading]
    if time_gap is not None:
        feats.append(torch.broadcast_to(time_gap, dist.shape).to(dist.dtype) / time_scale)
    return torch.stack(feats, dim=-1)
