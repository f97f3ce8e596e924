"""The scenario side of the reward: each training scenario's metric context (its log features, map
tensors and masks), which the token cache does not keep.

Built once per scenario, on first use, and kept in memory (least recently used ones evicted beyond
`max_scenarios`). Finding a scenario indexes its shards (ids and byte offsets, a cheap pass), so a
run that draws a few scenes from many shards builds the contexts of those scenes only.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from smartr1.data.errors import DataError
from smartr1.data.threads import torch_threads
from smartr1.data.womd import expand_paths, index_scenarios, read_scenario_at
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
        self._contexts: OrderedDict[str, ScenarioContext] = OrderedDict()
        self._where: dict[str, tuple[int, int, int]] = {}  # id -> (file, byte offset, record index)
        self._scanned = 0  # files [0, _scanned) are indexed

    def _build(self, scenario_id: str) -> ScenarioContext:
        fi, offset, index = self._where[scenario_id]
        with torch_threads(1):
            scenario = read_scenario_at(self.files[fi], offset, index)
            return credit_context([scenario], self.device, self.evaluate)

    def get(self, scenario_id: str) -> ScenarioContext:
        """The context of one scenario (a batch of one)."""
        if scenario_id in self._contexts:
            self._contexts.move_to_end(scenario_id)
            return self._contexts[scenario_id]
        while scenario_id not in self._where and self._scanned < len(self.files):
            fi = self._scanned
            self._scanned += 1
            for sid, offset, index in index_scenarios(self.files[fi], skip_bad=self.skip_bad):
                self._where.setdefault(sid, (fi, offset, index))
        if scenario_id not in self._where:
            raise DataError(None, f"scenario {scenario_id!r} is in none of {len(self.files)} training shards")
        ctx = self._contexts[scenario_id] = self._build(scenario_id)
        while len(self._contexts) > self.max_scenarios:
            self._contexts.popitem(last=False)
        return ctx
