"""Valid protos with absurd contents: the Scenario reader (`read_scenarios`) and the submission reader
(`load_rollouts`) and validator (`scan_submission`, what `smartr1 validate` / `package` run).

Every case is a well-formed proto, so no framing or decoding check can catch it: NaN and inf
coordinates, negative and huge sizes, out-of-range indices, wrong step counts, duplicate ids, empty
maps, and counts of 10^6 (tracks, map features, points, signal steps, joint scenes, trajectories),
built cheaply as repeated empty sub-messages in raw wire bytes. Each case states what it must produce:
a `DataError` naming the file (`SubmissionError` for rule violations, listing them), a listed
problem, or acceptance where that is documented (velocities are not checked, tokenization zeroes
non-finite ones; a map-less scene is read and simulated). On top: never another exception, at most
`CASE_SECONDS` per case, and at most `ALLOC_LIMIT` bytes traced while it runs.

The 10^6 counts run in the long run (`-m fuzz_long`); CI runs the same builders at 10^4. The
failures this file found (a zero-step scenario, unbounded map / track / signal conversion, a validator
walking every entry) are fixed; benchmarks/results/fuzz.md lists them.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartr1.data.errors import DataError
from smartr1.data.protos import sim_agents_pb2 as sa
from smartr1.data.protos import womd_scenario_pb2 as sp
from smartr1.data.scenario import AgentType
from smartr1.data.tfrecord import write_records
from smartr1.data.womd import read_scenarios
from smartr1.data.womd_proto import MAX_SIGNAL_CELLS
from smartr1.metrics.packaging import scan_submission, split_sim_agents
from smartr1.metrics.submission import load_rollouts, rollouts_to_proto
from smartr1.metrics.validate import SubmissionError
from tests.fuzz.harness import ALLOC_LIMIT, COUNTS, fuzz_settings, peak_allocation, time_limit

SCEN, SUB, VAL = "scenario reader (absurd)", "submission reader (absurd)", "submission validator (absurd)"
CASE_SECONDS = 10  # a bounded reader rejects a few MB of proto in well under a second
CI_N, LONG_N = 10**4, 10**6


# ------------------------------------------------------------------------------------------ helpers
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited field in wire format."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _case(target: str, fault: str, fn, expect):
    """Run fn under the time and allocation limits; `expect(outcome)` (the result or the DataError)
    says whether the outcome is the documented one. Counted per outcome, like `harness.run_case`."""
    t0 = time.perf_counter()
    try:
        with time_limit(CASE_SECONDS):
            out, peak = peak_allocation(fn)
        seconds = time.perf_counter() - t0
        if seconds > CASE_SECONDS:  # the alarm can land in a gc callback, which swallows it
            raise TimeoutError(f"case ran {seconds:.0f} s, over {CASE_SECONDS} s (a hang)")
    except BaseException as e:
        COUNTS[target, fault, f"CRASH: {type(e).__name__}"] += 1
        raise
    name = type(out).__name__ if isinstance(out, DataError) else "accepted"
    if isinstance(out, list) and out and isinstance(out[0], str):  # a validator's problem list
        name = "problems listed"
    COUNTS[target, fault, name] += 1
    assert peak < ALLOC_LIMIT, f"{fault}: {peak / 2**20:.0f} MB traced ({time.perf_counter() - t0:.1f} s)"
    ok = expect(out)
    assert ok, f"{fault}: unexpected outcome {out!r}"[:500]
    return out


def _n(n: int) -> str:
    return f"10^{round(math.log10(n))}"


def _names(path: Path):
    """The outcome is a DataError naming the file."""
    return lambda out: isinstance(out, DataError) and str(path) in str(out)


def _error(path: Path, *words: str):
    return lambda out: _names(path)(out) and all(w in str(out) for w in words)


def _read(path: Path):
    return lambda: list(read_scenarios([path]))


def _scenario_file(tmp_path: Path, name: str, payload: bytes) -> Path:
    path = tmp_path / f"{name}.tfrecord"
    write_records(path, [payload])
    return path


def _base(small) -> sp.Scenario:
    return sp.Scenario.FromString(small.payload)


def _with(small, mutate) -> bytes:
    m = _base(small)
    mutate(m)
    return m.SerializeToString()


def _set(field: str, value: float, valid: bool = True, track: int = 0):
    def mutate(m):
        s = m.tracks[track].states[m.current_time_index]
        setattr(s, field, value)
        s.valid = valid

    return mutate


def _accepted(check=lambda s: True):
    return lambda out: isinstance(out, list) and len(out) == 1 and check(out[0])


# ------------------------------------------------------------------------ Scenario: one absurd field
def _scenario_cases():
    """(fault, mutation of the small real scenario, expected outcome given the file path)."""
    nan, inf = math.nan, math.inf

    def drop_map(m):
        del m.map_features[:]

    def drop_map_and_signals(m):
        del m.map_features[:]
        for d in m.dynamic_map_states:
            del d.lane_states[:]

    def dup_track_id(m):
        m.tracks[1].id = m.tracks[0].id

    def dup_map_id(m):
        m.map_features[1].id = m.map_features[0].id

    def short_track(m):
        del m.tracks[2].states[-1]

    def extra_timestamp(m):
        m.timestamps_seconds.append(m.timestamps_seconds[-1] + 0.1)

    def nan_timestamp(m):
        m.timestamps_seconds[3] = nan

    def inf_map_point(m):
        f = next(f for f in m.map_features if f.WhichOneof("feature_data") == "lane")
        f.lane.polyline[0].y = inf

    def nan_stop_point(m):
        d = next(d for d in m.dynamic_map_states if d.lane_states)
        d.lane_states[0].stop_point.x = nan

    def attr(name, value):
        return lambda m: setattr(m, name, value)

    def ttp(value):
        def mutate(m):
            m.tracks_to_predict[0].track_index = value

        return mutate

    def no_id(m):
        m.ClearField("scenario_id")

    def five_steps(m):  # a consistent scenario of 5 steps: the reader takes any step count
        del m.timestamps_seconds[5:]
        for t in m.tracks:
            del t.states[5:]
        del m.dynamic_map_states[5:]
        m.current_time_index = 2
        m.tracks[m.sdc_track_index].states[2].valid = True
        del m.tracks_to_predict[:]

    def repeated_predictions(m):
        for _ in range(50):
            m.tracks_to_predict.add(track_index=m.sdc_track_index)
        m.objects_of_interest.extend([m.tracks[0].id] * 50)

    def odd_ids(m):
        m.tracks[0].id, m.tracks[1].id = 2**31 - 1, -(2**31)

    e = _error
    rows = [
        ("empty map", drop_map, lambda p: _accepted(lambda s: s.map.num_features == 0)),
        (
            "empty map and no signals",
            drop_map_and_signals,
            lambda p: _accepted(lambda s: not s.signals.valid.any()),
        ),
        ("NaN x (valid state)", _set("center_x", nan), lambda p: e(p, "non-finite x")),
        ("inf y (valid state)", _set("center_y", inf), lambda p: e(p, "non-finite y")),
        ("-inf z (valid state)", _set("center_z", -inf), lambda p: e(p, "non-finite z")),
        ("NaN heading (valid state)", _set("heading", nan), lambda p: e(p, "non-finite heading")),
        ("NaN x (invalid state)", _set("center_x", nan, valid=False), lambda p: _accepted()),
        ("NaN velocity (valid state)", _set("velocity_x", nan), lambda p: _accepted()),  # zeroed by tokens
        ("x = 1e300 (finite double)", _set("center_x", 1e300), lambda p: _accepted()),
        ("negative length", _set("length", -4.0), lambda p: e(p, "negative length")),
        ("negative width", _set("width", -1e-3), lambda p: e(p, "negative width")),
        ("huge length 1e30 (finite)", _set("length", 1e30), lambda p: _accepted()),
        ("length 1e39 (float32 inf)", _set("length", 1e39), lambda p: e(p, "non-finite length")),
        ("NaN height", _set("height", nan), lambda p: e(p, "non-finite height")),
        ("NaN timestamp", nan_timestamp, lambda p: e(p, "non-finite timestamps")),
        ("inf map point", inf_map_point, lambda p: e(p, "non-finite map point")),
        ("NaN signal stop point", nan_stop_point, lambda p: e(p, "non-finite traffic-signal stop point")),
        ("track one state short", short_track, lambda p: e(p, "states, expected")),
        ("one timestamp more than states", extra_timestamp, lambda p: e(p, "states, expected")),
        ("5 steps everywhere", five_steps, lambda p: _accepted(lambda s: s.tracks.num_steps == 5)),
        ("current_time_index -1", attr("current_time_index", -1), lambda p: e(p, "current_time_index")),
        ("current_time_index 10^9", attr("current_time_index", 10**9), lambda p: e(p, "current_time_index")),
        ("sdc_track_index -1", attr("sdc_track_index", -1), lambda p: e(p, "sdc_track_index")),
        ("sdc_track_index 10^6", attr("sdc_track_index", 10**6), lambda p: e(p, "sdc_track_index")),
        ("tracks_to_predict -1", ttp(-1), lambda p: e(p, "tracks_to_predict")),
        ("tracks_to_predict 10^6", ttp(10**6), lambda p: e(p, "tracks_to_predict")),
        ("duplicate track ids", dup_track_id, lambda p: e(p, "duplicate track ids")),
        ("duplicate map feature ids", dup_map_id, lambda p: _accepted()),  # not checked
        ("repeated predictions / objects of interest", repeated_predictions, lambda p: _accepted()),
        ("extreme int32 track ids", odd_ids, lambda p: _accepted()),
        ("no scenario_id", no_id, lambda p: e(p, "scenario_id is not set")),
    ]
    return rows


@pytest.mark.parametrize("fault,mutate,expect", [pytest.param(*c, id=c[0]) for c in _scenario_cases()])
def test_scenario_with_an_absurd_field(tmp_path, small, fault, mutate, expect):
    path = _scenario_file(tmp_path, "absurd", _with(small, mutate))
    _case(SCEN, fault, _read(path), expect(path))


def test_unknown_enum_value_reads_as_unset(tmp_path, small):
    """object_type 1000 in raw bytes: proto2 keeps it as an unknown field, the track reads as UNSET."""
    m = _base(small)
    m.tracks[0].ClearField("object_type")
    raw = m.tracks[0].SerializeToString() + _varint(2 << 3) + _varint(1000)  # field 2 (object_type)
    m.tracks[0].ParseFromString(raw)
    path = _scenario_file(tmp_path, "enum", m.SerializeToString())
    (s,) = _case(SCEN, "object_type 1000", _read(path), _accepted())
    assert s.tracks.type[0] == AgentType.UNSET


def test_tracks_without_any_step(tmp_path):
    m = sp.Scenario(scenario_id="zero-steps")
    m.tracks.add(id=1, object_type=1)
    path = _scenario_file(tmp_path, "zero", m.SerializeToString())
    _case(SCEN, "tracks without any step", _read(path), _names(path))


# ------------------------------------------------------------------- Scenario: counts of 10^4 / 10^6
def _counts(ci_marks=(), long_marks=(), ci=CI_N):
    return pytest.mark.parametrize(
        "n",
        [
            pytest.param(ci, id=f"{ci:.0e}".replace("+0", ""), marks=list(ci_marks)),
            pytest.param(LONG_N, id="1e6", marks=[pytest.mark.fuzz_long, *long_marks]),
        ],
    )


def _one_track(small) -> sp.Scenario:
    """The small scenario with its map, signals and other tracks removed: one valid SDC."""
    m = _base(small)
    sdc = sp.Track()
    sdc.CopyFrom(m.tracks[m.sdc_track_index])
    del (
        m.tracks[:],
        m.map_features[:],
        m.dynamic_map_states[:],
        m.tracks_to_predict[:],
        m.objects_of_interest[:],
    )
    m.tracks.append(sdc)
    m.sdc_track_index = 0
    return m


@_counts()
def test_many_empty_tracks(tmp_path, small, n):
    """n tracks without states (2 bytes each) beside the timestamps: refused from the counts alone."""
    payload = _base(small).SerializeToString() + _field(2, b"") * n
    path = _scenario_file(tmp_path, "tracks", payload)
    _case(SCEN, f"{_n(n)} empty tracks", _read(path), _error(path, "states, expected"))


@_counts()
def test_many_map_features_without_data(tmp_path, small, n):
    path = _scenario_file(tmp_path, "nodata", _one_track(small).SerializeToString() + _field(8, b"") * n)
    _case(
        SCEN, f"{_n(n)} map features without data", _read(path), _accepted(lambda s: s.map.num_features == 0)
    )


@_counts()
def test_many_empty_lanes(tmp_path, small, n):
    path = _scenario_file(
        tmp_path, "lanes", _one_track(small).SerializeToString() + _field(8, _field(3, b"")) * n
    )
    _case(SCEN, f"{_n(n)} empty lanes", _read(path), lambda out: _names(path)(out) or _accepted()(out))


@_counts()
def test_one_lane_of_many_points(tmp_path, small, n):
    lane = _field(3, _field(8, b"") * n)  # MapFeature.lane with n empty MapPoints (LaneCenter.polyline = 8)
    path = _scenario_file(tmp_path, "points", _one_track(small).SerializeToString() + _field(8, lane))
    _case(SCEN, f"lane of {_n(n)} points", _read(path), lambda out: _names(path)(out) or _accepted()(out))


def _signal_steps_ok(path):
    """Refused, or read with a signal timeline as long as the tracks' (never a longer one)."""
    return lambda out: (
        _names(path)(out) or _accepted(lambda s: s.signals.num_steps == s.tracks.num_steps)(out)
    )


