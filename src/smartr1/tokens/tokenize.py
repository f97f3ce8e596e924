"""Tokenizing logged tracks slot by slot, and detokenizing tokens back to 10 Hz poses.

Tokenizing places every candidate at the previous *tokenized* pose, so each slot corrects the error
left by the previous one instead of compounding it (as long as the vocabulary holds a motion that
reaches the log). Heading flips are removed and late-appearing agents back-filled first
(`smartr1.tokens.cleaning`). The time grid (slots, anchors) is `smartr1.data.timeline`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from smartr1.data.geometry import to_world
from smartr1.data.scenario import Scenario
from smartr1.data.timeline import NUM_ANCHORS, NUM_SLOTS, STEPS_PER_TOKEN
from smartr1.tokens.cleaning import clean_tracks
from smartr1.tokens.matching import apply_tokens, match_tokens
from smartr1.tokens.vocabulary import MotionVocab


@dataclass
class AgentTokens:
    """Logged tracks of one scenario, tokenized. A = all tracks of the scenario, in track order."""

    token: torch.Tensor  # [A, 18] long, token id per slot, -1 where not valid
    valid: torch.Tensor  # [A, 18] bool, slot has a token (agent valid at both ends, after back-fill)
    pose: torch.Tensor  # [A, 19, 3] float32, TOKENIZED pose (x, y, heading) at anchors
    agent_class: torch.Tensor  # [A] long
    size: torch.Tensor  # [A, 3] float32, (length, width, height) at the current step (or last valid)
    z: torch.Tensor  # [A] float32, z at the current step (or last valid)
    agent_id: torch.Tensor  # [A] long, WOMD track id
    pose_valid: torch.Tensor  # [A, 19] bool, anchor has a pose (tokenized, or re-anchored to the log)
    sim_mask: torch.Tensor  # [A] bool, valid at the current step (WOSAC sim agents)
    logged: torch.Tensor  # [A, 19, 3] float32, LOGGED pose at anchors (flip-free; zeros where not logged)
    logged_valid: torch.Tensor  # [A, 19] bool, the log is valid at the anchor (no back-fill)

    @property
    def num_agents(self) -> int:
        return int(self.token.shape[0])


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
    at_anchor = ct.logged[:, anchors]
    logged = np.where(at_anchor[..., None], ct.pose[:, anchors], 0.0).astype(np.float32)
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
        logged=torch.from_numpy(logged),
        logged_valid=torch.from_numpy(at_anchor.copy()),
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
    ok[:, 0] = tokens.pose_valid[:, 0]
    body = out[:, 1:].view(a, NUM_SLOTS, STEPS_PER_TOKEN, 3)
    body[:] = torch.where(tokens.valid[..., None, None], steps, body)
    ok[:, 1:] = tokens.valid[:, :, None].expand(a, NUM_SLOTS, STEPS_PER_TOKEN).reshape(a, -1)
    # anchors that start a chain after an invalid slot
    anchors = torch.arange(NUM_ANCHORS) * STEPS_PER_TOKEN
    restart = tokens.pose_valid & ~ok[:, anchors]
    out[:, anchors] = torch.where(restart[..., None], tokens.pose.double(), out[:, anchors])
    ok[:, anchors] |= restart
    return out, ok
