"""Reactive sim agents: the model moves every agent it is not told about, closed loop, at 10 Hz.

The model thinks in 0.5 s tokens. At the start of each token slot every agent the caller does not
drive gets its next token from the model (top-k sampling, as in `simulate`); the five 10 Hz poses of
that token are handed out one per `step`. Agents the caller drives (`controlled`) go exactly where
the caller puts them; at the end of the slot their motion is turned into the token that best matches
it, and the model's next decoder step sees them at their true pose with that token, as it would see
any agent. Only agents valid at the scenario's current step take part (the WOSAC sim agents).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from smartr1.data.scenario import Scenario
from smartr1.data.timeline import STEPS_PER_TOKEN
from smartr1.model.checkpoint import load_model
from smartr1.model.smart import SMART
from smartr1.rollout.sampling import DEFAULT_TOP_K
from smartr1.rollout.session import RolloutSession, RolloutState, TopKSampler
from smartr1.tokens.batch import token_batch
from smartr1.tokens.matching import match_tokens
from smartr1.tokens.vocabulary import MotionVocab

Pose = tuple[float, float, float]  # x, y, heading (m, m, rad)


class SimAgents:
    def __init__(
        self,
        model: SMART,
        vocab: MotionVocab,
        device: str | torch.device = "cpu",
        top_k: int = DEFAULT_TOP_K,
        temperature: float = 1.0,
        seed: int = 0,
    ):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.vocab = vocab.to(self.device)
        self.top_k, self.temperature, self.seed = top_k, temperature, seed
        self._state: RolloutState | None = None

    @classmethod
    def from_checkpoint(cls, path_or_name: str, device: str = "cpu", **options) -> SimAgents:
        """A checkpoint file, or the name of a shipped one (e.g. `smartr1-nano-sumo`)."""
        model, vocab = load_model(path_or_name, map_location=device)
        return cls(model, vocab, device, **options)

    # ---- state ----------------------------------------------------------------------------------
    @property
    def agent_ids(self) -> list[int]:
        """The simulated agents (valid at the scenario's current step), in track order."""
        return list(self._ids)

    @property
    def step_index(self) -> int:
        """The scenario step the returned poses are at (10 right after `reset`, 90 at the end)."""
        return self._t

    @property
    def done(self) -> bool:
        return self._state is not None and self._state.done

    def _poses(self, pose: torch.Tensor) -> dict[int, np.ndarray]:
        p = pose.double().cpu().numpy()
        return {i: p[j] for i, j in self._col.items()}

    # ---- stepping ---------------------------------------------------------------------------------
    @torch.no_grad()
    def reset(self, scenario: Scenario) -> dict[int, np.ndarray]:
        """Start from the scenario's history; returns every sim agent's pose at the current step."""
        batch = token_batch([scenario], self.vocab).to(self.device)
        self._session = RolloutSession(self.model, num_rollouts=1, start="logged")
        self._state = self._session.reset(batch)
        scene = self._state.scene
        cols = scene.cols[0].tolist()
        self._ids = [int(batch.agents.id[0, c]) for c in cols if c >= 0]
        self._col = {i: j for j, i in enumerate(self._ids)}
        self._sampler = TopKSampler(scene, seed=self.seed, top_k=self.top_k, temperature=self.temperature)
        self._t = self._t_start = scenario.current_step
        self._plan()
        return self._poses(self._state.pose[0])

    def _plan(self) -> None:
        """The model's tokens for the slot now starting, and their 10 Hz poses."""
        st = self._state
        self._tokens = self._sampler(st, st.logits)  # [1, A']
        self._steps = self.model.token_poses(st.pose, self._tokens, st.scene.agent_class)  # [1, A', 5, 3]
        a = st.pose.shape[1]
        self._driven = torch.zeros(1, a, dtype=torch.bool, device=self.device)
        self._driven_poses = self._steps.clone()

    @torch.no_grad()
    def step(self, controlled: Mapping[int, Sequence[float]] | None = None) -> dict[int, np.ndarray]:
        """Advance 0.1 s. `controlled` = {agent_id: (x, y, heading[, speed])} for the agents you drive
        (speed is accepted and not needed: motion comes from consecutive poses). Returns every sim
        agent's (x, y, heading) after the step. An agent driven at one step of a 0.5 s slot is driven
        for the whole slot: at steps you leave it out it holds its last given pose."""
        if self._state is None:
            raise RuntimeError("call reset(scenario) first")
        if self.done:
            raise RuntimeError(f"the scenario ends at step {self._t}: the model has no more token slots")
        i = (self._t - self._t_start) % STEPS_PER_TOKEN  # index of the coming step in its slot
        for agent_id, value in (controlled or {}).items():
            if agent_id not in self._col:
                raise KeyError(
                    f"agent {agent_id} is not a sim agent of this scenario (valid at its current step)"
                )
            j = self._col[agent_id]
            if not self._driven[0, j]:
                start = self._state.pose[0, j] if i == 0 else self._driven_poses[0, j, i - 1]
                self._driven_poses[0, j, :i] = start  # taken over mid-slot: held until now
            self._driven[0, j] = True
            self._driven_poses[0, j, i:] = torch.tensor([float(v) for v in value[:3]], device=self.device)
        now = torch.where(self._driven[..., None], self._driven_poses[:, :, i], self._steps[:, :, i])
        self._t += 1
        if i == STEPS_PER_TOKEN - 1:
            self._end_slot()
        return self._poses(now[0])

    def _end_slot(self) -> None:
        st = self._state
        driven, poses = self._driven, self._driven_poses
        matched = match_tokens(st.pose, poses[:, :, -1], st.scene.agent_class, self.vocab)
        tokens = torch.where(driven, matched, self._tokens)
        self._state, _ = self._session.step(st, lambda s, lg: tokens, driven=(driven, poses))
        if not self._state.done:
            self._plan()
