"""Speed and acceleration of simulated vs logged agents over the 8 s horizon, per agent type.

The realism meta-metric can be won by a model that stops (stopping is cheap on collisions and
offroad), so these profiles make a stalling or racing model visible at a glance. Speeds are finite
differences of consecutive 10 Hz positions (the logged step 10 starts the simulated futures), so
simulated and logged agents are measured the same way; logged steps count only where both ends are
valid. "Moving vehicles" are vehicles above 3 m/s at the current step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from smartr1.data.rollouts import Rollouts
from smartr1.data.scenario import AgentType, Scenario
from smartr1.data.timeline import CURRENT_STEP, NUM_FUTURE_STEPS, STEP_SECONDS

GROUPS = ("vehicle", "moving_vehicle", "pedestrian", "cyclist")
MOVING_SPEED = 3.0  # m/s at the current step
STOPPED_SPEED = 0.5  # m/s: below this an agent counts as stopped
SPEED_BINS = np.linspace(0.0, 25.0, 51)
ACCEL_BINS = np.linspace(-8.0, 8.0, 65)
SECONDS = NUM_FUTURE_STEPS // 10  # 8


def _group_masks(types: np.ndarray, speed_now: np.ndarray) -> dict[str, np.ndarray]:
    veh = types == int(AgentType.VEHICLE)
    return {
        "vehicle": veh,
        "moving_vehicle": veh & (speed_now > MOVING_SPEED),
        "pedestrian": types == int(AgentType.PEDESTRIAN),
        "cyclist": types == int(AgentType.CYCLIST),
    }


def _speeds(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """[..., T] positions -> [..., T-1] speeds between consecutive steps."""
    return np.hypot(np.diff(x, axis=-1), np.diff(y, axis=-1)) / STEP_SECONDS


def scenario_samples(scenario: Scenario, rollouts: Rollouts) -> dict:
    """Per group: simulated speeds [R, n, 80] and accelerations [R, n, 79], logged ones with validity."""
    t = scenario.tracks
    idx = scenario.sim_agent_index()
    col = {int(o): i for i, o in enumerate(rollouts.object_id.tolist())}
    order = np.array([col[int(i)] for i in t.id[idx]], np.int64)
    cur, fut = CURRENT_STEP, slice(CURRENT_STEP, CURRENT_STEP + NUM_FUTURE_STEPS + 1)
    lx, ly, lv = t.x[idx][:, fut], t.y[idx][:, fut], t.valid[idx][:, fut]
    log_speed = _speeds(lx, ly)  # [n, 80]
    log_ok = lv[:, 1:] & lv[:, :-1]
    sx = np.concatenate(
        [np.broadcast_to(lx[None, :, :1], (rollouts.num_rollouts, len(idx), 1)), rollouts.x[:, order]], -1
    )
    sy = np.concatenate(
        [np.broadcast_to(ly[None, :, :1], (rollouts.num_rollouts, len(idx), 1)), rollouts.y[:, order]], -1
    )
    sim_speed = _speeds(sx.astype(np.float64), sy.astype(np.float64))  # [R, n, 80]
    prev_ok = t.valid[idx, cur - 1]
    speed_now = np.where(
        prev_ok,
        np.hypot(t.x[idx, cur] - t.x[idx, cur - 1], t.y[idx, cur] - t.y[idx, cur - 1]) / STEP_SECONDS,
        0.0,
    )
    out = {}
    for name, m in _group_masks(t.type[idx], speed_now).items():
        out[name] = {
            "sim_speed": sim_speed[:, m],
            "sim_accel": np.diff(sim_speed[:, m], axis=-1) / STEP_SECONDS,
            "log_speed": log_speed[m],
            "log_ok": log_ok[m],
            "log_accel": np.diff(log_speed[m], axis=-1) / STEP_SECONDS,
            "log_accel_ok": log_ok[m][:, 1:] & log_ok[m][:, :-1],
        }
    return out


def _hist(values: np.ndarray, bins: np.ndarray) -> list[float]:
    h, _ = np.histogram(np.clip(values, bins[0], bins[-1]), bins)
    return (h / max(1, h.sum())).tolist()


def kinematic_profiles(scenarios: Iterable[Scenario], rollouts_by_id: Mapping[str, Rollouts]) -> dict:
    """{group: {agents, per_second: {sim_mean, log_mean, ratio, sim_stopped, log_stopped}, histograms}}.

    `per_second[k]` averages the 10 steps of second k + 1 of the horizon (over rollouts and agents;
    logged values over valid steps). `ratio` = simulated / logged mean speed.
    """
    acc: dict[str, dict[str, list]] = {
        g: {k: [] for k in ("ss", "sa", "ls", "lo", "la", "lao")} for g in GROUPS
    }
    for sc in scenarios:
        for g, d in scenario_samples(sc, rollouts_by_id[sc.scenario_id]).items():
            a = acc[g]
            a["ss"].append(d["sim_speed"].transpose(1, 0, 2))  # [n, R, 80]
            a["sa"].append(d["sim_accel"].transpose(1, 0, 2))
            a["ls"].append(d["log_speed"])
            a["lo"].append(d["log_ok"])
            a["la"].append(d["log_accel"])
            a["lao"].append(d["log_accel_ok"])
    out = {}
    for g, a in acc.items():
        if not a["ss"] or sum(len(v) for v in a["ls"]) == 0:
            out[g] = {"agents": 0}
            continue
        ss, sa = np.concatenate(a["ss"]), np.concatenate(a["sa"])  # [N, R, 80]
        ls, lo = np.concatenate(a["ls"]), np.concatenate(a["lo"])  # [N, 80]
        la, lao = np.concatenate(a["la"]), np.concatenate(a["lao"])
        per = []
        for k in range(SECONDS):
            sl = slice(10 * k, 10 * k + 10)
            sim_mean = float(ss[..., sl].mean())
            log_vals = ls[:, sl][lo[:, sl]]
            log_mean = float(log_vals.mean()) if log_vals.size else float("nan")
            per.append({
                "second": k + 1,
                "sim_mean": sim_mean,
                "log_mean": log_mean,
                "ratio": sim_mean / log_mean if log_vals.size and log_mean > 0 else float("nan"),
                "sim_stopped": float((ss[..., sl] < STOPPED_SPEED).mean()),
                "log_stopped": float((log_vals < STOPPED_SPEED).mean()) if log_vals.size else float("nan"),
            })  # fmt: skip
        out[g] = {
            "agents": int(ss.shape[0]),
            "per_second": per,
            "sim_mean_speed": float(ss.mean()),
            "log_mean_speed": float(ls[lo].mean()) if lo.any() else float("nan"),
            "speed_bins": SPEED_BINS.tolist(),
            "accel_bins": ACCEL_BINS.tolist(),
            "sim_speed_hist": _hist(ss.ravel(), SPEED_BINS),
            "log_speed_hist": _hist(ls[lo], SPEED_BINS),
            "sim_accel_hist": _hist(sa.ravel(), ACCEL_BINS),
            "log_accel_hist": _hist(la[lao], ACCEL_BINS),
            "sim_speed_p50_p90": np.percentile(ss, [50, 90]).tolist(),
            "log_speed_p50_p90": np.percentile(ls[lo], [50, 90]).tolist() if lo.any() else [],
        }
    return out