@_counts()
def test_many_empty_signal_steps(tmp_path, small, n):
    path = _scenario_file(tmp_path, "dyn", _one_track(small).SerializeToString() + _field(7, b"") * n)
    _case(SCEN, f"{_n(n)} empty signal steps", _read(path), _signal_steps_ok(path))


@_counts()
def test_many_signal_steps_of_one_lane(tmp_path, small, n):
    path = _scenario_file(
        tmp_path, "dyn1", _one_track(small).SerializeToString() + _field(7, _field(1, b"")) * n
    )
    _case(SCEN, f"{_n(n)} signal steps of one lane", _read(path), _signal_steps_ok(path))


@_counts()
def test_one_signal_step_of_many_lanes(tmp_path, small, n):
    """91 steps x n lanes per step: over MAX_SIGNAL_CELLS it is refused before anything is allocated."""
    lanes = _field(7, _field(1, b"") * n)
    path = _scenario_file(tmp_path, "lanes1", _one_track(small).SerializeToString() + lanes)
    over = 91 * n > MAX_SIGNAL_CELLS
    _case(SCEN, f"one signal step of {_n(n)} lanes", _read(path),
          _error(path, "signal lanes") if over else _accepted(lambda s: s.signals.lane_id.shape == (91, n)))  # fmt: skip


