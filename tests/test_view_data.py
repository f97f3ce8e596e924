"""The viewer's embedded data: quantization round trip (error stated and bounded), the per-agent
numbers it carries, a self-contained page, and one clear error for bad input.

Quantization: positions are stored in whole centimetres relative to the scene centre and headings in
whole milliradians, so decoding is off by at most 0.5 cm / 0.5 mrad plus float64 rounding of the
decoded value (`POSITION_ERROR_M` = 0.005 m + 1e-6, `HEADING_ERROR_RAD` = 0.0005 rad + 1e-6, against
the stored float32 values taken exactly); the integer delta coding adds nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

import numpy as np
import pytest

from smartr1.data.errors import DataError
from smartr1.data.scenario import MapFeatures, MapKind
from smartr1.data.womd import write_scenarios
from smartr1.metrics.per_agent import scenario_diagnostics
from smartr1.metrics.submission import write_rollout_shards
from smartr1.reports.view import write_view
from smartr1.viz.viewer import encode as E
from tests.conftest import SCENARIO_IDS, golden_rollouts, write_golden_inputs


def wrapped(a):
    return (a + np.pi) % (2 * np.pi) - np.pi


@pytest.mark.parametrize("sid", SCENARIO_IDS)
def test_quantized_scene_round_trips_within_the_stated_bound(real_scenarios, sid):
    s = real_scenarios[sid]
    ro = golden_rollouts(sid, "logged_noisy")
    rx, ry, rh = (v.astype(np.float64) for v in (ro.x, ro.y, ro.heading))  # the reference, exactly
    c = E.scene_centre(s)
    idx = s.sim_agent_index()
    t = s.tracks
    log = E.decode_log(E.encode_log(s, c), len(idx), t.num_steps)
    v = t.valid[idx]
    assert (log["valid"] == v).all()
    assert np.abs(log["x"] - (t.x[idx] - c[0]))[v].max() <= E.POSITION_ERROR_M
    assert np.abs(log["y"] - (t.y[idx] - c[1]))[v].max() <= E.POSITION_ERROR_M
    assert np.abs(wrapped(log["heading"] - t.heading[idx]))[v].max() <= E.HEADING_ERROR_RAD

    fut = E.decode_rollouts(E.encode_rollouts(s, ro, c), log, s.current_step)
    pos = {int(o): i for i, o in enumerate(ro.object_id)}
    order = [pos[int(o)] for o in t.id[idx]]
    assert fut["x"].shape == (32, len(idx), 80)
    err_xy = max(
        np.abs(fut["x"] - (rx[:, order] - c[0])).max(), np.abs(fut["y"] - (ry[:, order] - c[1])).max()
    )
    err_h = np.abs(wrapped(fut["heading"] - rh[:, order])).max()
    assert 0.001 < err_xy <= E.POSITION_ERROR_M  # really quantized, and no worse than the bound
    assert err_h <= E.HEADING_ERROR_RAD

    m = E.decode_map(E.encode_map(s, c))
    assert (m["kind"] == s.map.kind).all() and (m["counts"] == np.diff(s.map.offsets)).all()
    assert np.abs(m["x"] - (s.map.points[:, 0] - c[0])).max() <= E.POSITION_ERROR_M
    sig = s.signals
    for k, lane in enumerate(m["signal_lane"]):
        steps, slots = np.nonzero(sig.valid & (sig.lane_id == lane))
        assert (m["state"][k, steps] == sig.state[steps, slots]).all()


def test_second_difference_coding_is_lossless():
    a = np.random.default_rng(0).integers(-(10**6), 10**6, (3, 5, 91))
    assert (E.undelta2(E.delta2(a)) == a).all()


@pytest.fixture(scope="module")
def two_scene_inputs(tmp_path_factory, real_scenarios):
    """The two real WOSAC scenes on disk with two golden submissions (32 rollouts each)."""
    d = tmp_path_factory.mktemp("view")
    return d, write_golden_inputs(d, real_scenarios)[1]


def page_data(path) -> dict:
    text = path.read_text()
    m = re.search(r'<script id="smartr1-data" type="application/json">(.*?)</script>', text, re.S)
    return json.loads(m.group(1).replace("<\\/", "</"))


def test_page_is_self_contained_and_carries_the_per_agent_numbers(two_scene_inputs, real_scenarios):
    d, subs = two_scene_inputs
    out = write_view(d / "scenes.tfrecord", subs, ["cv", "noisy"], d / "view.html")
    text = out.read_text()
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text)  # nothing fetched
    assert "__DATA__" not in text and "__SCRIPT__" not in text
    data = page_data(out)
    assert data["labels"] == ["cv", "noisy"] and len(data["scenes"]) == 2
    for scene in data["scenes"]:
        s = real_scenarios[scene["id"]]
        assert len(scene["log"]["id"]) == len(s.sim_agent_index())
        diag = scenario_diagnostics(s, golden_rollouts(s.scenario_id, "logged_noisy"))
        run = scene["runs"][1]
        assert run["metrics"]["metametric"] == pytest.approx(diag.scenario["metametric"], abs=1e-6)
        ref = diag.to_json()
        assert run["agents"]["object_id"] == ref["object_id"]
        assert run["agents"]["first_step"] == ref["first_step"]
        for comp, vals in ref["likelihood"].items():
            got = run["agents"]["likelihood"][comp]
            assert got == pytest.approx(vals, abs=1e-6, nan_ok=True), comp


def test_missing_scenario_in_a_submission_is_one_clear_error(two_scene_inputs, real_scenarios, tmp_path):
    d, subs = two_scene_inputs
    write_rollout_shards(tmp_path / "partial", [golden_rollouts(SCENARIO_IDS[0], "constant_velocity")])
    with pytest.raises(DataError) as e:
        write_view(d / "scenes.tfrecord", [subs[0], tmp_path / "partial"], None, tmp_path / "v.html")
    assert str(tmp_path / "partial") in str(e.value)
    assert f"no rollouts for scenario {SCENARIO_IDS[1]}" in str(e.value)
    assert not (tmp_path / "v.html").exists()


def test_scenario_without_a_map_is_one_clear_error(real_scenarios, tmp_path):
    s = real_scenarios[SCENARIO_IDS[0]]
    bare = replace(s, map=MapFeatures.empty())
    write_scenarios(tmp_path / "bare.tfrecord", [bare])
    write_rollout_shards(tmp_path / "cv", [golden_rollouts(s.scenario_id, "constant_velocity")])
    with pytest.raises(DataError) as e:
        write_view(tmp_path / "bare.tfrecord", [tmp_path / "cv"], None, tmp_path / "v.html")
    assert "bare.tfrecord" in str(e.value) and "no road edge" in str(e.value)
    assert int(MapKind.ROAD_EDGE) not in bare.map.kind
