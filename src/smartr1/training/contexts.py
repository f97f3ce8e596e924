"""The scenario side of the reward: each training scenario's metric context (its log features, map
tensors and masks), which the token cache does not keep.

Built once per scenario, on first use, from the scenario shards, and kept in memory (a whole shard at
a time, least recently used shards evicted beyond `max_scenarios`).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from smartr1.data.errors import DataError
from smartr1.data.threads import torch_threads
from smartr1.data.womd import expand_paths, read_scenarios
from smartr1.metrics.agent_credit import credit_context
from smartr1.metrics.scoring import ScenarioContext


class ScenarioContexts:
    def __init__(
        self,
        files,
        skip_bad: bool = False,
        device: str = "cpu",
        max_scenarios: int = 4096,
        evaluate: str = "official",
    ):
        """`evaluate="all"`: every simulated agent counts as evaluated (a training reward; see
        `metrics.agent_credit.credit_context`)."""
        self.files: list[Path] = expand_paths(files)
        self.skip_bad, self.device, self.max_scenarios = skip_bad, device, max_scenarios
        self.evaluate = evaluate
        self._shards: OrderedDict[int, dict[str, ScenarioContext]] = OrderedDict()
        self._where: dict[str, int] = {}  # scenario id -> shard index, for shards seen so far
        self._scanned = 0  # shards [0, _scanned) have been read at least once

    def _load(self, fi: int) -> dict[str, ScenarioContext]:
        if fi in self._shards:
            self._shards.move_to_end(fi)
            return self._shards[fi]
        with torch_threads(1):
            ctx = {
                s.scenario_id: credit_context([s], self.device, self.evaluate)
                for s in read_scenarios(self.files[fi], skip_bad=self.skip_bad)
            }
        for sid in ctx:
            self._where[sid] = fi
        self._shards[fi] = ctx
        while sum(len(v) for v in self._shards.values()) > self.max_scenarios and len(self._shards) > 1:
            self._shards.popitem(last=False)
        return ctx

    def get(self, scenario_id: str) -> ScenarioContext:
        """The context of one scenario (a batch of one)."""
        if scenario_id in self._where:
            return self._load(self._where[scenario_id])[scenario_id]
        while self._scanned < len(self.files):
            fi = self._scanned
            self._scanned += 1
            if scenario_id in self._load(fi):
                return self._shards[fi][scenario_id]
        raise DataError(None, f"scenario {scenario_id!r} is in none of {len(self.files)} training shards")