@_counts()
def test_many_predictions_and_objects_of_interest(tmp_path, small, n):
    m = _one_track(small)
    m.objects_of_interest.extend([m.tracks[0].id] * n)
    path = _scenario_file(tmp_path, "ttp", m.SerializeToString() + _field(11, b"") * n)  # index 0 = the SDC
    _case(SCEN, f"{_n(n)} predictions / objects of interest", _read(path), _accepted())


@_counts()
def test_one_track_of_many_steps(tmp_path, n):
    """n timestamps and a track of n (empty, invalid) states: any step count is read; nothing is valid."""
    m = sp.Scenario(scenario_id="long", current_time_index=10)
    m.timestamps_seconds.extend(np.arange(n) * 0.1)
    track = sp.Track(id=1, object_type=1).SerializeToString() + _field(3, b"") * n
    path = _scenario_file(tmp_path, "steps", m.SerializeToString() + _field(2, track))
    _case(SCEN, f"track of {_n(n)} steps", _read(path), _error(path, "no agent is valid"))


# ---------------------------------------------- Scenario: a random absurd value in a random state field
_DOUBLE = ("center_x", "center_y", "center_z")
_FLOAT = ("length", "width", "height", "heading", "velocity_x", "velocity_y")
_CHECKED = {"center_x": "x", "center_y": "y", "center_z": "z", "heading": "heading",
            "length": "length", "width": "width", "height": "height"}  # fmt: skip
