"""All WOSAC per-step features for the log and for rollouts, batched over scenarios and samples.

A "sample" is one joint future of all agents: the log itself (M = 1, log validity in the future) or a
rollout (M = R, every sim agent valid in the future). History steps always come from the log, raw
values included, and box sizes in the future are the log's sizes at step 10.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from smartr1.data.timeline import CURRENT_STEP
from smartr1.metrics import interaction, kinematics, map_features, traffic_lights
from smartr1.metrics.inputs import MetricBatch

FUT = slice(CURRENT_STEP + 1, None)


@dataclass
class Features:
    """Features of the evaluated objects, [S, M, E, 80] (ADE [S, M, E])."""

    linear_speed: torch.Tensor
    linear_acceleration: torch.Tensor
    angular_speed: torch.Tensor
    angular_acceleration: torch.Tensor
    distance_to_nearest_object: torch.Tensor
    collision_per_step: torch.Tensor
    time_to_collision: torch.Tensor
    distance_to_road_edge: torch.Tensor
    offroad_per_step: torch.Tensor
    traffic_light_violation_per_step: torch.Tensor
    average_displacement_error: torch.Tensor

    def to_numpy(self) -> dict:
        return {f.name: getattr(self, f.name).cpu().numpy() for f in fields(self)}


def _with_history(batch: MetricBatch, future: torch.Tensor | None):
    """[S, M, N, 91] x, y, z, heading and validity for the log (future None) or rollouts [S, R, N, 80, 4]."""
    log = [batch.x, batch.y, batch.z, batch.heading]
    if future is None:
        return [v[:, None] for v in log], batch.valid[:, None]
    m = future.shape[1]
    out = []
    for i, v in enumerate(log):
        hist = v[:, None, :, : FUT.start].expand(-1, m, -1, -1)
        out.append(torch.cat([hist, future[..., i]], dim=-1))
    fut_valid = batch.agent_mask[:, None, :, None].expand(-1, m, -1, future.shape[3])
    valid = torch.cat([batch.valid[:, None, :, : FUT.start].expand(-1, m, -1, -1), fut_valid], dim=-1)
    return out, valid


def compute_features(
    batch: MetricBatch, future: torch.Tensor | None = None, brute_force: bool = False
) -> Features:
    """Features of the log (`future=None`) or of rollouts `future` [S, R, N, 80, 4] (aligned, f32)."""
    (x, y, z, h), valid = _with_history(batch, future)
    s, m, n, _ = x.shape
    e = batch.num_eval
    size = [v[:, None].expand(-1, m, -1, -1) for v in (batch.length, batch.width, batch.height)]
    length, width, height = size

    kin = kinematics.kinematic_features(x[:, :, :e], y[:, :, :e], z[:, :, :e], h[:, :, :e])

    def flat(v):  # [S, M, N, T] -> [S*M, N, T]
        return v.reshape(s * m, n, v.shape[-1])

    xf, yf, hf = flat(x[..., FUT]), flat(y[..., FUT]), flat(h[..., FUT])
    lf, wf, vf = flat(length[..., FUT]), flat(width[..., FUT]), flat(valid[..., FUT])
    dist = interaction.distance_to_nearest_object(xf, yf, hf, lf, wf, vf, e).reshape(s, m, e, -1)
    speed2 = kinematics.linear_speed(x, y)[..., FUT]
    ttc = interaction.time_to_collision(xf, yf, hf, lf, wf, flat(speed2), vf, e).reshape(s, m, e, -1)

    ev = (slice(None), slice(None), slice(None, e), FUT)
    road = map_features.distance_to_road_edge(
        x[ev],
        y[ev],
        z[ev],
        h[ev],
        length[ev],
        width[ev],
        height[ev],
        valid[ev],
        batch.road_edges,
        brute_force,
    )
    tl = traffic_lights.red_light_violation(x[:, :, :e], y[:, :, :e], valid[:, :, :e], batch.signals)[
        ..., FUT
    ]

    if future is None:
        ade = torch.zeros((s, m, e), dtype=x.dtype, device=x.device)
    else:
        sim_xyz = torch.stack([x[ev], y[ev], z[ev]], dim=-1)
        lx = [v[:, None, :e, FUT] for v in (batch.x, batch.y, batch.z)]
        log_xyz = torch.stack(lx, dim=-1)
        ade = kinematics.average_displacement_error(sim_xyz, log_xyz, batch.valid[:, None, :e])

    return Features(
        linear_speed=kin.linear_speed[..., FUT],
        linear_acceleration=kin.linear_acceleration[..., FUT],
        angular_speed=kin.angular_speed[..., FUT],
        angular_acceleration=kin.angular_acceleration[..., FUT],
        distance_to_nearest_object=dist,
        collision_per_step=dist < 0.0,
        time_to_collision=ttc,
        distance_to_road_edge=road,
        offroad_per_step=road > 0.0,
        traffic_light_violation_per_step=tl,
        average_displacement_error=ade,
    )
