"""Rollouts into the metric as tensors: the reward path of fine-tuning, with no NumPy round trip.

The metric orders a scenario's objects its own way (evaluated objects first, ascending id, then the
rest in track order); a token batch keeps track order. `MetricBatch.track_index` is the one map
between the two, and `metric_future` applies it with a single gather on the rollouts' device.
"""

from __future__ import annotations

import torch

from smartr1.data.errors import DataError
from smartr1.metrics.inputs import MetricBatch
from smartr1.rollout.engine import RolloutOutput
from smartr1.tokens.batch import TokenBatch


def metric_future(
    out: RolloutOutput, batch: TokenBatch, metric: MetricBatch, rows: list[int] | None = None
) -> torch.Tensor:
    """Rollouts as the metric's futures [S, R, N, 80, 4] (x, y, z, heading) float32, on the same device.

    The metric batch holds the scenarios of token-batch `rows` (default: all of them, in order). Its
    `track_index` [S, N] gives the metric's object order as track indices, and batch column a of a
    scenario is its track a, so this one gather is the whole track-order -> metric-order map (ids are
    checked). z is held at its current value, as in `to_rollouts`.
    """
    scenario_id, agent_id, agent_z = list(batch.scenario_id), batch.agents.id, batch.agents.z
    if rows is not None:
        sel = torch.tensor(rows, device=out.pose.device)
        out = RolloutOutput(out.token[sel], out.pose[sel], out.sim_mask[sel])
        scenario_id, agent_id, agent_z = [scenario_id[i] for i in rows], agent_id[sel], agent_z[sel]
    if scenario_id != list(metric.scenario_ids):
        raise ValueError("the token batch and the metric batch hold different scenarios")
    b, r = out.pose.shape[:2]
    dev = out.pose.device
    real = metric.track_index.to(dev) >= 0
    idx = metric.track_index.to(dev).clamp(min=0)
    wrong = real & ((agent_id.gather(1, idx) != metric.object_id.to(dev)) | ~out.sim_mask.gather(1, idx))
    if bool(wrong.any()):
        s, n = (int(v) for v in torch.nonzero(wrong)[0])
        raise DataError(
            None,
            f"scenario {scenario_id[s]!r}: metric object {int(metric.object_id[s, n])} is not the "
            f"simulated track {int(idx[s, n])} of the token batch",
        )
    n = idx.shape[1]
    pose = out.pose.gather(2, idx[:, None, :, None, None].expand(b, r, n, *out.pose.shape[3:]))
    z = agent_z.gather(1, idx)[:, None, :, None, None].expand(b, r, n, pose.shape[3], 1)
    fut = torch.cat([pose[..., :2], z.to(pose.dtype), pose[..., 2:]], dim=-1).float()
    return torch.where(real[:, None, :, None, None], fut, torch.zeros_like(fut))