ABSURD = st.sampled_from([math.nan, math.inf, -math.inf, -1.0, -1e-30, 0.0, 1e30, 1e39, -1e39, 1e300, 5e-324])


@pytest.mark.parametrize(
    "budget", [pytest.param(40, id="ci"), pytest.param(500, id="long", marks=pytest.mark.fuzz_long)]
)
def test_random_absurd_state_value(tmp_path, small, budget):
    """The oracle is written out here, not taken from the checks: a valid state with a non-finite
    pose or size (as stored: float32 fields overflow to inf), or a negative size, is refused by name;
    anything else (velocities, invalid states, finite extremes) is read."""
    base = _base(small)
    path = tmp_path / "random.tfrecord"

    @fuzz_settings(budget)
    @given(
        st.integers(0, len(base.tracks) - 1),
        st.integers(0, len(base.timestamps_seconds) - 1),
        st.sampled_from(_DOUBLE + _FLOAT),
        ABSURD | st.floats(allow_nan=True, allow_infinity=True),
        st.booleans(),
    )
    def case(track, step, field, value, valid):
        m = sp.Scenario()
        m.CopyFrom(base)
        s = m.tracks[track].states[step]
        setattr(s, field, value)
        s.valid = valid or s.valid
        path.unlink(missing_ok=True)
        write_records(path, [m.SerializeToString()])
        with np.errstate(over="ignore"):
            stored = float(np.float32(value)) if field in _FLOAT else value
        name = _CHECKED.get(field)
        if s.valid and name and not math.isfinite(stored):
            want = _error(path, f"non-finite {name}")
        elif s.valid and field in _FLOAT[:3] and stored < 0:
            want = _error(path, f"negative {name}")
        else:
            want = _accepted()
        _case(SCEN, "random absurd state value", _read(path), want)

    case()


