"""Building a motion vocabulary: k-disk clustering of logged 5-step motions per class, topped up with
smooth synthetic motions the data does not cover."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable

import numpy as np
import torch

from smartr1.data.geometry import box_corners, wrap_angle
from smartr1.data.scenario import Scenario
from smartr1.data.threads import torch_threads
from smartr1.data.timeline import STEP_SECONDS, STEPS_PER_TOKEN
from smartr1.tokens.cleaning import clean_tracks
from smartr1.tokens.kdisk import fill_gaps, kdisk_cluster
from smartr1.tokens.vocabulary import AGENT_CLASSES, CLASS_BOX, CLASS_NAMES, DEFAULT_VOCAB_SIZE, MotionVocab


def extract_segments(scenario: Scenario) -> list[torch.Tensor]:
    """Per class [N, 5, 3] local-frame 5-step motions from every start step with 6 logged valid steps."""
    ct = clean_tracks(scenario)
    n = STEPS_PER_TOKEN + 1
    t_n = ct.pose.shape[1]
    idx = np.arange(t_n - n + 1)[:, None] + np.arange(n)  # [W, 6]
    win_ok = ct.logged[:, idx].all(-1)  # [A, W]; only real observations, no back-filled motion
    out = []
    for c in range(AGENT_CLASSES):
        a, w0 = np.nonzero(win_ok & (ct.cls == c)[:, None])
        w = ct.pose[a[:, None], idx[w0]]  # [N, 6, 3]
        dx, dy = w[:, 1:, 0] - w[:, :1, 0], w[:, 1:, 1] - w[:, :1, 1]
        co, si = np.cos(w[:, :1, 2]), np.sin(w[:, :1, 2])
        loc = np.stack([co * dx + si * dy, -si * dx + co * dy, wrap_angle(w[:, 1:, 2] - w[:, :1, 2])], -1)
        out.append(torch.from_numpy(loc.astype(np.float32)))
    return out


# Physical limits for synthetic 'prior' motions: max speed m/s, max |accel| m/s^2, max lateral accel m/s^2,
# max yaw rate rad/s, share of motions not along the heading (vehicles / cyclists: reversing at <= 3 m/s;
# pedestrians: any direction, as their logged heading often differs from where they walk).
PRIOR_POOL = 8192  # synthetic candidates per class for the prior tokens
_PRIOR_LIMITS = ((30.0, 4.0, 4.0, 0.8, 0.1), (3.0, 1.5, 2.0, 2.0, 0.3), (12.0, 2.5, 3.0, 1.2, 0.05))


def prior_segments(c: int, n: int, gen: torch.Generator) -> torch.Tensor:
    """[n, 5, 3] smooth constant-acceleration, constant-yaw-rate motions of class c within physical limits."""
    vmax, amax, latmax, wmax, off_share = _PRIOR_LIMITS[c]
    u = torch.rand(n, 5, generator=gen, dtype=torch.float64)
    speed = vmax * u[:, 0] ** 2  # more slow than fast motion
    acc = amax * (2 * u[:, 1] - 1)
    wlim = torch.minimum(torch.full_like(speed, wmax), latmax / speed.clamp(min=0.5))
    yaw = wlim * (2 * u[:, 2] - 1)
    off = u[:, 3] < off_share  # motion direction differs from the heading
    if c == 1:
        delta = torch.where(off, (2 * u[:, 4] - 1) * torch.pi, torch.zeros_like(speed))
    else:
        delta = torch.where(off, torch.full_like(speed, torch.pi), torch.zeros_like(speed))
        speed = torch.where(off, speed.clamp(max=3.0), speed)
        acc = torch.where(off, acc.clamp(-1.0, 1.0), acc)
    pose = torch.zeros(n, 3, dtype=torch.float64)
    out = []
    for _ in range(STEPS_PER_TOKEN):
        h_mid = pose[:, 2] + yaw * STEP_SECONDS / 2 + delta
        v_mid = (speed + acc * STEP_SECONDS / 2).clamp(min=0)
        pose = torch.stack(
            [
                pose[:, 0] + v_mid * torch.cos(h_mid) * STEP_SECONDS,
                pose[:, 1] + v_mid * torch.sin(h_mid) * STEP_SECONDS,
                pose[:, 2] + yaw * STEP_SECONDS,
            ],
            -1,
        )
        speed = (speed + acc * STEP_SECONDS).clamp(min=0)
        out.append(pose)
    return torch.stack(out, 1).float()


def _disk_means(seg: np.ndarray, members: list[torch.Tensor]) -> np.ndarray:
    """Mean motion of every disk: seg [N, 5, 3], members per disk -> [D, 5, 3] (circular mean heading)."""
    d = len(members)
    if d == 0:
        return np.zeros((0, STEPS_PER_TOKEN, 3))
    idx = torch.cat(members).numpy()
    lab = np.repeat(np.arange(d), [len(m) for m in members])
    count = np.bincount(lab, minlength=d)[:, None]
    sel = seg[idx].astype(np.float64)  # [n, 5, 3]

    def sums(v):  # [n, 5] -> [D, 5]
        return np.stack([np.bincount(lab, v[:, k], minlength=d) for k in range(STEPS_PER_TOKEN)], -1)

    x, y = sums(sel[..., 0]) / count, sums(sel[..., 1]) / count
    h = np.arctan2(sums(np.sin(sel[..., 2])), sums(np.cos(sel[..., 2])))
    return np.stack([x, y, h], -1)


def build_vocab(
    scenarios: Iterable[Scenario],
    size: int = DEFAULT_VOCAB_SIZE,
    seed: int = 0,
    max_segments: int = 200_000,
    coverage: float = 0.995,
    prior_fraction: float = 1 / 8,
    cluster_on: str = "end",
    stats: dict | None = None,
) -> MotionVocab:
    """k-disk clustering of local-frame 5-step segments per class; deterministic for a seed.

    Up to `max_segments` segments per class are drawn (seeded) from the scenarios. Token 0 is 'no
    motion' (its disk removes near-stationary segments first). Up to `size - 1 - prior_fraction * size`
    tokens are disk means, with the disk radius the smallest whose disks cover `coverage` of the
    segments (see `kdisk`). The remaining tokens are smooth synthetic motions within physical limits
    (`prior_segments`) that the data tokens do not cover, picked by the same k-disk cover (`fill_gaps`):
    they keep the vocabulary able to follow motions the data lacked (e.g. fast vehicles when built
    from a car park) and fill classes with little data. `stats`, if given, receives per-class counts, radius, coverage and timing.
    """
    if size < 2:
        raise ValueError("vocabulary size must be at least 2")
    with torch_threads(1):
        return _build_vocab(scenarios, size, seed, max_segments, coverage, prior_fraction, cluster_on, stats)


def _build_vocab(
    scenarios, size, seed, max_segments, coverage, prior_fraction, cluster_on, stats
) -> MotionVocab:
    t0 = time.perf_counter()
    per_class: list[list[torch.Tensor]] = [[] for _ in range(AGENT_CLASSES)]
    num_scenarios = 0
    for s in scenarios:
        for c, seg in enumerate(extract_segments(s)):
            if seg.numel():
                per_class[c].append(seg)
        num_scenarios += 1
    t_extract = time.perf_counter() - t0
    gen = torch.Generator().manual_seed(int(seed))
    poses = np.zeros((AGENT_CLASSES, size, STEPS_PER_TOKEN, 3))
    info = {"scenarios": num_scenarios, "extract_s": t_extract, "classes": {}}
    n_prior_min = min(size - 1, int(round(prior_fraction * size)))
    for c in range(AGENT_CLASSES):
        seg = torch.cat(per_class[c]) if per_class[c] else torch.zeros(0, STEPS_PER_TOKEN, 3)
        real = int(seg.shape[0])
        if real > max_segments:
            seg = seg[torch.randperm(real, generator=gen)[:max_segments]]
        box = CLASS_BOX[c]
        if cluster_on == "end":
            feat = box_corners(seg[:, -1], box[0], box[1])  # [N, 4, 2] end boxes
            zero = box_corners(torch.zeros(3), box[0], box[1])
        elif cluster_on == "all":
            feat = box_corners(seg, box[0], box[1]).reshape(
                -1, 4 * STEPS_PER_TOKEN, 2
            )  # boxes after 1..5 steps
            zero = box_corners(torch.zeros(STEPS_PER_TOKEN, 3), box[0], box[1]).reshape(-1, 2)
        else:
            raise ValueError(f"cluster_on must be 'end' or 'all', not {cluster_on!r}")
        t1 = time.perf_counter()
        res = kdisk_cluster(feat, size - 1 - n_prior_min, coverage, seed=seed + 7919 * c, first_centre=zero)
        data_tokens = _disk_means(seg.numpy(), res.members)
        n_prior = size - 1 - len(data_tokens)
        pool = prior_segments(c, max(4 * n_prior, PRIOR_POOL), gen)
        have = np.concatenate([np.zeros((1, STEPS_PER_TOKEN, 3)), data_tokens])
        have_feat = box_corners(torch.from_numpy(have[:, -1]).float(), box[0], box[1]).numpy()
        pool_feat = box_corners(pool[:, -1], box[0], box[1]).numpy()
        pick = fill_gaps(pool_feat, have_feat, n_prior, res.tol, seed=seed + 104729 * c)
        poses[c, 1:] = np.concatenate([data_tokens, pool.numpy()[pick]])
        info["classes"][CLASS_NAMES[c]] = {
            "segments": real,
            "used": int(seg.shape[0]),
            "data_tokens": len(data_tokens),
            "prior_tokens": n_prior,
            "tol_m": res.tol,
            "coverage": res.coverage,
            "cluster_s": time.perf_counter() - t1,
        }
    info["total_s"] = time.perf_counter() - t0
    config = {
        "size": size,
        "seed": seed,
        "max_segments": max_segments,
        "coverage": coverage,
        "prior_fraction": prior_fraction,
        "cluster_on": cluster_on,
        "class_box": CLASS_BOX.tolist(),
        "scenarios": num_scenarios,
        "segments": {k: v["segments"] for k, v in info["classes"].items()},
        "tol_m": {k: round(v["tol_m"], 5) for k, v in info["classes"].items()},
    }
    if stats is not None:
        stats.update(info)
    return MotionVocab.from_poses(torch.from_numpy(poses).float(), json.loads(json.dumps(config)))


def constant_vocab(size: int = 64) -> MotionVocab:
    """A data-free vocabulary of synthetic smooth motions (tests, smoke runs)."""
    gen = torch.Generator().manual_seed(0)
    poses = torch.zeros(AGENT_CLASSES, size, STEPS_PER_TOKEN, 3)
    for c in range(AGENT_CLASSES):
        poses[c, 1:] = prior_segments(c, size - 1, gen)
    return MotionVocab.from_poses(poses, {"size": size, "kind": "synthetic"})
