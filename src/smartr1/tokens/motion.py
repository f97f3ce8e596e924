"""Motion tokens: per-class vocabularies of 0.5 s motions, tokenizing logged tracks and detokenizing.

Time layout (91 steps at 10 Hz, current step 10): token slot k (0..17) moves an agent from step 5k to
step 5k + 5; anchors are steps 0, 5, ..., 90 (19). History = slots 0, 1; future = slots 2..17.

A token is a 5-step motion stored in the frame of its start pose. Tokens are compared by the mean
corner distance of the end box (fixed box per class), which measures position and heading at once.
Tokenizing places every candidate at the previous *tokenized* pose, so each slot corrects the error
left by the previous one instead of compounding it (as long as the vocabulary holds a motion that
reaches the log). Heading flips are removed and late-appearing agents back-filled first (`clean_tracks`).
Track cleaning runs in NumPy, matching in torch (chunked, any device).
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from smartr1.data.errors import DataError
from smartr1.data.scenario import AgentType, Scenario
from smartr1.data.tfrecord import atomic_write_bytes
from smartr1.tokens.geometry import box_corners, to_local, to_world
from smartr1.tokens.kdisk import fill_gaps, kdisk_cluster

STEPS_PER_TOKEN = 5
NUM_SLOTS = 18
NUM_ANCHORS = NUM_SLOTS + 1
HISTORY_SLOTS = 2
AGENT_CLASSES = 3
CLASS_NAMES = ("vehicle", "pedestrian", "cyclist")
# Fixed (length, width) boxes used for clustering and matching, per class.
CLASS_BOX = torch.tensor([[4.8, 2.0], [1.0, 1.0], [2.0, 1.0]], dtype=torch.float32)
NO_MOTION = 0  # token id of 'stay put' in every class
DEFAULT_VOCAB_SIZE = 512
FLIP_THRESHOLD = 1.5  # rad between consecutive valid steps
STEP_SECONDS = 0.1
FORMAT_VERSION = 1


@contextmanager
def torch_threads(n: int = 1) -> Iterator[None]:
    """Temporarily limit torch's intra-op threads. Tokenizing is many small ops, for which extra
    threads only add synchronisation (badly so on a busy machine); restored on exit."""
    old = torch.get_num_threads()
    if old != n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if old != n:
            torch.set_num_threads(old)


_TYPE_TO_CLASS = np.zeros(256, np.int64)
_TYPE_TO_CLASS[int(AgentType.PEDESTRIAN)] = 1
_TYPE_TO_CLASS[int(AgentType.CYCLIST)] = 2


def agent_class(womd_type):
    """WOMD AgentType -> 0 vehicle / 1 pedestrian / 2 cyclist ('unset' and 'other' count as vehicles)."""
    if isinstance(womd_type, torch.Tensor):
        t = womd_type.long()
        out = torch.zeros_like(t)
        out[t == int(AgentType.PEDESTRIAN)] = 1
        out[t == int(AgentType.CYCLIST)] = 2
        return out
    return _TYPE_TO_CLASS[np.asarray(womd_type).astype(np.int64) & 0xFF]


# --------------------------------------------------------------------------------------------- vocab
@dataclass
class MotionVocab:
    """Per class a vocabulary of V 0.5 s motions, stored in the frame of the start pose."""

    poses: torch.Tensor  # [3, V, 5, 3] float32: (x, y, heading) after 1..5 steps, local frame
    contours: torch.Tensor  # [3, V, 4, 2]: box corners of the END pose (fixed class box), local frame
    size: int  # V
    config: dict = field(default_factory=dict)  # how it was built (JSON-able)

    def __post_init__(self):
        v = self.poses.shape[1]
        if self.poses.shape != (AGENT_CLASSES, v, STEPS_PER_TOKEN, 3) or v != self.size:
            raise ValueError(
                f"vocab poses have shape {tuple(self.poses.shape)}, expected [3, {self.size}, 5, 3]"
            )

    @classmethod
    def from_poses(cls, poses: torch.Tensor, config: dict | None = None) -> MotionVocab:
        poses = poses.float()
        contours = box_corners(poses[:, :, -1], CLASS_BOX[:, None, 0], CLASS_BOX[:, None, 1])
        return cls(poses=poses, contours=contours, size=int(poses.shape[1]), config=dict(config or {}))

    def to(self, device) -> MotionVocab:
        return MotionVocab(self.poses.to(device), self.contours.to(device), self.size, self.config)

    @property
    def device(self) -> torch.device:
        return self.poses.device

    @property
    def hash(self) -> str:
        h = hashlib.sha256()
        h.update(f"motion-vocab-v{FORMAT_VERSION}:{self.size}:".encode())
        h.update(self.poses.detach().cpu().float().contiguous().numpy().tobytes())
        return h.hexdigest()[:16]

    def save(self, path) -> None:
        buf = io.BytesIO()
        payload = {
            "format": FORMAT_VERSION,
            "poses": self.poses.detach().cpu().float(),
            "size": self.size,
            "config": self.config,
            "hash": self.hash,
        }
        torch.save(payload, buf)
        atomic_write_bytes(path, [buf.getvalue()])

    @classmethod
    def load(cls, path) -> MotionVocab:
        try:
            d = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any unreadable file is bad input
            raise DataError(path, f"not a readable motion vocabulary ({e})") from e
        if not isinstance(d, dict) or d.get("format") != FORMAT_VERSION or "poses" not in d:
            raise DataError(path, f"not a motion vocabulary of format {FORMAT_VERSION}")
        vocab = cls.from_poses(d["poses"], d.get("config"))
        if d.get("hash") and d["hash"] != vocab.hash:
            raise DataError(
                path, f"vocabulary content hash {vocab.hash} does not match the stored {d['hash']}"
            )
        return vocab


# ------------------------------------------------------------------------------------ track cleaning
# NumPy here: these are many small per-step operations, where torch's per-op overhead dominates.
def _wrap(a: np.ndarray) -> np.ndarray:
    return (a + np.pi) % (2 * np.pi) - np.pi


@dataclass
class CleanTracks:
    """Tracks as float64 arrays with flips removed and (optionally) gaps filled."""

    pose: np.ndarray  # [A, T, 3] float64 (x, y, heading)
    valid: np.ndarray  # [A, T] bool, after filling
    logged: np.ndarray  # [A, T] bool, the original validity
    cls: np.ndarray  # [A] int64


def remove_flips(heading: np.ndarray, valid: np.ndarray, threshold: float = FLIP_THRESHOLD) -> np.ndarray:
    """Keep the previous heading wherever it jumps by more than `threshold` from the previous valid step."""
    h = np.array(heading, np.float64, copy=True)
    last = h[:, 0].copy()
    seen = valid[:, 0].copy()
    for t in range(1, h.shape[1]):
        v = valid[:, t]
        jump = seen & v & (np.abs(_wrap(h[:, t] - last)) > threshold)
        h[:, t] = np.where(jump, last, h[:, t])
        last = np.where(v, h[:, t], last)
        seen |= v
    return h


def _fill_interior(pose: np.ndarray, valid: np.ndarray, lo: int, hi: int) -> None:
    """In place: interpolate invalid steps in [lo, hi) with valid steps on both sides inside the range."""
    v = valid[:, lo:hi]
    n = v.shape[1]
    t = np.broadcast_to(np.arange(n), v.shape)
    prev = np.maximum.accumulate(np.where(v, t, -1), axis=1)
    nxt = np.minimum.accumulate(np.where(v, t, n)[:, ::-1], axis=1)[:, ::-1]
    gap = ~v & (prev >= 0) & (nxt < n)
    if not gap.any():
        return
    p = pose[:, lo:hi]
    rows = np.arange(len(p))[:, None]
    a, b = p[rows, prev.clip(0, n - 1)], p[rows, nxt.clip(0, n - 1)]
    w = ((t - prev) / np.maximum(nxt - prev, 1))[..., None]
    lerp = a + w * (b - a)
    lerp[..., 2] = _wrap(a[..., 2] + w[..., 0] * _wrap(b[..., 2] - a[..., 2]))
    pose[:, lo:hi] = np.where(gap[..., None], lerp, p)
    valid[:, lo:hi] = v | gap


def _start_velocity(pose, valid, vel, rows, src, direction):
    """Velocity at `src` per row: the logged one if non-zero, else the finite difference with a neighbour."""
    v = vel[rows, src]
    nb = np.clip(src + direction, 0, pose.shape[1] - 1)
    nb_ok = valid[rows, nb] & (nb != src)
    diff = (pose[rows, nb, :2] - pose[rows, src, :2]) * direction / STEP_SECONDS
    use_diff = (np.abs(v).sum(-1) == 0) & nb_ok
    return np.where(use_diff[:, None], diff, v)


def _extrapolate(pose, valid, vel, rows, src, fill):
    """In place: constant-velocity poses from step `src` [R] at the steps where `fill` [R, T] is set."""
    dt = (np.arange(pose.shape[1])[None] - src[:, None]) * STEP_SECONDS  # [R, T]
    p0 = pose[rows, src]  # [R, 3]
    ext = np.stack(
        [
            p0[:, None, 0] + vel[:, None, 0] * dt,
            p0[:, None, 1] + vel[:, None, 1] * dt,
            np.broadcast_to(p0[:, None, 2], dt.shape),
        ],
        -1,
    )
    pose[rows] = np.where(fill[..., None], ext, pose[rows])
    valid[rows] |= fill


def clean_tracks(scenario: Scenario, fill_future: bool = False) -> CleanTracks:
    """Flip-free poses; history back-filled (constant velocity) and interior history gaps interpolated.

    With `fill_future`, agents valid at the current step also get interior future gaps interpolated and
    trailing gaps extrapolated at constant velocity (complete futures, for tokenized-log rollouts).
    """
    tr = scenario.tracks
    cur = scenario.current_step
    sid = scenario.scenario_id
    if tr.num_agents == 0:
        raise DataError(None, f"scenario {sid!r}: has no agents")
    logged = np.asarray(tr.valid, bool).copy()
    pose = np.stack([tr.x, tr.y, tr.heading], axis=-1).astype(np.float64)
    bad = ~np.isfinite(pose).all(-1) & logged
    if bad.any():
        a, t = np.argwhere(bad)[0]
        raise DataError(None, f"scenario {sid!r}: non-finite pose of track {int(tr.id[a])} at step {int(t)}")
    pose = np.where(logged[..., None], pose, 0.0)
    pose[..., 2] = remove_flips(pose[..., 2], logged)
    vel = np.stack([tr.velocity_x, tr.velocity_y], -1).astype(np.float64)
    vel = np.where(np.isfinite(vel), vel, 0.0)
    valid = logged.copy()
    t_n = pose.shape[1]
    steps = np.arange(t_n)[None]
    # Interior history gaps, then constant-velocity back-fill of agents first seen mid-history.
    _fill_interior(pose, valid, 0, cur + 1)
    first = np.where(valid.any(1), valid.argmax(1), t_n)
    late = np.flatnonzero((first > 0) & (first <= cur))
    if late.size:
        f = first[late]
        v = _start_velocity(pose, valid, vel, late, f, direction=1)
        _extrapolate(pose, valid, v, late, f, steps < f[:, None])
    if fill_future:
        sim = np.flatnonzero(valid[:, cur])
        p2, v2 = pose[sim], valid[sim]
        _fill_interior(p2, v2, cur, t_n)
        pose[sim], valid[sim] = p2, v2
        last = t_n - 1 - valid[:, ::-1].argmax(1)
        rows = sim[last[sim] < t_n - 1]
        if rows.size:
            src = last[rows]
            v = _start_velocity(pose, valid, vel, rows, src, direction=-1)
            _extrapolate(pose, valid, v, rows, src, steps > src[:, None])
    return CleanTracks(pose=pose, valid=valid, logged=logged, cls=agent_class(tr.type))


# -------------------------------------------------------------------------------- matching / chaining
def _gather_class(table: torch.Tensor, cls: torch.Tensor, candidates: torch.Tensor | None) -> torch.Tensor:
    # table [3, V, ...] -> [N, V or K, ...]
    if candidates is None:
        return table[cls]
    return table[cls[:, None], candidates]


def _brute_force(target, cls, vocab, cand, chunk_elems) -> torch.Tensor:
    """Exact argmin of the mean corner distance over all tokens (or the candidates) per row."""
    width = vocab.size if cand is None else cand.shape[1]
    step = max(1, chunk_elems // (width * 8))
    out = []
    for i in range(0, target.shape[0], step):
        c = cls[i : i + step]
        cont = _gather_class(vocab.contours, c, None if cand is None else cand[i : i + step])  # [n, W, 4, 2]
        d = torch.linalg.vector_norm(cont - target[i : i + step, None], dim=-1).mean(-1)
        best = d.argmin(-1)
        out.append(best if cand is None else cand[i : i + step].gather(1, best[:, None])[:, 0])
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long, device=target.device)


def _prefiltered(target, cls, vocab, chunk_elems, k: int = 32) -> torch.Tensor:
    """Exact argmin via an RMS-corner-distance prefilter (one matrix product per class).

    For any token, mean corner distance m and RMS corner distance r satisfy m <= r <= 2m. After
    ranking by r and scoring the k best exactly (best m*), a token outside them can only win if its r
    is below 2 m*; rows where the k-th r is not above that bound are re-solved by brute force.
    """
    out = torch.empty(target.shape[0], dtype=torch.long, device=target.device)
    k = min(k, vocab.size)
    flat_t = target.reshape(-1, 8).double()
    _prefiltered.unsure = 0
    for c in cls.unique().tolist():
        rows = torch.nonzero(cls == c).flatten()
        cont = vocab.contours[c].reshape(-1, 8).double()  # [V, 8]
        c_sq = (cont**2).sum(-1)
        step = max(1, chunk_elems // vocab.size)
        for i in range(0, rows.numel(), step):
            r_i = rows[i : i + step]
            t = flat_t[r_i]
            # squared L2 over the 8 coordinates = 4 * RMS^2 (float64: the expansion cancels digits)
            t_sq = (t**2).sum(-1, keepdim=True)
            sq = torch.addmm(c_sq[None] + t_sq, t, cont.T, alpha=-2.0)
            sq_k, idx = torch.topk(sq, k, dim=-1, largest=False)  # ascending
            cand = vocab.contours[c][idx]  # [n, k, 4, 2]
            m = torch.linalg.vector_norm(cand - target[r_i, None], dim=-1).mean(-1)
            m_best, j = m.min(-1)
            best = idx.gather(1, j[:, None])[:, 0]
            # A token outside the k can win only if its RMS < 2 m*, i.e. sq < 16 m*^2, up to the
            # rounding of sq (relative to the magnitudes: a winner has |c| <= |t| + 4 m*) and of m.
            mb = m_best.double() * (1 + 1e-5) + 1e-7
            reach = t_sq[:, 0] + (t_sq[:, 0].sqrt() + 4 * mb) ** 2
            unsure = sq_k[:, -1] <= 16 * mb**2 + 1e-12 * reach
            if unsure.any() and k < vocab.size:
                u = torch.nonzero(unsure).flatten()
                _prefiltered.unsure += int(u.numel())
                best[u] = _brute_force(target[r_i[u]], cls[r_i[u]], vocab, None, chunk_elems)
            out[r_i] = best
    return out


def match_tokens(
    start_pose: torch.Tensor,
    target_pose: torch.Tensor,
    agent_class: torch.Tensor,
    vocab: MotionVocab,
    candidates: torch.Tensor | None = None,
    chunk_elems: int = 1 << 22,
    exact_search: bool = False,
) -> torch.Tensor:
    """The token (among `candidates` [..., K] if given, else all V) whose end box, placed at `start_pose`
    [..., 3], is closest (mean corner distance, class box) to the box at `target_pose` [..., 3].

    Ties resolve to the lowest token id (or the first candidate). Searching all V uses an exact
    prefilter; `exact_search` forces the plain brute force (same answer up to float ties).
    """
    lead = start_pose.shape[:-1]
    local = to_local(target_pose.double(), start_pose.double()).reshape(-1, 3)
    cls = agent_class.reshape(-1).long().to(vocab.device)
    box = CLASS_BOX.to(vocab.device)[cls]
    target = box_corners(local, box[:, 0].double(), box[:, 1].double()).float().to(vocab.device)  # [N, 4, 2]
    if target.shape[0] == 0:
        return torch.zeros(lead, dtype=torch.long, device=vocab.device)
    if candidates is not None:
        cand = candidates.reshape(-1, candidates.shape[-1]).long().to(vocab.device)
        tok = _brute_force(target, cls, vocab, cand, chunk_elems)
    elif exact_search or vocab.size <= 64:
        tok = _brute_force(target, cls, vocab, None, chunk_elems)
    else:
        tok = _prefiltered(target, cls, vocab, chunk_elems)
    return tok.reshape(lead)


def apply_tokens(
    start_pose: torch.Tensor, tokens: torch.Tensor, agent_class: torch.Tensor, vocab: MotionVocab
) -> torch.Tensor:
    """Chain K tokens [..., K] from `start_pose` [..., 3]: the 10 Hz poses after each step [..., K * 5, 3].

    Negative ids (padding) mean 'no motion'.
    """
    k = tokens.shape[-1]
    cls = agent_class.long().to(vocab.device)
    pose = start_pose
    out = []
    for j in range(k):
        tok = tokens[..., j].long().clamp(min=0).to(vocab.device)
        local = vocab.poses[cls, tok].to(pose.dtype)  # [..., 5, 3]
        world = to_world(local, pose[..., None, :])
        out.append(world)
        pose = world[..., -1, :]
    if not out:
        return start_pose.new_zeros(*start_pose.shape[:-1], 0, 3)
    return torch.cat(out, dim=-2)


# ---------------------------------------------------------------------------------------- tokenizing
@dataclass
class AgentTokens:
    """Logged tracks of one scenario, tokenized. A = all tracks of the scenario, in track order."""

    token: torch.Tensor  # [A, 18] long, token id per slot, -1 where not valid
    valid: torch.Tensor  # [A, 18] bool, slot has a token (agent valid at both ends, after back-fill)
    pose: torch.Tensor  # [A, 19, 3] float32, TOKENIZED pose (x, y, heading) at anchors
    agent_class: torch.Tensor  # [A] long
    size: torch.Tensor  # [A, 3] float32, (length, width, height) at the current step (or last valid)
    z: torch.Tensor  # [A] float32, z at the current step (or last valid)
    # Added fields (beyond the agreed contract):
    agent_id: torch.Tensor = None  # [A] long, WOMD track id
    pose_valid: torch.Tensor = None  # [A, 19] bool, anchor has a pose (tokenized, or re-anchored to the log)
    sim_mask: torch.Tensor = None  # [A] bool, valid at the current step (WOSAC sim agents)
    train_mask: torch.Tensor = None  # [A] bool, role agents + nearest agents with enough valid future

    @property
    def num_agents(self) -> int:
        return int(self.token.shape[0])


TRAIN_RADIUS = 100.0  # m around the SDC
TRAIN_MAX_NEARBY = 32
TRAIN_MIN_FUTURE_SLOTS = 8


def train_agents(scenario: Scenario, sim: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Role agents (SDC, tracks_to_predict, objects of interest) that are sim agents, plus up to 32 other
    sim agents within 100 m of the SDC with at least 8 valid future slots, nearest first."""
    tr = scenario.tracks
    a = tr.num_agents
    role = np.zeros(a, bool)
    role[scenario.sdc_track_index] = True
    role[np.asarray(scenario.tracks_to_predict, np.int64)] = True
    role |= np.isin(tr.id, np.asarray(scenario.objects_of_interest, np.int64))
    role_t = torch.from_numpy(role) & sim
    cur = scenario.current_step
    sdc = scenario.sdc_track_index
    dist = torch.from_numpy(np.hypot(tr.x[:, cur] - tr.x[sdc, cur], tr.y[:, cur] - tr.y[sdc, cur]))
    enough = valid[:, HISTORY_SLOTS:].sum(1) >= TRAIN_MIN_FUTURE_SLOTS
    cand = sim & ~role_t & enough & (dist <= TRAIN_RADIUS)
    idx = torch.nonzero(cand).flatten()
    idx = idx[torch.argsort(dist[idx], stable=True)][:TRAIN_MAX_NEARBY]
    out = role_t.clone()
    out[idx] = True
    return out


