"""Scenario + Rollouts -> padded float32 tensors in the official object order.

Per scenario the sim agents are the tracks valid at step 10; inside the metric they are ordered
evaluated objects first (ascending id: SDC + tracks_to_predict), then the rest in track order.
A batch pads scenarios to the same agent count N; padded agents are invalid at every step, so they
are never obstacles, leaders, histogram samples or mask entries.

Everything is cast to float32 *before* any arithmetic, as the official code does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from smartr1.data.errors import DataError
from smartr1.data.rollouts import Rollouts
from smartr1.data.scenario import AgentType, Scenario
from smartr1.data.timeline import CURRENT_STEP, NUM_FUTURE_STEPS, NUM_STEPS
from smartr1.metrics.map_features import RoadEdges, road_edges_from_scenario
from smartr1.metrics.traffic_lights import SignalLanes, signal_lanes_from_scenario


@dataclass
class ScenarioLog:
    """One scenario's logged sim agents in metric order (NumPy, float32)."""

    scenario_id: str
    object_id: np.ndarray  # [N] int64, eval objects first (ascending id), then the rest in track order
    object_type: np.ndarray  # [N] int64
    num_eval: int
    track_index: np.ndarray  # [N] int64, the scenario track of each object
    x: np.ndarray  # [N, 91] f32 (raw values kept at invalid steps)
    y: np.ndarray  # [N, 91]
    z: np.ndarray  # [N, 91]
    heading: np.ndarray  # [N, 91]
    length: np.ndarray  # [N, 91] f32, future steps = value at step 10
    width: np.ndarray  # [N, 91]
    height: np.ndarray  # [N, 91]
    valid: np.ndarray  # [N, 91] bool, log validity


def scenario_log(scenario: Scenario) -> ScenarioLog:
    """The logged sim agents of `scenario` in metric order."""
    t = scenario.tracks
    cur = scenario.current_step
    if cur != CURRENT_STEP or t.num_steps != NUM_STEPS:
        raise DataError(
            None,
            f"scenario {scenario.scenario_id!r}: WOSAC needs {NUM_STEPS} steps with current step "
            f"{CURRENT_STEP}, got {t.num_steps} steps, current {cur}",
        )
    sim_idx = scenario.sim_agent_index()
    eval_ids = scenario.eval_agent_ids()
    ids = t.id[sim_idx]
    is_eval = np.isin(ids, eval_ids)
    missing = set(eval_ids.tolist()) - set(ids[is_eval].tolist())
    if missing:
        raise DataError(
            None,
            f"scenario {scenario.scenario_id!r}: evaluated objects {sorted(missing)} not valid at step {cur}",
        )
    ev = sim_idx[is_eval][np.argsort(ids[is_eval], kind="stable")]
    order = np.concatenate([ev, sim_idx[~is_eval]])

    def f32(a):
        return np.ascontiguousarray(a[order], dtype=np.float32)

    def boxes(a):
        a = f32(a)
        a[:, cur + 1 :] = a[:, cur : cur + 1]
        return a

    return ScenarioLog(
        scenario_id=scenario.scenario_id,
        object_id=t.id[order].astype(np.int64),
        object_type=t.type[order].astype(np.int64),
        num_eval=int(len(ev)),
        track_index=order.astype(np.int64),
        x=f32(t.x),
        y=f32(t.y),
        z=f32(t.z),
        heading=f32(t.heading),
        length=boxes(t.length),
        width=boxes(t.width),
        height=boxes(t.height),
        valid=np.ascontiguousarray(t.valid[order]),
    )


def align_rollouts(log: ScenarioLog, rollouts: Rollouts) -> np.ndarray:
    """Rollout futures re-ordered to the metric order: [R, N, 80, 4] f32 (x, y, z, heading)."""
    if rollouts.x.shape[-1] != NUM_FUTURE_STEPS:
        raise DataError(
            None,
            f"rollouts of {log.scenario_id!r}: {rollouts.x.shape[-1]} steps, expected {NUM_FUTURE_STEPS}",
        )
    pos = {int(o): i for i, o in enumerate(rollouts.object_id.tolist())}
    if len(pos) != len(rollouts.object_id):
        raise DataError(None, f"rollouts of {log.scenario_id!r}: duplicate object ids")
    want = log.object_id.tolist()
    missing = [o for o in want if o not in pos]
    extra = sorted(set(pos) - set(want))
    if missing or extra:
        raise DataError(
            None,
            f"rollouts of {log.scenario_id!r}: object ids differ from the sim agents "
            f"(missing {missing[:10]}, unexpected {extra[:10]})",
        )
    idx = np.array([pos[o] for o in want], np.int64)
    stacked = np.stack([rollouts.x, rollouts.y, rollouts.z, rollouts.heading], axis=-1)  # [R, A, 80, 4]
    return np.ascontiguousarray(stacked[:, idx], dtype=np.float32)


