"""Every problem of a scenario, listed: what later stages cannot use, found in one pass.

`check_scenario` raises on these when reading (womd.py); `smartr1 validate` prints all of them for
every record of a file (`womd.scenario_file_problems`), so a user fixes a file once instead of once
per problem.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from smartr1.data.errors import DataError
from smartr1.data.scenario import Scenario

FINITE_FIELDS = ("x", "y", "z", "heading", "length", "width", "height")
SIZE_FIELDS = ("length", "width", "height")


def _first(mask: np.ndarray, t) -> str:
    a, step = np.argwhere(mask)[0]
    more = int(mask.sum()) - 1
    return f"at track {int(t.id[a])}, step {int(step)}" + (f" (and {more} more)" if more else "")


def scenario_problems(s: Scenario) -> list[str]:
    """All problems of one scenario, each prefixed with `scenario '<id>':`; empty when usable."""
    return [f"scenario {s.scenario_id!r}: {p}" for p in _problems(s)]


def _problems(s: Scenario) -> list[str]:
    t = s.tracks
    out: list[str] = []
    if not isinstance(s.scenario_id, str) or not s.scenario_id:
        out.append("scenario_id is not set or not valid UTF-8 text")
    steps = t.num_steps
    if steps == 0:  # no timestamps and no track states: nothing to simulate (and no current step)
        out.append("no step at all (no timestamps, and the tracks have no states)")
    elif not 0 <= s.current_step < steps:
        out.append(f"current step {s.current_step} outside the {steps} steps of the tracks")
    elif t.num_agents == 0 or not t.valid[:, s.current_step].any():
        out.append(f"no agent is valid at the current step {s.current_step}")
    if t.num_agents and not 0 <= s.sdc_track_index < t.num_agents:
        out.append(f"sdc_track_index {s.sdc_track_index} out of range")
    ids, counts = np.unique(t.id, return_counts=True)
    if (counts > 1).any():
        out.append(f"duplicate track ids {ids[counts > 1][:10].tolist()}")
    for name in FINITE_FIELDS:
        bad = ~np.isfinite(getattr(t, name)) & t.valid
        if bad.any():
            out.append(f"non-finite {name} {_first(bad, t)}")
    for name in SIZE_FIELDS:
        with np.errstate(invalid="ignore"):
            bad = (getattr(t, name) < 0) & t.valid
        if bad.any():
            out.append(f"negative {name} {_first(bad, t)}")
    if not np.isfinite(s.timestamps).all():
        out.append("non-finite timestamps")
    bad_pts = ~np.isfinite(s.map.points).all(axis=1)
    if bad_pts.any():
        feats = np.unique(np.searchsorted(s.map.offsets, np.flatnonzero(bad_pts), side="right") - 1)
        out.append(f"non-finite map point in feature(s) {s.map.id[feats][:10].tolist()}")
    sig = s.signals
    if sig.valid.size and not np.isfinite(sig.stop_point[sig.valid]).all():
        out.append("non-finite traffic-signal stop point")
    return out


def check_scenario(s: Scenario, path: str | Path | None = None, record: int | None = None) -> Scenario:
    """The scenario itself, or a `DataError` naming every problem (see `scenario_problems`)."""
    problems = _problems(s)
    if problems:
        raise DataError(path, f"scenario {s.scenario_id!r}: " + "; ".join(problems), record)
    return s