# ------------------------------------------------------------------------------------ submissions
@pytest.fixture(scope="module")
def sub(small):
    """The small scenario's 32 constant-velocity rollouts as one ScenarioRollouts, and its split."""
    return rollouts_to_proto(small.rollouts), split_sim_agents([small.scenario_file])


def _sub_file(tmp_path: Path, name: str, payload: bytes) -> Path:
    path = tmp_path / f"{name}.binproto"
    path.write_bytes(payload)
    return path


def _load(path):
    return lambda: load_rollouts(path)


def _scan(path, split):
    def run():
        scan = scan_submission(path, split)
        return [str(e) for e in scan.unreadable] + scan.problems

    return run


def _listed(path: Path, *words: str):
    """Problems listed, the first naming the file and saying what is wrong."""
    return lambda out: (
        isinstance(out, list) and out and str(path) in out[0] and all(any(w in p for p in out) for w in words)
    )


def _refused(path: Path, *words: str):
    return lambda out: isinstance(out, SubmissionError) and _error(path, *words)(out)


def _loaded(rollouts=None):
    return lambda out: (
        isinstance(out, dict)
        and len(out) == 1
        and (rollouts is None or next(iter(out.values())).num_rollouts == rollouts)
    )


def _submission_cases():
    """(fault, mutation of the ScenarioRollouts, what load_rollouts gives, what the validator lists)."""
    nan, inf = math.nan, math.inf

    def value(field, v, scene=3, traj=2, step=5):
        def mutate(m):
            getattr(m.joint_scenes[scene].simulated_trajectories[traj], field)[step] = v

        return mutate

    def steps(k, fields=("center_x", "center_y", "center_z", "heading")):
        def mutate(m):
            for sc in m.joint_scenes:
                for t in sc.simulated_trajectories:
                    for f in fields:
                        values = list(getattr(t, f))
                        t.ClearField(f)
                        getattr(t, f).extend((values + values)[: 80 + k])

        return mutate

    def dup(m):
        ts = m.joint_scenes[1].simulated_trajectories
        ts[1].object_id = ts[0].object_id

    def foreign(m):
        for sc in m.joint_scenes:
            sc.simulated_trajectories[0].object_id = -5

    def dropped_agent(m):
        for sc in m.joint_scenes:
            del sc.simulated_trajectories[-1]

    def rollouts(k):
        def mutate(m):
            del m.joint_scenes[k:]

        return mutate

    def no_id(m):
        m.ClearField("scenario_id")

    def other_id(m):
        m.scenario_id = "not-in-the-split"

    R = _refused
    rows = [
        (
            "NaN center_y",
            value("center_y", nan),
            lambda p: R(p, "non-finite"),
            lambda p: _listed(p, "non-finite"),
        ),
        (
            "inf heading",
            value("heading", inf),
            lambda p: R(p, "non-finite"),
            lambda p: _listed(p, "non-finite"),
        ),
        (
            "1e39 center_x (float32 inf)",
            value("center_x", 1e39),
            lambda p: R(p, "non-finite"),
            lambda p: _listed(p, "non-finite"),
        ),
        ("79 steps", steps(-1), lambda p: R(p, "79 steps, expected 80"), lambda p: _listed(p, "79 steps")),
        ("81 steps", steps(1), lambda p: R(p, "81 steps, expected 80"), lambda p: _listed(p, "81 steps")),
        (
            "ragged: heading 79 steps",
            steps(-1, ("heading",)),
            lambda p: R(p, "heading has 79 steps"),
            lambda p: _listed(p, "heading has 79 steps"),
        ),
        (
            "duplicate object ids",
            dup,
            lambda p: R(p, "duplicate object ids"),
            lambda p: _listed(p, "duplicate object ids"),
        ),
        (
            "object id not a sim agent",
            foreign,
            lambda p: _loaded(),
            lambda p: _listed(p, "not sim agents", "missing sim agents"),
        ),
        (
            "a sim agent missing",
            dropped_agent,
            lambda p: _loaded(),
            lambda p: _listed(p, "missing sim agents"),
        ),
        (
            "3 rollouts instead of 32",
            rollouts(3),
            lambda p: _loaded(3),
            lambda p: _listed(p, "3 joint scenes"),
        ),
        (
            "no joint scene",
            rollouts(0),
            lambda p: R(p, "no joint scene"),
            lambda p: _listed(p, "0 joint scenes"),
        ),
        (
            "no scenario_id",
            no_id,
            lambda p: R(p, "scenario_id is not set"),
            lambda p: _listed(p, "scenario_id is not set"),
        ),
        (
            "scenario not in the split",
            other_id,
            lambda p: _loaded(),
            lambda p: (
                lambda out: isinstance(out, list) and any("not in the evaluation set" in x for x in out)
            ),
        ),
    ]
    return rows


