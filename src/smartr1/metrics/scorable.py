"""Which scenarios the WOSAC metric can score at all.

The map-based features measure distances to road edges; a scenario without a road edge of at least
two points (parts of the WOMD test split have no map) has no such distance, and the official metric
cannot score it. Such scenarios are still simulated and submitted; evaluation names and skips them.
"""

from __future__ import annotations

from smartr1.data.scenario import MapKind, Scenario

NO_ROAD_EDGE = "no road edge (the map-based metrics need one of at least 2 points)"


def unscorable_reason(scenario: Scenario) -> str | None:
    """Why the metric cannot score this scenario, or None when it can."""
    m = scenario.map
    lengths = m.offsets[1:] - m.offsets[:-1]
    edges = (m.kind == int(MapKind.ROAD_EDGE)) & (lengths >= 2)
    return None if edges.any() else NO_ROAD_EDGE
