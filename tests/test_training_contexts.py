"""RFT's reward contexts: built for the scenarios a run draws, not for every scenario of their shards."""

import pytest

import smartr1.training.contexts as contexts
from smartr1.data.errors import DataError
from smartr1.data.womd import write_scenarios


def test_contexts_are_built_once_for_the_drawn_scenarios_only(tmp_path, real_scenarios, monkeypatch):
    a, b = real_scenarios.values()
    write_scenarios(tmp_path / "s0.tfrecord", [a])
    write_scenarios(tmp_path / "s1.tfrecord", [b])
    built = []
    real = contexts.credit_context

    def counting(scenarios, *args):
        built.extend(s.scenario_id for s in scenarios)
        return real(scenarios, *args)

    monkeypatch.setattr(contexts, "credit_context", counting)
    ctx = contexts.ScenarioContexts(tmp_path, max_scenarios=1)
    assert ctx.get(b.scenario_id) is ctx.get(b.scenario_id)
    assert built == [b.scenario_id]  # s0 was indexed on the way, its scenario not built
    ctx.get(a.scenario_id)
    ctx.get(b.scenario_id)  # evicted by a (max_scenarios=1): built again
    assert built == [b.scenario_id, a.scenario_id, b.scenario_id]
    with pytest.raises(DataError, match="in none of 2 training shards"):
        ctx.get("nope")
