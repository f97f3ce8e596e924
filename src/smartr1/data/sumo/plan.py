"""Planning a generation run from (seed, num) alone: world quotas, world seeds, shard names.

Because the plan depends on nothing else, the output does not depend on the number of workers or on
scheduling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from smartr1.data.sumo.windows import WindowConfig
from smartr1.data.sumo.world import TINY, WorldSize


@dataclass(frozen=True)
class GenerateConfig:
    warmup_s: float = 150.0  # the network starts empty
    per_world: int = 50  # scenarios per world at most (more worlds = more map variety)
    min_worlds: int = 2  # small runs still use two worlds (two cores)
    stride_steps: int = 30  # a new window every 3 s
    sdcs_per_window: int = 2  # SDCs per window, at least `sdc_spread` m apart
    sdc_spread: float = 100.0
    reuse_gap: int = 3  # an SDC is not reused within this many windows
    max_attempts: int = 5
    max_record_factor: float = 3.0  # give up on a world after this many times the planned recording
    gridlock_halted: float = 0.9  # fraction of standing vehicles that counts as gridlock
    inject_crash: tuple[int, int] | None = None  # (world, attempt) whose worker dies; tests only
    size: WorldSize = field(default_factory=WorldSize)
    window: WindowConfig = field(default_factory=WindowConfig)


def tiny_config(**overrides) -> GenerateConfig:
    """Small, quick worlds (tests, smoke runs)."""
    base = dict(warmup_s=40.0, per_world=6, min_worlds=1, size=TINY, sdc_spread=40.0)
    base.update(overrides)
    return GenerateConfig(**base)


def plan_worlds(num: int, cfg: GenerateConfig) -> list[int]:
    """Scenario quota of each world (depends on num and cfg only)."""
    if num <= 0:
        return []
    n = max(math.ceil(num / cfg.per_world), min(cfg.min_worlds, num))
    base, extra = divmod(num, n)
    return [base + (1 if i < extra else 0) for i in range(n)]


def world_seed(seed: int, world: int, attempt: int) -> int:
    return int(np.random.SeedSequence([seed, world, attempt]).generate_state(1)[0])


def shard_name(seed: int, world: int) -> str:
    return f"sumo-s{seed}-w{world:04d}.tfrecord"


@dataclass
class WorldResult:
    world: int
    world_seed: int
    layout: str
    scenarios: int
    path: str
    failures: list[str]  # one message per failed attempt
    seconds: dict[str, float]  # build, warmup, record, cut, write, total
    recorded_s: float
    teleports: int
    agents: list[int]  # tracks per scenario
    valid_now: list[int]  # tracks valid at the current step per scenario
    by_type: dict[str, list[int]]  # tracks per scenario by agent type