@dataclass
class MetricBatch:
    """S scenarios padded to N agents (E = max evaluated count); torch tensors on one device."""

    scenario_ids: list[str]
    object_id: torch.Tensor  # [S, N] int64, -1 for padding
    track_index: torch.Tensor  # [S, N] int64, scenario track of each object (-1 for padding)
    agent_mask: torch.Tensor  # [S, N] bool
    eval_mask: torch.Tensor  # [S, E] bool, evaluated objects are the first E agents
    is_vehicle: torch.Tensor  # [S, E] bool
    x: torch.Tensor  # [S, N, 91] f32
    y: torch.Tensor
    z: torch.Tensor
    heading: torch.Tensor
    length: torch.Tensor  # [S, N, 91], future = step 10
    width: torch.Tensor
    height: torch.Tensor
    valid: torch.Tensor  # [S, N, 91] bool (log validity; False for padded agents)
    road_edges: RoadEdges
    signals: SignalLanes
    logs: list[ScenarioLog]  # the NumPy logs the batch was built from (for aligning rollouts)

    @property
    def num_scenarios(self) -> int:
        return len(self.scenario_ids)

    @property
    def num_eval(self) -> int:
        return int(self.eval_mask.shape[1])

    @property
    def device(self) -> torch.device:
        return self.x.device


def _pad_stack(arrays: list[np.ndarray], n: int, fill) -> np.ndarray:
    out = np.full((len(arrays), n, *arrays[0].shape[1:]), fill, dtype=arrays[0].dtype)
    for i, a in enumerate(arrays):
        out[i, : a.shape[0]] = a
    return out


def build_batch(scenarios: list[Scenario], device: str | torch.device = "cpu") -> MetricBatch:
    """Pad the logs and map data of `scenarios` into one batch."""
    if not scenarios:
        raise ValueError("build_batch needs at least one scenario")
    logs = [scenario_log(s) for s in scenarios]
    n = max(len(lg.object_id) for lg in logs)
    e = max(lg.num_eval for lg in logs)
    dev = torch.device(device)

    def t(name, fill=0.0):
        return torch.from_numpy(_pad_stack([getattr(lg, name) for lg in logs], n, fill)).to(dev)

    eval_mask = np.zeros((len(logs), e), bool)
    for i, lg in enumerate(logs):
        eval_mask[i, : lg.num_eval] = True
    types = _pad_stack([lg.object_type for lg in logs], n, -1)[:, :e]
    return MetricBatch(
        scenario_ids=[lg.scenario_id for lg in logs],
        object_id=t("object_id", -1),
        track_index=t("track_index", -1),
        agent_mask=torch.from_numpy(
            _pad_stack([np.ones(len(lg.object_id), bool) for lg in logs], n, False)
        ).to(dev),
        eval_mask=torch.from_numpy(eval_mask).to(dev),
        is_vehicle=torch.from_numpy((types == int(AgentType.VEHICLE)) & eval_mask).to(dev),
        x=t("x"),
        y=t("y"),
        z=t("z"),
        heading=t("heading"),
        length=t("length"),
        width=t("width"),
        height=t("height"),
        valid=t("valid", False),
        road_edges=road_edges_from_scenario(scenarios, dev),
        signals=signal_lanes_from_scenario(scenarios, dev),
        logs=logs,
    )


def stack_rollouts(
    logs: list[ScenarioLog], rollouts: list[Rollouts], device: str | torch.device = "cpu"
) -> torch.Tensor:
    """[S, R, N, 80, 4] f32 futures aligned to the batch order (padded agents are zeros)."""
    aligned = [align_rollouts(lg, ro) for lg, ro in zip(logs, rollouts, strict=True)]
    r = {a.shape[0] for a in aligned}
    if len(r) != 1:
        raise DataError(None, f"scenarios in one batch have different rollout counts {sorted(r)}")
    n = max(len(lg.object_id) for lg in logs)
    out = np.zeros((len(aligned), aligned[0].shape[0], n, NUM_FUTURE_STEPS, 4), np.float32)
    for i, a in enumerate(aligned):
        out[i, :, : a.shape[1]] = a
    return torch.from_numpy(out).to(device)
