"""Typed results and job options: one report type for both evaluation paths, written as `smartr1
evaluate` wrote its dict before; one name and one default per simulate / evaluate option, the CLI's."""

from __future__ import annotations

import inspect
import json
from dataclasses import fields

import numpy as np

from smartr1.cli.evaluate import evaluate_command
from smartr1.cli.simulate import simulate_command
from smartr1.distributed.datasets import inputs_key
from smartr1.distributed.options import EvaluateOptions, SimulateOptions
from smartr1.metrics import aggregate
from smartr1.metrics.aggregate import METRIC_FIELDS
from smartr1.metrics.report import MetricsReport
from smartr1.rollout.sampling import DEFAULT_TOP_K
from smartr1.rollout.session import DEFAULT_START


def _records(n: int) -> dict[str, dict[str, float]]:
    rng = np.random.default_rng(0)
    return {f"s{i}": {f: float(np.float32(rng.uniform())) for f in METRIC_FIELDS} for i in range(n)}


def test_report_writes_the_json_evaluate_wrote_before():
    per = _records(3)
    # the dict `evaluate_dataset` assembled (and the CLI extended) before the report was typed
    scen = {sid: {**v, **aggregate.buckets(v)} for sid, v in per.items()}
    means = aggregate.dataset_mean(scen)
    legacy = {"config": "2025", "num_scenarios": 3, "scenarios": scen, "dataset": means,
              "buckets": aggregate.buckets(means), "unscorable": {"u": "why"}, "submission": "sub"}  # fmt: skip
    report = MetricsReport.build(per, "2025", {"u": "why"})
    assert report.to_json(submission="sub") == json.dumps(legacy, indent=1)
    assert report.num_scenarios == 3 and report.dataset["metametric"] == means["metametric"]
    # a shard's scenarios already carry their buckets: building the report from them changes nothing
    assert MetricsReport.build(report.scenarios, "2025", report.unscorable) == report
    assert MetricsReport.build(per, "2024").config == "2024"


def test_cli_defaults_are_the_options_defaults():
    cli_name = {"num_rollouts": "rollouts", "scenarios_per_batch": "batch_size"}  # the CLI's flag names
    sim = inspect.signature(simulate_command).parameters
    for f in fields(SimulateOptions):
        if f.name != "threads":  # the CLI's None keeps this process's torch threads; jobs get the default
            assert sim[cli_name.get(f.name, f.name)].default == f.default, f.name
    ev = inspect.signature(evaluate_command).parameters
    assert all(ev[f.name].default == f.default for f in fields(EvaluateOptions))
    # written out in the options (so the CLI starts without torch), kept equal to the policy's defaults
    assert SimulateOptions().top_k == DEFAULT_TOP_K and SimulateOptions().start == DEFAULT_START


def test_finished_evaluation_shards_keep_their_key():
    """The key hashes the options' fields: the dict the CLI hashed before they were typed, so shards
    finished before are reused; a changed option is a new key."""
    legacy = {"device": "cpu", "config": "2025", "batch_size": 4, "num_rollouts": 32}
    assert inputs_key("sub", EvaluateOptions()) == inputs_key("sub", legacy) == "9abe63fca68d"
    assert inputs_key("sub", EvaluateOptions(num_rollouts=None)) != inputs_key("sub", EvaluateOptions())
