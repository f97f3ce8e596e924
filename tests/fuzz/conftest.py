"""Fuzz tests: a short run in CI, the long one behind `-m fuzz_long` (counts in benchmarks/results/fuzz.md).

The marker is registered here, beside the fuzz tests. Long tests are skipped unless
the `-m` expression names `fuzz_long`. With `SMARTR1_FUZZ_COUNTS=<file>`, the cases run are written
there as JSON at the end of the session, per (target, fault, outcome).
"""

from __future__ import annotations

import json
import os

import pytest

from tests.fuzz import harness


def pytest_configure(config):
    config.addinivalue_line("markers", "fuzz_long: the long fuzz run (thousands of cases per target)")


def pytest_collection_modifyitems(config, items):
    if "fuzz_long" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="long fuzz run: select it with -m fuzz_long")
    for item in items:
        if "fuzz_long" in item.keywords:
            item.add_marker(skip)


def pytest_sessionfinish(session, exitstatus):
    out = os.environ.get("SMARTR1_FUZZ_COUNTS")
    if out and harness.COUNTS:
        rows = [
            {"target": t, "fault": f, "outcome": o, "cases": n}
            for (t, f, o), n in sorted(harness.COUNTS.items())
        ]
        with open(out, "w") as fh:
            json.dump(rows, fh, indent=1)


@pytest.fixture(scope="session")
def small(tmp_path_factory, real_scenarios):
    """A small real scenario file (a cut of 637f20cafde22ff8 written by our writer) and friends."""
    return harness.make_small_inputs(tmp_path_factory.mktemp("fuzz"), real_scenarios["637f20cafde22ff8"])
