"""From features to the official `SimAgentMetrics` fields, dataset means and leaderboard buckets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from smartr1.metrics import estimators
from smartr1.metrics.config import (
    FEATURES,
    INTERACTIVE,
    KINEMATIC,
    MAP_BASED,
    MetricsConfig,
    load_config,
)
from smartr1.metrics.features import FUT, Features
from smartr1.metrics.inputs import MetricBatch

# Official `SimAgentMetrics` field order (metametric first, rates last).
METRIC_FIELDS = (
    "metametric",
    "average_displacement_error",
    "min_average_displacement_error",
    "linear_speed_likelihood",
    "linear_acceleration_likelihood",
    "angular_speed_likelihood",
    "angular_acceleration_likelihood",
    "distance_to_nearest_object_likelihood",
    "collision_indication_likelihood",
    "time_to_collision_likelihood",
    "distance_to_road_edge_likelihood",
    "offroad_indication_likelihood",
    "traffic_light_violation_likelihood",
    "simulated_collision_rate",
    "simulated_offroad_rate",
    "simulated_traffic_light_violation_rate",
)
BUCKET_FIELDS = (
    "realism_meta_metric",
    "kinematic_metrics",
    "interactive_metrics",
    "map_based_metrics",
    "min_ade",
    "simulated_collision_rate",
    "simulated_offroad_rate",
    "simulated_traffic_light_violation_rate",
)
_STEP_FEATURE = {
    "linear_speed": "linear_speed",
    "linear_acceleration": "linear_acceleration",
    "angular_speed": "angular_speed",
    "angular_acceleration": "angular_acceleration",
    "distance_to_nearest_object": "distance_to_nearest_object",
    "time_to_collision": "time_to_collision",
    "distance_to_road_edge": "distance_to_road_edge",
}
_INDICATOR = {
    "collision_indication": "collision_per_step",
    "offroad_indication": "offroad_per_step",
    "traffic_light_violation": "traffic_light_violation_per_step",
}


@dataclass
class Masks:
    """Scoring masks of the evaluated objects, [S, E, 80] (log validity; padding False)."""

    valid: torch.Tensor
    speed: torch.Tensor
    acceleration: torch.Tensor
    vehicle: torch.Tensor  # valid & is_vehicle (TTC and traffic-light masks)
    eval: torch.Tensor  # [S, E] real evaluated objects

    def repeat(self, times: int) -> Masks:
        """Each scenario's masks repeated `times` (scenario-major), for scoring rollout groups."""
        return Masks(
            *(
                v.repeat_interleave(times, dim=0)
                for v in (self.valid, self.speed, self.acceleration, self.vehicle, self.eval)
            )
        )


