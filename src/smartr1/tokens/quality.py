"""How much a vocabulary loses: tokenization error of logged tracks, and tokenized-log rollouts.

The rollouts replay each sim agent's logged future through its tokens (futures completed by
interpolation / constant velocity first), so scoring them with the WOSAC metric against the logged
oracle isolates the realism lost to the vocabulary alone.
"""

from __future__ import annotations

import numpy as np
import torch

from smartr1.data.rollouts import Rollouts
from smartr1.data.scenario import Scenario
from smartr1.data.timeline import NUM_FUTURE_STEPS
from smartr1.tokens.tokenize import detokenize, tokenize_scenario
from smartr1.tokens.vocabulary import CLASS_NAMES, MotionVocab


def agent_errors(scenario: Scenario, vocab: MotionVocab) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per agent ADE (m) of the detokenized track vs the log over logged-valid steps that have a
    reconstruction, its agent class, and the max position error. Agents without such steps get NaN."""
    tok = tokenize_scenario(scenario, vocab)
    pose, ok = detokenize(tok, vocab)
    tr = scenario.tracks
    logged = torch.from_numpy(np.asarray(tr.valid, bool))
    m = logged & ok
    err = torch.hypot(pose[..., 0] - torch.from_numpy(tr.x), pose[..., 1] - torch.from_numpy(tr.y))
    err = torch.where(m, err, torch.zeros_like(err))
    n = m.sum(1)
    ade = torch.where(n > 0, err.sum(1) / n.clamp(min=1), torch.full_like(err[:, 0], float("nan")))
    mx = torch.where(n > 0, err.max(1).values, torch.full_like(err[:, 0], float("nan")))
    return ade.numpy(), tok.agent_class.numpy(), mx.numpy()


def error_summary(scenarios, vocab: MotionVocab) -> dict:
    """{class: {agents, ade_mean, ade_p95, max_err_p95}} in metres, over all agents of all scenarios."""
    ades, classes, maxes = [], [], []
    for s in scenarios:
        a, c, m = agent_errors(s, vocab)
        ades.append(a)
        classes.append(c)
        maxes.append(m)
    ade, cls, mx = np.concatenate(ades), np.concatenate(classes), np.concatenate(maxes)
    out = {}
    for c, name in enumerate(CLASS_NAMES):
        sel = (cls == c) & np.isfinite(ade)
        if sel.any():
            out[name] = {
                "agents": int(sel.sum()),
                "ade_mean": float(ade[sel].mean()),
                "ade_p95": float(np.percentile(ade[sel], 95)),
                "max_err_p95": float(np.percentile(mx[sel], 95)),
            }
    sel = np.isfinite(ade)
    out["all"] = {
        "agents": int(sel.sum()),
        "ade_mean": float(ade[sel].mean()) if sel.any() else float("nan"),
        "ade_p95": float(np.percentile(ade[sel], 95)) if sel.any() else float("nan"),
        "max_err_p95": float(np.percentile(mx[sel], 95)) if sel.any() else float("nan"),
    }
    return out


def _logged_z(scenario: Scenario, rows: np.ndarray) -> np.ndarray:
    """[R, 80] logged future z, linearly interpolated over invalid steps (held beyond the ends)."""
    tr = scenario.tracks
    cur = scenario.current_step
    steps = np.arange(tr.num_steps)
    out = np.empty((len(rows), NUM_FUTURE_STEPS))
    for i, a in enumerate(rows):
        ok = np.asarray(tr.valid[a], bool)
        out[i] = np.interp(steps[cur + 1 : cur + 1 + NUM_FUTURE_STEPS], steps[ok], np.asarray(tr.z[a])[ok])
    return out


def tokenized_log_rollouts(
    scenario: Scenario, vocab: MotionVocab, num_rollouts: int = 32, z: str = "held", invalid: str = "filled"
) -> Rollouts:
    """The sim agents' logged futures, tokenized and detokenized, as `num_rollouts` identical rollouts.

    `z="held"` keeps the current-step z (as our policies do); `z="logged"` uses the logged z, so that
    only x, y and heading go through the vocabulary. At steps where the log is invalid, `invalid="filled"`
    keeps the tokenized completion (interpolation / constant velocity), `invalid="raw"` copies the raw
    logged values like the official logged-oracle submission, so that a comparison with the oracle
    differs only where the log is valid.
    """
    tok = tokenize_scenario(scenario, vocab, fill_future=True)
    pose, ok = detokenize(tok, vocab)
    cur = scenario.current_step
    sim = np.flatnonzero(np.asarray(scenario.tracks.valid)[:, cur])
    fut = pose[sim, cur + 1 : cur + 1 + NUM_FUTURE_STEPS].numpy()  # [A, 80, 3]
    if not ok[sim, cur + 1 : cur + 1 + NUM_FUTURE_STEPS].all():
        raise AssertionError("sim agents must have complete tokenized futures after filling")
    if invalid == "raw":
        tr = scenario.tracks
        sl = slice(cur + 1, cur + 1 + NUM_FUTURE_STEPS)
        bad = ~np.asarray(tr.valid, bool)[sim, sl]
        raw = np.stack([tr.x[sim, sl], tr.y[sim, sl], tr.heading[sim, sl]], -1)
        fut = np.where(bad[..., None], raw, fut)
    elif invalid != "filled":
        raise ValueError(f"invalid must be 'filled' or 'raw', not {invalid!r}")
    if z == "logged":
        z_fut = _logged_z(scenario, sim)
    elif z == "held":
        z_fut = np.repeat(np.asarray(scenario.tracks.z)[sim, cur][:, None], NUM_FUTURE_STEPS, 1)
    else:
        raise ValueError(f"z must be 'held' or 'logged', not {z!r}")

    def rep(a):
        return np.repeat(a[None].astype(np.float32), num_rollouts, 0)

    return Rollouts(
        scenario_id=scenario.scenario_id,
        object_id=np.asarray(scenario.tracks.id)[sim],
        x=rep(fut[..., 0]),
        y=rep(fut[..., 1]),
        z=rep(z_fut),
        heading=rep(fut[..., 2]),
    )