@pytest.mark.parametrize(
    "fault,mutate,load_expect,scan_expect", [pytest.param(*c, id=c[0]) for c in _submission_cases()]
)
def test_submission_with_an_absurd_field(tmp_path, sub, fault, mutate, load_expect, scan_expect):
    good, split = sub
    m = sa.ScenarioRollouts()
    m.CopyFrom(good)
    mutate(m)
    path = _sub_file(tmp_path, "absurd", m.SerializeToString())
    _case(SUB, fault, _load(path), load_expect(path))
    _case(VAL, fault, _scan(path, split), scan_expect(path))


def test_scenario_twice_and_absurd_metadata(tmp_path, sub):
    good, split = sub
    s = sa.SimAgentsChallengeSubmission(account_name="", unique_method_name="x" * 10_000)
    s.scenario_rollouts.extend([good, good])
    path = _sub_file(tmp_path, "twice", s.SerializeToString())
    _case(SUB, "scenario twice", _load(path), _refused(path, "more than once"))

    def run():
        scan = scan_submission(path, split, require_metadata=True)
        return scan.problems

    _case(VAL, "scenario twice, metadata missing", run,
          lambda out: any("more than once" in p for p in out) and any("account_name is required" in p for p in out)
          and any("submission_type" in p for p in out))  # fmt: skip