def _attribute_at_current(values: np.ndarray, valid: np.ndarray, cur: int) -> np.ndarray:
    """[A, T] -> [A] value at the current step, else at the last valid step (0 if never valid)."""
    t_n = valid.shape[1]
    last = t_n - 1 - np.argmax(valid[:, ::-1], axis=1)
    idx = np.where(valid[:, cur], cur, last)
    out = values[np.arange(len(idx)), idx]
    return np.where(valid.any(1), out, 0)


def tokenize_scenario(scenario: Scenario, vocab: MotionVocab, fill_future: bool = False) -> AgentTokens:
    """Tokenize every track slot by slot from the previous tokenized pose (see module docstring).

    A slot is valid when both its anchors are valid after history back-fill. After an invalid slot the
    chain restarts at the logged pose of the next valid anchor. `fill_future` completes the futures of
    sim agents first (see `clean_tracks`).
    """
    ct = clean_tracks(scenario, fill_future=fill_future)
    a = ct.pose.shape[0]
    anchors = np.arange(NUM_ANCHORS) * STEPS_PER_TOKEN
    logged_pose = torch.from_numpy(ct.pose[:, anchors])  # [A, 19, 3] float64
    anchor_ok = torch.from_numpy(ct.valid[:, anchors])  # [A, 19]
    slot_ok = anchor_ok[:, :-1] & anchor_ok[:, 1:]
    cls = torch.from_numpy(ct.cls)
    pose = torch.zeros(a, NUM_ANCHORS, 3, dtype=torch.float64)
    have = torch.zeros(a, NUM_ANCHORS, dtype=torch.bool)
    token = torch.full((a, NUM_SLOTS), -1, dtype=torch.long)
    vocab_cpu = vocab if vocab.device.type == "cpu" else vocab.to("cpu")
    for k in range(NUM_SLOTS):
        restart = ~have[:, k] & anchor_ok[:, k]
        pose[:, k] = torch.where(restart[:, None], logged_pose[:, k], pose[:, k])
        have[:, k] |= restart
        rows = torch.nonzero(slot_ok[:, k]).flatten()
        if rows.numel() == 0:
            continue
        start = pose[rows, k]
        tok = match_tokens(start, logged_pose[rows, k + 1], cls[rows], vocab_cpu)
        token[rows, k] = tok
        end_local = vocab_cpu.poses[cls[rows], tok, -1].double()
        pose[rows, k + 1] = to_world(end_local, start)
        have[rows, k + 1] = True
    tr = scenario.tracks
    cur = scenario.current_step
    lv = np.asarray(tr.valid, bool)
    size = np.stack(
        [_attribute_at_current(np.asarray(getattr(tr, k)), lv, cur) for k in ("length", "width", "height")],
        -1,
    )
    z = _attribute_at_current(np.asarray(tr.z), lv, cur)
    sim = torch.from_numpy(lv[:, cur].copy())
    return AgentTokens(
        token=token,
        valid=slot_ok,
        pose=pose.float(),
        agent_class=cls,
        size=torch.from_numpy(size.astype(np.float32)),
        z=torch.from_numpy(z.astype(np.float32)),
        agent_id=torch.from_numpy(np.asarray(tr.id, np.int64)),
        pose_valid=have,
        sim_mask=sim,
        train_mask=train_agents(scenario, sim, slot_ok),
    )