def scoring_masks(batch: MetricBatch) -> Masks:
    e = batch.num_eval
    v = batch.valid[:, :e, FUT] & batch.eval_mask[..., None]
    f = torch.zeros_like(v[..., :1])
    speed = torch.cat([f, v[..., :-2] & v[..., 2:], f], dim=-1)
    accel = torch.cat([f, speed[..., :-2] & speed[..., 2:], f], dim=-1)
    return Masks(v, speed, accel, v & batch.is_vehicle[..., None], batch.eval_mask)


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Flat mean over the masked (object, step) entries per scenario: [S, ...] -> [S]."""
    dims = tuple(range(1, values.ndim))
    total = torch.where(mask, values, torch.zeros_like(values)).sum(dims)
    return total / mask.sum(dims).to(values.dtype)


@dataclass
class LogLikelihoods:
    """Per-step [S, E, 80] and per-object [S, E] log-likelihoods (the official internal tensors)."""

    per_step: dict[str, torch.Tensor]
    per_object: dict[str, torch.Tensor]
    log_indication: dict[str, torch.Tensor]  # [S, E] bool
    sim_indication: dict[str, torch.Tensor]  # [S, R, E] bool


def log_likelihoods(log: Features, sim: Features, masks: Masks, config: MetricsConfig) -> LogLikelihoods:
    per_step = {
        name: estimators.histogram_loglik(getattr(log, attr)[:, 0], getattr(sim, attr), config.features[name])
        for name, attr in _STEP_FEATURE.items()
    }
    per_object, log_ind, sim_ind = {}, {}, {}
    for name, attr in _INDICATOR.items():
        mask = masks.vehicle if name == "traffic_light_violation" else masks.valid
        log_ind[name] = (getattr(log, attr)[:, 0] & mask).any(-1)
        sim_ind[name] = (getattr(sim, attr) & mask[:, None]).any(-1)
        per_object[name] = estimators.bernoulli_loglik(log_ind[name], sim_ind[name], config.features[name])
    # The traffic-light *rate* is not restricted to vehicles.
    sim_ind["traffic_light_violation_rate"] = (
        sim.traffic_light_violation_per_step & masks.valid[:, None]
    ).any(-1)
    return LogLikelihoods(per_step, per_object, log_ind, sim_ind)


def step_masks(masks: Masks) -> dict[str, torch.Tensor]:
    """Which (object, step) entries each per-step component averages over, [S, E, 80] bool."""
    return {
        "linear_speed": masks.speed,
        "angular_speed": masks.speed,
        "linear_acceleration": masks.acceleration,
        "angular_acceleration": masks.acceleration,
        "distance_to_nearest_object": masks.valid,
        "time_to_collision": masks.vehicle,
        "distance_to_road_edge": masks.valid,
    }


def scenario_metrics(
    batch: MetricBatch | Masks, log: Features, sim: Features, config: MetricsConfig | str = "2025"
) -> dict[str, torch.Tensor]:
    """Every `SimAgentMetrics` field per scenario, as f32 tensors [S].

    `batch` may be the `Masks` directly (e.g. repeated per rollout group, see `reward`).
    """
    config = load_config(config)
    masks = batch if isinstance(batch, Masks) else scoring_masks(batch)
    ll = log_likelihoods(log, sim, masks, config)
    per_step = step_masks(masks)
    eval_mask = masks.eval
    out: dict[str, torch.Tensor] = {}
    for name in FEATURES:
        if name in per_step:
            mean = _masked_mean(ll.per_step[name], per_step[name])
        else:
            mean = _masked_mean(ll.per_object[name], eval_mask)
        out[f"{name}_likelihood"] = torch.exp(mean)
    meta = torch.zeros_like(out["linear_speed_likelihood"])
    for name in FEATURES:
        meta = meta + np.float32(config.weight(name)) * out[f"{name}_likelihood"]
    out["metametric"] = meta
    r = sim.average_displacement_error.shape[1]
    ade_mask = eval_mask[:, None].expand(-1, r, -1)
    ade = sim.average_displacement_error
    out["average_displacement_error"] = _masked_mean(ade, ade_mask)
    per_rollout = torch.where(ade_mask, ade, torch.zeros_like(ade)).sum(-1) / eval_mask.sum(-1, keepdim=True)
    out["min_average_displacement_error"] = per_rollout.amin(-1)
    rate = {
        "simulated_collision_rate": ll.sim_indication["collision_indication"],
        "simulated_offroad_rate": ll.sim_indication["offroad_indication"],
        "simulated_traffic_light_violation_rate": ll.sim_indication["traffic_light_violation_rate"],
    }
    for key, ind in rate.items():
        out[key] = _masked_mean(ind.to(torch.float32), ade_mask)
    return {k: out[k] for k in METRIC_FIELDS}


def to_records(scenario_ids: list[str], metrics: dict[str, torch.Tensor]) -> dict[str, dict[str, float]]:
    """{scenario_id: {field: value}} with plain floats (f32 values as exact doubles)."""
    cols = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in metrics.items()}
    return {sid: {k: float(cols[k][i]) for k in METRIC_FIELDS} for i, sid in enumerate(scenario_ids)}


def dataset_mean(per_scenario: dict[str, dict[str, float]]) -> dict[str, float]:
    """Unweighted mean over scenarios of every field (each scenario counts once), as f32."""
    if not per_scenario:
        raise ValueError("no scenario to aggregate")
    rows = list(per_scenario.values())
    return {
        k: float(np.float32(np.mean([np.float32(r[k]) for r in rows], dtype=np.float32)))
        for k in METRIC_FIELDS
    }


def buckets(means: dict[str, float], config: MetricsConfig | str = "2025") -> dict[str, float]:
    """Leaderboard buckets: weight-normalised group means of the dataset likelihoods."""
    config = load_config(config)

    def group(names):
        w = [np.float32(config.weight(n)) for n in names]
        total = np.float32(sum(w))
        if total == 0:
            return float("nan")
        val = np.float32(
            sum(wi * np.float32(means[f"{n}_likelihood"]) for wi, n in zip(w, names, strict=True))
        )
        return float(np.float32(val / total))

    return {
        "realism_meta_metric": means["metametric"],
        "kinematic_metrics": group(KINEMATIC),
        "interactive_metrics": group(INTERACTIVE),
        "map_based_metrics": group(MAP_BASED),
        "min_ade": means["min_average_displacement_error"],
        "simulated_collision_rate": means["simulated_collision_rate"],
        "simulated_offroad_rate": means["simulated_offroad_rate"],
        "simulated_traffic_light_violation_rate": means["simulated_traffic_light_violation_rate"],
    }
