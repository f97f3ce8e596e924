"""Reading real WOMD scenarios: facts from ../shared/data/wosac/README.md and scenario_arrays.npz."""

import dataclasses

import numpy as np
import pytest

from smartr1.data.errors import DataError
from smartr1.data.protos import womd_scenario_pb2 as pb
from smartr1.data.scenario import MapKind, Scenario
from smartr1.data.tfrecord import iter_records, write_records
from smartr1.data.womd import (
    index_scenarios,
    parse_scenario,
    read_scenario_at,
    read_scenarios,
    scenario_to_proto,
    write_scenarios,
)
from tests.conftest import SCENARIO_IDS, WOSAC, scenario_file

# From the goldens README table: tracks, sim agents (valid at step 10), evaluated agent ids.
README_FACTS = {
    "637f20cafde22ff8": (83, 50, [1675, 1676, 2320, 2406], 1092),
    "ee519cf571686d19": (257, 84, [625, 635, 2677, 2694, 2893], 0),
}


def assert_same(a, b, path="scenario"):
    if dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, path
        assert np.array_equal(a, b, equal_nan=True), path
    else:
        assert a == b, path


@pytest.mark.parametrize("sid", SCENARIO_IDS)
def test_readme_facts(real_scenarios, sid):
    s = real_scenarios[sid]
    tracks, sims, eval_ids, tl_rows = README_FACTS[sid]
    assert s.scenario_id == sid
    assert s.tracks.num_agents == tracks
    assert len(s.sim_agent_index()) == sims
    assert s.eval_agent_ids().tolist() == eval_ids
    assert int(s.signals.valid.sum()) == tl_rows
    assert len(s.timestamps) == 91 and s.current_step == 10


@pytest.mark.parametrize("sid", SCENARIO_IDS)
def test_values_match_official_dump(real_scenarios, sid):
    """scenario_arrays.npz was dumped by the official package: our reader must agree exactly."""
    s: Scenario = real_scenarios[sid]
    ref = np.load(WOSAC / sid / "scenario_arrays.npz")
    assert s.tracks.id.tolist() == ref["track_id"].tolist()
    assert s.tracks.type.tolist() == ref["track_object_type"].tolist()
    assert s.sdc_track_index == int(ref["sdc_track_index"])
    assert sorted(s.tracks_to_predict.tolist()) == sorted(ref["tracks_to_predict_index"].tolist())
    for name in ("x", "y", "z", "heading", "length", "width", "height"):
        np.testing.assert_array_equal(
            getattr(s.tracks, name).astype(np.float32), ref[f"track_{name}"], err_msg=name
        )
    np.testing.assert_array_equal(s.tracks.valid, ref["track_valid"])
    edges = s.map.of_kind(MapKind.ROAD_EDGE)
    assert s.map.id[edges].tolist() == ref["road_edge_id"].tolist()
    ours = np.concatenate([s.map.polyline(f) for f in edges])
    np.testing.assert_array_equal(ours, ref["road_edge_points"])
    if len(ref["tl_step"]):
        rows = np.argwhere(s.signals.valid)
        assert rows[:, 0].tolist() == ref["tl_step"].tolist()
        assert s.signals.lane_id[s.signals.valid].tolist() == ref["tl_lane_id"].tolist()
        assert s.signals.state[s.signals.valid].tolist() == ref["tl_state"].tolist()


@pytest.mark.parametrize("sid", SCENARIO_IDS)
def test_map_counts(real_scenarios, sid):
    s = real_scenarios[sid]
    raw = pb.Scenario.FromString(next(iter_records(scenario_file(sid))))
    assert s.map.num_features == len(raw.map_features)
    for kind in MapKind:
        name = {
            3: "lane",
            4: "road_line",
            5: "road_edge",
            7: "stop_sign",
            8: "crosswalk",
            9: "speed_bump",
            10: "driveway",
        }[kind]
        expected = sum(f.WhichOneof("feature_data") == name for f in raw.map_features)
        assert int(np.sum(s.map.kind == kind)) == expected, name


@pytest.mark.parametrize("sid", SCENARIO_IDS)
def test_write_read_round_trip(tmp_path, real_scenarios, sid):
    s = real_scenarios[sid]
    out = tmp_path / "rt.tfrecord"
    assert write_scenarios(out, [s, s]) == 2
    back = list(read_scenarios(out))
    assert len(back) == 2
    assert_same(s, back[0])
    # Writing the re-read scenario gives the very same payload again.
    first = list(iter_records(out))
    write_scenarios(tmp_path / "rt2.tfrecord", back)
    assert list(iter_records(tmp_path / "rt2.tfrecord")) == first


