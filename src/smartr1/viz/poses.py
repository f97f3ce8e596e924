"""Agent poses per step for drawing: the logged tracks, or the log's history followed by one rollout.

Kept separate from the drawing code so it can be checked without matplotlib.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from smartr1.data.errors import DataError
from smartr1.data.rollouts import Rollouts
from smartr1.data.scenario import Scenario


@dataclass
class Poses:
    """Boxes of the A scenario tracks over T drawn steps (track order, all tracks of the scenario)."""

    x: np.ndarray  # [A, T] float64, box centre
    y: np.ndarray  # [A, T] float64
    heading: np.ndarray  # [A, T] float64, radians
    length: np.ndarray  # [A, T] float64
    width: np.ndarray  # [A, T] float64
    valid: np.ndarray  # [A, T] bool
    simulated: bool  # steps after the current one come from a rollout

    @property
    def num_steps(self) -> int:
        return int(self.valid.shape[1])


def check_drawable(scenario: Scenario, where: str | None = None) -> None:
    """Raise a clear DataError for a scenario that has nothing to draw."""
    tr = scenario.tracks
    if tr.num_agents == 0:
        raise DataError(where, f"scenario {scenario.scenario_id!r} has no agents to draw")
    if tr.valid.ndim != 2 or tr.num_steps == 0 or not tr.valid.any():
        raise DataError(where, f"scenario {scenario.scenario_id!r} has no valid agent state at any step")
    if not 0 <= scenario.current_step < tr.num_steps:
        raise DataError(
            where,
            f"scenario {scenario.scenario_id!r}: current step {scenario.current_step} outside 0..{tr.num_steps - 1}",
        )


def logged_poses(scenario: Scenario) -> Poses:
    tr = scenario.tracks
    return Poses(
        x=np.asarray(tr.x, np.float64),
        y=np.asarray(tr.y, np.float64),
        heading=np.asarray(tr.heading, np.float64),
        length=np.asarray(tr.length, np.float64),
        width=np.asarray(tr.width, np.float64),
        valid=np.asarray(tr.valid, bool),
        simulated=False,
    )


def rollout_track_index(scenario: Scenario, rollouts: Rollouts) -> np.ndarray:
    """[A_rollout] scenario track index of each rollout agent; raises if an id is unknown."""
    if rollouts.scenario_id != scenario.scenario_id:
        raise DataError(
            None, f"rollouts are for scenario {rollouts.scenario_id!r}, not {scenario.scenario_id!r}"
        )
    lookup = {int(i): k for k, i in enumerate(scenario.tracks.id)}
    missing = [int(i) for i in rollouts.object_id if int(i) not in lookup]
    if missing:
        raise DataError(
            None, f"rollouts of {scenario.scenario_id!r} name object ids not in the scenario: {missing[:5]}"
        )
    return np.array([lookup[int(i)] for i in rollouts.object_id], np.int64)


def rollout_poses(scenario: Scenario, rollouts: Rollouts, rollout_index: int = 0) -> Poses:
    """History from the log up to the current step, then rollout `rollout_index`.

    Agents that the rollouts do not simulate are hidden after the current step; simulated agents keep
    their box size from the last valid logged step up to the current one.
    """
    if not 0 <= rollout_index < rollouts.num_rollouts:
        raise DataError(
            None,
            f"rollout index {rollout_index} out of range: {scenario.scenario_id!r} has "
            f"{rollouts.num_rollouts} rollouts",
        )
    idx = rollout_track_index(scenario, rollouts)
    log = logged_poses(scenario)
    cur = scenario.current_step
    fut = rollouts.x.shape[2]
    steps = cur + 1 + fut
    a = scenario.tracks.num_agents

    def extend(arr: np.ndarray, fill) -> np.ndarray:
        out = np.full((a, steps), fill, arr.dtype)
        n = min(cur + 1, arr.shape[1])
        out[:, :n] = arr[:, :n]
        return out

    x, y, h = extend(log.x, 0.0), extend(log.y, 0.0), extend(log.heading, 0.0)
    length, width = extend(log.length, 0.0), extend(log.width, 0.0)
    valid = extend(log.valid, False)
    valid[:, cur + 1 :] = False

    x[idx, cur + 1 :] = rollouts.x[rollout_index]
    y[idx, cur + 1 :] = rollouts.y[rollout_index]
    h[idx, cur + 1 :] = rollouts.heading[rollout_index]
    valid[idx, cur + 1 :] = True
    # Box size: last valid logged value at or before the current step.
    hist_valid = log.valid[idx, : cur + 1]
    last = np.where(hist_valid.any(1), cur - np.argmax(hist_valid[:, ::-1], axis=1), cur)
    length[idx, cur + 1 :] = log.length[idx, last][:, None]
    width[idx, cur + 1 :] = log.width[idx, last][:, None]
    return Poses(x=x, y=y, heading=h, length=length, width=width, valid=valid, simulated=True)


def view_center(scenario: Scenario, poses: Poses | None = None) -> tuple[float, float]:
    """SDC position at the current step, else the mean of the agents valid then, else of all valid."""
    p = poses or logged_poses(scenario)
    cur = scenario.current_step
    sdc = scenario.sdc_track_index
    if 0 <= sdc < p.valid.shape[0] and p.valid[sdc, cur]:
        return float(p.x[sdc, cur]), float(p.y[sdc, cur])
    now = p.valid[:, cur]
    if now.any():
        return float(p.x[now, cur].mean()), float(p.y[now, cur].mean())
    return float(p.x[p.valid].mean()), float(p.y[p.valid].mean())
