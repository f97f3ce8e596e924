"""Reference policies: simple rollouts that anchor the WOSAC scores (and reproduce the goldens).

Definitions follow `shared/data/wosac/README.md` exactly, so the arrays are bit-identical to the
golden submissions:
- `logged_oracle`: the logged future of every sim agent (raw values at invalid steps), repeated.
- `constant_velocity`: displacement (x,y,z)[10] − (x,y,z)[9] (0 if step 9 is invalid) per step,
  pos[10+k] = pos[10] + k·disp in float64 on the float32-rounded log positions, cast to float32;
  heading frozen at step 10.
- `stationary`: every agent keeps its step-10 pose.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from smartr1.data.rollouts import Rollouts
from smartr1.data.scenario import Scenario
from smartr1.data.timeline import NUM_FUTURE_STEPS

RolloutFn = Callable[[Scenario, int], Rollouts]


def _sim_agents(scenario: Scenario):
    idx = scenario.sim_agent_index()
    return idx, scenario.tracks.id[idx].astype(np.int64)


def _repeat(scenario: Scenario, ids, x, y, z, h, num_rollouts: int) -> Rollouts:
    def rep(a):
        return np.repeat(np.asarray(a, np.float32)[None], num_rollouts, axis=0)

    return Rollouts(scenario.scenario_id, ids, rep(x), rep(y), rep(z), rep(h))


def logged_oracle(scenario: Scenario, num_rollouts: int = 32) -> Rollouts:
    idx, ids = _sim_agents(scenario)
    t = scenario.tracks
    fut = slice(scenario.current_step + 1, scenario.current_step + 1 + NUM_FUTURE_STEPS)
    return _repeat(
        scenario, ids, t.x[idx, fut], t.y[idx, fut], t.z[idx, fut], t.heading[idx, fut], num_rollouts
    )


def constant_velocity(scenario: Scenario, num_rollouts: int = 32) -> Rollouts:
    idx, ids = _sim_agents(scenario)
    t, cur = scenario.tracks, scenario.current_step
    k = np.arange(1, NUM_FUTURE_STEPS + 1, dtype=np.float64)
    prev_ok = t.valid[idx, cur - 1]
    out = []
    for arr in (t.x, t.y, t.z):
        # Positions are float32 first (as the official trajectories hold them), then float64 math.
        now = arr[idx, cur].astype(np.float32).astype(np.float64)
        disp = np.where(prev_ok, now - arr[idx, cur - 1].astype(np.float32).astype(np.float64), 0.0)
        out.append(now[:, None] + k[None] * disp[:, None])
    h = np.repeat(t.heading[idx, cur][:, None], NUM_FUTURE_STEPS, axis=1)
    return _repeat(scenario, ids, *out, h, num_rollouts)


def stationary(scenario: Scenario, num_rollouts: int = 32) -> Rollouts:
    idx, ids = _sim_agents(scenario)
    t, cur = scenario.tracks, scenario.current_step

    def hold(arr):
        return np.repeat(np.asarray(arr[idx, cur], np.float32)[:, None], NUM_FUTURE_STEPS, axis=1)

    return _repeat(scenario, ids, hold(t.x), hold(t.y), hold(t.z), hold(t.heading), num_rollouts)


REFERENCE_POLICIES: dict[str, RolloutFn] = {
    "constant-velocity": constant_velocity,
    "logged-oracle": logged_oracle,
    "stationary": stationary,
}


def policy_key(name: str) -> str:
    """The canonical spelling of a policy name (`Constant_Velocity` -> `constant-velocity`)."""
    return str(name).strip().lower().replace("_", "-")


def reference_policy(name: str) -> RolloutFn:
    """Look a reference policy up by name (`logged-oracle`, `constant-velocity`, `stationary`)."""
    key = policy_key(name)
    if key not in REFERENCE_POLICIES:
        raise ValueError(f"unknown reference policy {name!r}; known: {sorted(REFERENCE_POLICIES)}")
    return REFERENCE_POLICIES[key]
