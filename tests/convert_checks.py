"""Helpers shared by the `smartr1 convert` tests: the metric's own road-edge distance of logged boxes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from smartr1.data.foreign.convert import ConvertSummary, convert
from smartr1.data.scenario import Scenario
from smartr1.data.womd import read_scenarios, scenario_file_problems
from smartr1.metrics.map_features import distance_to_road_edge, road_edges_from_scenario


def road_distance(s: Scenario, agents: np.ndarray) -> np.ndarray:
    """[len(agents), 91] signed distance of the logged boxes to the road edges (> 0 = offroad), as
    WOSAC computes it; -1e10 at invalid steps."""
    t = s.tracks

    def f(a):
        return torch.tensor(np.asarray(a[agents], np.float32))[None]

    valid = torch.tensor(t.valid[agents])[None]
    edges = road_edges_from_scenario([s])
    d = distance_to_road_edge(
        f(t.x), f(t.y), f(t.z), f(t.heading), f(t.length), f(t.width), f(t.height), valid, edges
    )
    return d[0].numpy()


def convert_sample(fmt: str, source: Path, out: Path) -> tuple[ConvertSummary, list[Scenario]]:
    """Convert a shared sample folder and check the file the way `smartr1 validate` does."""
    summary = convert(fmt, [source], out, progress=False)
    records, problems = scenario_file_problems([out])
    assert records == summary.scenarios and problems == []
    return summary, list(read_scenarios(out))
