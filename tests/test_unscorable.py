"""Scenes the metric cannot score (no road edge, as in parts of the WOMD test split) still simulate,
and `evaluate` names them and scores the rest."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from smartr1.data.scenario import MapFeatures, MapKind
from smartr1.data.womd import write_scenarios
from smartr1.distributed.datasets import evaluate_dataset
from smartr1.metrics.scorable import NO_ROAD_EDGE, unscorable_reason
from smartr1.metrics.scoring import evaluate_rollouts
from smartr1.metrics.submission import write_rollout_shards
from smartr1.metrics.validate import SubmissionError, check_rollouts
from smartr1.rollout.policy import load_policy
from smartr1.rollout.reference import constant_velocity
from tests.fuzz.harness import small_scenario


def _without(s, kinds):
    m = s.map
    rows = [{"id": int(m.id[f]), "kind": int(m.kind[f]), "subtype": int(m.subtype[f]), "points": m.polyline(f)}
            for f in range(len(m.id)) if int(m.kind[f]) not in kinds]  # fmt: skip
    return dataclasses.replace(s, scenario_id=s.scenario_id + "-nomap", map=MapFeatures.from_polylines(rows))


@pytest.fixture(scope="module")
def scenes(real_scenarios):
    s = small_scenario(real_scenarios["637f20cafde22ff8"])
    return s, _without(s, {int(MapKind.ROAD_EDGE)}), _without(s, {int(k) for k in MapKind})


def test_unscorable_reason(scenes):
    s, no_edge, empty = scenes
    assert unscorable_reason(s) is None
    assert unscorable_reason(no_edge) == unscorable_reason(empty) == NO_ROAD_EDGE


@pytest.mark.parametrize("which", [1, 2], ids=["no-road-edge", "empty-map"])
def test_map_less_scene_still_simulates(scenes, which):
    s = scenes[which]
    ro = load_policy("smartr1-nano-sumo").rollout([s], num_rollouts=2, seed=0)[0]
    assert check_rollouts(ro, s, num_rollouts=2) == []
    assert np.isfinite(ro.x).all() and ro.x.shape[-1] == 80


def test_evaluate_names_unscorable_and_scores_the_rest(tmp_path, scenes):
    s, no_edge, _ = scenes
    write_scenarios(tmp_path / "scen.tfrecord", [s, no_edge])
    ros = [constant_velocity(s), constant_velocity(no_edge)]
    write_rollout_shards(tmp_path / "sub", ros)
    res = evaluate_dataset([str(tmp_path / "scen.tfrecord")], str(tmp_path / "sub"), tmp_path / "res")
    assert res.unscorable == {no_edge.scenario_id: NO_ROAD_EDGE}
    alone = evaluate_rollouts([s], {s.scenario_id: ros[0]})
    assert res.scenarios == alone.scenarios and res.num_scenarios == 1 and res.dataset == alone.dataset
    bad = dataclasses.replace(
        ros[1], x=ros[1].x[:3], y=ros[1].y[:3], z=ros[1].z[:3], heading=ros[1].heading[:3]
    )
    write_rollout_shards(tmp_path / "bad", [ros[0], bad])
    with pytest.raises(SubmissionError, match="3 joint scenes"):
        evaluate_dataset([str(tmp_path / "scen.tfrecord")], str(tmp_path / "bad"), tmp_path / "res2")