def test_streaming_globs_and_shuffle(tmp_path, real_scenarios):
    a, b = real_scenarios.values()
    write_scenarios(tmp_path / "s0.tfrecord", [a, b])
    write_scenarios(tmp_path / "s1.tfrecord", [b])
    ids = [s.scenario_id for s in read_scenarios(str(tmp_path / "*.tfrecord"))]
    assert ids == [a.scenario_id, b.scenario_id, b.scenario_id]
    shuffled = [s.scenario_id for s in read_scenarios(tmp_path, shuffle_buffer=2, seed=3)]
    assert sorted(shuffled) == sorted(ids)
    with pytest.raises(DataError, match="matches no file"):
        list(read_scenarios(str(tmp_path / "*.nothing")))


def test_index_then_read_one_scenario_at_its_offset(tmp_path, real_scenarios):
    """The cheap index (ids, offsets) finds each record; reading one there gives the scenario that
    streaming the file gives; a garbage record between them is skipped (skip_bad) or named."""
    a, b = real_scenarios.values()
    path = tmp_path / "s.tfrecord"
    write_scenarios(tmp_path / "ab.tfrecord", [a, b])
    first, second = iter_records(tmp_path / "ab.tfrecord")
    payloads = [first, b"\xff\xff\xff\xff garbage", second]
    write_records(path, payloads)
    index = list(index_scenarios(path, skip_bad=True))
    assert [(sid, i) for sid, _, i in index] == [(a.scenario_id, 0), (b.scenario_id, 2)]
    for (_, offset, i), want in zip(index, (a, b), strict=True):
        assert_same(want, read_scenario_at(path, offset, i))
    with pytest.raises(DataError, match=r"s.tfrecord, record 1: record is not a decodable Scenario"):
        list(index_scenarios(path))
    with pytest.raises(DataError, match="checksum"):  # an offset inside a record frames nothing
        read_scenario_at(path, index[1][1] + 5, 2)


def test_undecodable_proto(tmp_path):
    path = tmp_path / "garbage.tfrecord"
    write_records(path, [b"\xff\xff\xff\xff garbage"])
    with pytest.raises(DataError, match=r"garbage.tfrecord, record 0: record is not a decodable Scenario"):
        list(read_scenarios(path))
    stats: dict = {}
    assert list(read_scenarios(path, skip_bad=True, stats=stats)) == []
    assert stats["bad_records"] == 1


def test_nan_coordinates_rejected(tmp_path, real_scenarios):
    s = real_scenarios["637f20cafde22ff8"]
    msg = scenario_to_proto(s)
    agent = int(s.sim_agent_index()[0])
    msg.tracks[agent].states[10].center_x = float("nan")
    path = tmp_path / "nan.tfrecord"
    write_records(path, [msg.SerializeToString()])
    with pytest.raises(DataError, match=r"nan.tfrecord, record 0: .*non-finite x at track \d+, step 10"):
        list(read_scenarios(path))


def test_no_valid_agents_rejected(real_scenarios):
    msg = scenario_to_proto(real_scenarios["637f20cafde22ff8"])
    for tr in msg.tracks:
        tr.states[10].valid = False
    with pytest.raises(DataError, match="no agent is valid at the current step"):
        parse_scenario(msg.SerializeToString(), "mem.tfrecord", 0)
    empty = pb.Scenario(scenario_id="empty")
    empty.timestamps_seconds.extend([0.1 * i for i in range(91)])
    with pytest.raises(DataError, match="no agent is valid"):
        parse_scenario(empty.SerializeToString())


def test_bad_indices_rejected(real_scenarios):
    msg = scenario_to_proto(real_scenarios["637f20cafde22ff8"])
    msg.sdc_track_index = 10_000
    with pytest.raises(DataError, match="sdc_track_index 10000 out of range"):
        parse_scenario(msg.SerializeToString(), "x.tfrecord", 4)


def test_parallel_workers_keep_order(tmp_path, real_scenarios):
    a, b = real_scenarios.values()
    for i, s in enumerate([a, b, a]):
        write_scenarios(tmp_path / f"s{i}.tfrecord", [s])
    stats: dict = {}
    ids = [s.scenario_id for s in read_scenarios(tmp_path, workers=2, stats=stats)]
    assert ids == [a.scenario_id, b.scenario_id, a.scenario_id]
    assert stats["scenarios"] == 3
