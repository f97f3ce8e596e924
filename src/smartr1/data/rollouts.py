"""Simulated futures of one scenario: what a policy produces and what WOSAC scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from smartr1.data.timeline import NUM_FUTURE_STEPS


@dataclass
class Rollouts:
    """R joint rollouts of the A sim agents (those valid at the current step) over the 80 future steps.

    Matches the official `ScenarioRollouts` message: positions are box centres, heading in radians,
    float32, steps 11..90 of the scenario.
    """

    scenario_id: str
    object_id: np.ndarray  # [A] int64
    x: np.ndarray  # [R, A, 80] float32
    y: np.ndarray  # [R, A, 80] float32
    z: np.ndarray  # [R, A, 80] float32
    heading: np.ndarray  # [R, A, 80] float32

    @property
    def num_rollouts(self) -> int:
        return int(self.x.shape[0])

    @property
    def num_agents(self) -> int:
        return int(self.object_id.shape[0])

    def __post_init__(self):
        self.object_id = np.asarray(self.object_id, np.int64)
        for k in ("x", "y", "z", "heading"):
            setattr(self, k, np.asarray(getattr(self, k), np.float32))
        shape = self.x.shape
        if len(shape) != 3 or shape[1] != self.object_id.shape[0]:
            raise ValueError(
                f"rollouts of {self.scenario_id}: x has shape {shape}, expected "
                f"[rollouts, {self.object_id.shape[0]} agents, {NUM_FUTURE_STEPS} steps]"
            )
        for k in ("y", "z", "heading"):
            if getattr(self, k).shape != shape:
                raise ValueError(
                    f"rollouts of {self.scenario_id}: {k} has shape {getattr(self, k).shape}, x {shape}"
                )