def _sid(good) -> bytes:
    return _field(1, good.scenario_id.encode())  # ScenarioRollouts.scenario_id = 1


@_counts()
def test_many_empty_joint_scenes(tmp_path, sub, n):
    good, split = sub
    path = _sub_file(tmp_path, "scenes", _sid(good) + _field(2, b"") * n)  # joint_scenes = 2
    _case(SUB, f"{_n(n)} empty joint scenes", _load(path), _loaded(n))  # structure only: no count rule
    _case(VAL, f"{_n(n)} empty joint scenes", _scan(path, split), _listed(path, f"{n} joint scenes"))


@_counts()
def test_one_joint_scene_of_many_empty_trajectories(tmp_path, sub, n):
    good, split = sub
    path = _sub_file(tmp_path, "trajs", _sid(good) + _field(2, _field(1, b"") * n))
    _case(SUB, f"scene of {_n(n)} empty trajectories", _load(path), _refused(path, "duplicate object ids"))
    _case(
        VAL, f"scene of {_n(n)} empty trajectories", _scan(path, split), _listed(path, "duplicate object ids")
    )


@_counts()
def test_one_joint_scene_of_many_agents(tmp_path, sub, n):
    """n distinct object ids (no values): a scene of 10^6 agents, a few bytes each."""
    good, split = sub
    scene = b"".join(_field(1, b"\x30" + _varint(i)) for i in range(n))  # object_id = 6 (varint)
    path = _sub_file(tmp_path, "agents", _sid(good) + _field(2, scene))
    _case(SUB, f"scene of {_n(n)} agents", _load(path), _refused(path, "0 steps, expected 80"))
    _case(VAL, f"scene of {_n(n)} agents", _scan(path, split), _listed(path, "not sim agents"))


@_counts()
def test_one_trajectory_of_many_steps(tmp_path, sub, n):
    good, split = sub
    m = sa.ScenarioRollouts()
    m.CopyFrom(good)
    m.joint_scenes[0].simulated_trajectories[0].center_x.extend([0.0] * n)
    path = _sub_file(tmp_path, "steps", m.SerializeToString())
    _case(SUB, f"trajectory of {_n(n)} steps", _load(path), _refused(path, f"{n + 80} steps, expected 80"))
    _case(VAL, f"trajectory of {_n(n)} steps", _scan(path, split), _listed(path, f"{n + 80} steps"))


@_counts()
def test_many_empty_scenario_rollouts(tmp_path, sub, n):
    good, split = sub
    s = sa.SimAgentsChallengeSubmission(submission_type=1)
    path = _sub_file(tmp_path, "many", s.SerializeToString() + _field(1, b"") * n)  # scenario_rollouts = 1
    _case(SUB, f"{_n(n)} empty scenario rollouts", _load(path), _refused(path, "scenario_id is not set"))
    _case(
        VAL, f"{_n(n)} empty scenario rollouts", _scan(path, split), _listed(path, "scenario_id is not set")
    )