def detokenize(tokens: AgentTokens, vocab: MotionVocab) -> tuple[torch.Tensor, torch.Tensor]:
    """10 Hz poses [A, 91, 3] float64 reconstructed from the tokens, and where they exist [A, 91] bool."""
    a = tokens.num_agents
    start = tokens.pose[:, :NUM_SLOTS].double()  # [A, 18, 3]
    cls = tokens.agent_class[:, None].expand(a, NUM_SLOTS)
    steps = apply_tokens(start, tokens.token[..., None], cls, vocab)  # [A, 18, 5, 3]
    out = torch.zeros(a, NUM_SLOTS * STEPS_PER_TOKEN + 1, 3, dtype=torch.float64)
    ok = torch.zeros(a, NUM_SLOTS * STEPS_PER_TOKEN + 1, dtype=torch.bool)
    out[:, 0] = tokens.pose[:, 0].double()
    ok[:, 0] = tokens.pose_valid[:, 0] if tokens.pose_valid is not None else tokens.valid[:, 0]
    body = out[:, 1:].view(a, NUM_SLOTS, STEPS_PER_TOKEN, 3)
    body[:] = torch.where(tokens.valid[..., None, None], steps, body)
    ok[:, 1:] = tokens.valid[:, :, None].expand(a, NUM_SLOTS, STEPS_PER_TOKEN).reshape(a, -1)
    # anchors that start a chain after an invalid slot
    if tokens.pose_valid is not None:
        anchors = torch.arange(NUM_ANCHORS) * STEPS_PER_TOKEN
        restart = tokens.pose_valid & ~ok[:, anchors]
        out[:, anchors] = torch.where(restart[..., None], tokens.pose[:, :].double(), out[:, anchors])
        ok[:, anchors] |= restart
    return out, ok


# ----------------------------------------------------------------------------------- vocab building
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
        loc = np.stack([co * dx + si * dy, -si * dx + co * dy, _wrap(w[:, 1:, 2] - w[:, :1, 2])], -1)
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


__all__ = [
    "AGENT_CLASSES",
    "CLASS_BOX",
    "CLASS_NAMES",
    "DEFAULT_VOCAB_SIZE",
    "NO_MOTION",
    "NUM_SLOTS",
    "STEPS_PER_TOKEN",
    "AgentTokens",
    "MotionVocab",
    "agent_class",
    "apply_tokens",
    "build_vocab",
    "clean_tracks",
    "constant_vocab",
    "detokenize",
    "extract_segments",
    "match_tokens",
    "tokenize_scenario",
]
