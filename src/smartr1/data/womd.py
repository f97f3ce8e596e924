"""WOMD `Scenario` protos <-> our `Scenario` dataclass, and TFRecord shards of them.

Real WOMD files and our generated data share this one path, so every later stage treats them alike.
Lane neighbour and boundary index ranges are not carried by the dataclass (neighbour ids are);
everything else survives `scenario_to_proto(scenario_from_proto(pb))`.
"""

from __future__ import annotations

import glob as _glob
import random
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from google.protobuf.message import DecodeError
from google.protobuf.unknown_fields import UnknownFieldSet

from smartr1.data.checks import check_scenario
from smartr1.data.errors import DataError
from smartr1.data.protos import womd_map_pb2 as map_pb
from smartr1.data.protos import womd_scenario_pb2 as scenario_pb
from smartr1.data.scenario import (
    MapFeatures,
    MapKind,
    Scenario,
    SignalStates,
    Tracks,
)
from smartr1.data.tfrecord import iter_records, write_records

__all__ = ["check_scenario", "expand_paths", "parse_scenario", "read_scenario", "read_scenarios",
           "scenario_from_proto", "scenario_to_proto", "wire_type_clashes", "write_scenarios"]  # fmt: skip

_POLY_FIELD = {
    MapKind.LANE: ("lane", "polyline"),
    MapKind.ROAD_LINE: ("road_line", "polyline"),
    MapKind.ROAD_EDGE: ("road_edge", "polyline"),
    MapKind.CROSSWALK: ("crosswalk", "polygon"),
    MapKind.SPEED_BUMP: ("speed_bump", "polygon"),
    MapKind.DRIVEWAY: ("driveway", "polygon"),
}
_STATE_KEYS = (
    "center_x", "center_y", "center_z", "length", "width", "height", "heading", "velocity_x", "velocity_y", "valid",
)  # fmt: skip
_ONEOF_KIND = {name: kind for kind, (name, _) in _POLY_FIELD.items()} | {"stop_sign": MapKind.STOP_SIGN}
MAX_SIGNAL_CELLS = 1 << 20  # WOMD: 91 steps x tens of signal lanes


# ----------------------------------------------------------------------------------------------- tracks
def _tracks_from_proto(tracks, num_steps: int) -> Tracks:
    # Counts first: the arrays below are sized by them, so a lying proto must not get to allocate.
    first = next((tr for tr in tracks if len(tr.states) != num_steps), None)
    if first is not None:
        more = sum(len(tr.states) != num_steps for tr in tracks) - 1
        tail = f" (and {more} more tracks)" if more else ""
        raise ValueError(f"track {first.id} has {len(first.states)} states, expected {num_steps}{tail}")
    n = len(tracks)
    out = Tracks.empty(n, num_steps)
    for i, tr in enumerate(tracks):
        out.id[i] = tr.id
        out.type[i] = tr.object_type
        # One pass per track: ListFields of each state is the cheapest read in the upb runtime.
        rows = np.array(
            [
                (
                    s.center_x,
                    s.center_y,
                    s.center_z,
                    s.length,
                    s.width,
                    s.height,
                    s.heading,
                    s.velocity_x,
                    s.velocity_y,
                    s.valid,
                )
                for s in tr.states
            ],
            dtype=np.float64,
        ).reshape(num_steps, 10)
        out.x[i], out.y[i], out.z[i] = rows[:, 0], rows[:, 1], rows[:, 2]
        out.length[i], out.width[i], out.height[i] = rows[:, 3], rows[:, 4], rows[:, 5]
        out.heading[i], out.velocity_x[i], out.velocity_y[i] = rows[:, 6], rows[:, 7], rows[:, 8]
        out.valid[i] = rows[:, 9] != 0
    return out


def _tracks_to_proto(tracks: Tracks, msg: scenario_pb.Scenario) -> None:
    for i in range(tracks.num_agents):
        tr = msg.tracks.add(id=int(tracks.id[i]), object_type=int(tracks.type[i]))
        cols = [
            tracks.x[i].tolist(), tracks.y[i].tolist(), tracks.z[i].tolist(),
            tracks.length[i].tolist(), tracks.width[i].tolist(), tracks.height[i].tolist(),
            tracks.heading[i].tolist(), tracks.velocity_x[i].tolist(), tracks.velocity_y[i].tolist(),
            tracks.valid[i].tolist(),
        ]  # fmt: skip
        for values in zip(*cols, strict=True):
            # Proto2 keeps presence: write only non-default fields, as WOMD's own files do.
            tr.states.add(**{k: v for k, v in zip(_STATE_KEYS, values, strict=True) if v})


# ------------------------------------------------------------------------------------------------- map
def _points(pts) -> list[tuple[float, float, float]]:
    return [(p.x, p.y, p.z) for p in pts]


def _map_from_proto(features) -> MapFeatures:
    rows = []
    for f in features:
        which = f.WhichOneof("feature_data")
        if which is None:
            continue  # a feature without data carries nothing we can use
        kind = _ONEOF_KIND[which]
        data = getattr(f, which)
        row: dict = {"id": f.id, "kind": kind}
        if kind == MapKind.STOP_SIGN:
            row["points"] = (
                np.array([_points([data.position])[0]]) if data.HasField("position") else np.zeros((0, 3))
            )
            row["stop_sign_lanes"] = list(data.lane)
        else:
            row["points"] = np.array(_points(getattr(data, _POLY_FIELD[kind][1])), np.float64).reshape(-1, 3)
        if kind in (MapKind.LANE, MapKind.ROAD_LINE, MapKind.ROAD_EDGE):
            row["subtype"] = data.type
        if kind == MapKind.LANE:
            row["speed_limit_mph"] = data.speed_limit_mph
            row["interpolating"] = data.interpolating
            row["entry_lanes"] = list(data.entry_lanes)
            row["exit_lanes"] = list(data.exit_lanes)
            row["left_neighbors"] = [n.feature_id for n in data.left_neighbors]
            row["right_neighbors"] = [n.feature_id for n in data.right_neighbors]
        rows.append(row)
    return MapFeatures.from_polylines(rows)


def _set_points(field, pts: np.ndarray) -> None:
    for x, y, z in pts.tolist():
        field.add(x=x, y=y, z=z)


def _map_to_proto(m: MapFeatures, msg: scenario_pb.Scenario) -> None:
    for f in range(m.num_features):
        fid, kind = int(m.id[f]), MapKind(int(m.kind[f]))
        feat = msg.map_features.add(id=fid)
        pts = m.polyline(f)
        if kind == MapKind.STOP_SIGN:
            data = feat.stop_sign
            data.lane.extend(m.stop_sign_lanes.get(fid, []))
            if len(pts):
                data.position.x, data.position.y, data.position.z = pts[0].tolist()
            else:
                data.SetInParent()
            continue
        name, poly = _POLY_FIELD[kind]
        data = getattr(feat, name)
        if kind == MapKind.LANE:
            data.speed_limit_mph = float(m.speed_limit_mph[f])
            data.type = int(m.subtype[f])
            data.interpolating = bool(m.interpolating[f])
        elif kind in (MapKind.ROAD_LINE, MapKind.ROAD_EDGE):
            data.type = int(m.subtype[f])
        _set_points(getattr(data, poly), pts)
        if kind == MapKind.LANE:
            data.entry_lanes.extend(m.entry_lanes.get(fid, []))
            data.exit_lanes.extend(m.exit_lanes.get(fid, []))
            for n in m.left_neighbors.get(fid, []):
                data.left_neighbors.add(feature_id=n)
            for n in m.right_neighbors.get(fid, []):
                data.right_neighbors.add(feature_id=n)
        data.SetInParent()


# --------------------------------------------------------------------------------------------- signals
def _signals_from_proto(states, num_steps: int) -> SignalStates:
    t = max(len(states), num_steps)
    slots = max((len(s.lane_states) for s in states), default=0)
    if t * slots > MAX_SIGNAL_CELLS:  # dense [T, S]: one long step must not blow up every other step
        raise ValueError(f"{t} steps x {slots} signal lanes per step is more than {MAX_SIGNAL_CELLS} slots")
    out = SignalStates(
        lane_id=np.zeros((t, slots), np.int64),
        state=np.zeros((t, slots), np.int8),
        stop_point=np.zeros((t, slots, 3), np.float64),
        valid=np.zeros((t, slots), bool),
    )
    for step, dyn in enumerate(states):
        for k, ls in enumerate(dyn.lane_states):
            out.lane_id[step, k] = ls.lane
            out.state[step, k] = ls.state
            out.stop_point[step, k] = (ls.stop_point.x, ls.stop_point.y, ls.stop_point.z)
            out.valid[step, k] = True
    return out


def _signals_to_proto(sig: SignalStates, msg: scenario_pb.Scenario, num_steps: int) -> None:
    for step in range(num_steps):
        dyn = msg.dynamic_map_states.add()
        if step >= sig.num_steps:
            continue
        for k in np.flatnonzero(sig.valid[step]):
            x, y, z = sig.stop_point[step, k].tolist()
            dyn.lane_states.add(
                lane=int(sig.lane_id[step, k]),
                state=int(sig.state[step, k]),
                stop_point=map_pb.MapPoint(x=x, y=y, z=z),
            )


# ------------------------------------------------------------------------------------------- scenario
def scenario_from_proto(
    msg: scenario_pb.Scenario, path: str | Path | None = None, record: int | None = None
) -> Scenario:
    """Convert a parsed proto; structural problems raise `DataError` naming `path` and `record`."""
    num_steps = len(msg.timestamps_seconds) or (len(msg.tracks[0].states) if msg.tracks else 0)
    if not isinstance(msg.scenario_id, str):  # upb hands back bytes for a proto2 string that is not UTF-8
        raise DataError(path, f"scenario_id {msg.scenario_id!r} is not valid UTF-8 text", record)
    if not 0 <= msg.current_time_index < max(num_steps, 1):
        raise DataError(
            path, f"scenario {msg.scenario_id!r}: current_time_index {msg.current_time_index} "
            f"outside its {num_steps} steps", record,
        )  # fmt: skip
    try:
        tracks = _tracks_from_proto(msg.tracks, num_steps)
        signals = _signals_from_proto(msg.dynamic_map_states, num_steps)
    except ValueError as e:
        raise DataError(path, f"scenario {msg.scenario_id!r}: {e}", record) from e
    if tracks.num_agents and not (0 <= msg.sdc_track_index < tracks.num_agents):
        raise DataError(
            path, f"scenario {msg.scenario_id!r}: sdc_track_index {msg.sdc_track_index} out of range", record
        )
    ttp = np.array([r.track_index for r in msg.tracks_to_predict], np.int64)
    if np.any((ttp < 0) | (ttp >= max(tracks.num_agents, 1))):
        raise DataError(path, f"scenario {msg.scenario_id!r}: tracks_to_predict index out of range", record)
    return Scenario(
        scenario_id=msg.scenario_id,
        timestamps=np.array(msg.timestamps_seconds, np.float64),
        tracks=tracks,
        map=_map_from_proto(msg.map_features),
        signals=signals,
        sdc_track_index=int(msg.sdc_track_index),
        tracks_to_predict=ttp,
        tracks_to_predict_difficulty=np.array([r.difficulty for r in msg.tracks_to_predict], np.int8),
        objects_of_interest=np.array(msg.objects_of_interest, np.int64),
        current_step=int(msg.current_time_index),
    )


def scenario_to_proto(s: Scenario) -> scenario_pb.Scenario:
    msg = scenario_pb.Scenario(
        scenario_id=s.scenario_id,
        current_time_index=int(s.current_step),
        sdc_track_index=int(s.sdc_track_index),
    )
    msg.timestamps_seconds.extend(s.timestamps.tolist())
    _tracks_to_proto(s.tracks, msg)
    msg.objects_of_interest.extend(s.objects_of_interest.tolist())
    _signals_to_proto(s.signals, msg, len(s.timestamps))
    _map_to_proto(s.map, msg)
    for idx, diff in zip(s.tracks_to_predict.tolist(), s.tracks_to_predict_difficulty.tolist(), strict=True):
        msg.tracks_to_predict.add(track_index=idx, difficulty=diff)
    return msg


def wire_type_clashes(msg) -> list[int]:
    """Known field numbers that arrived with another wire type: the bytes are some other message
    (a submission read as a Scenario, say). Unknown *new* fields are fine (newer WOMD releases)."""
    known = {f.number for f in msg.DESCRIPTOR.fields}
    return sorted({u.field_number for u in UnknownFieldSet(msg) if u.field_number in known})


# ---------------------------------------------------------------------------------------------- files
def expand_paths(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """Files from paths, directories (every file inside) and glob patterns, sorted, duplicates removed."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out: list[Path] = []
    for p in paths:
        p = str(p)
        if any(c in p for c in "*?["):
            matches = sorted(_glob.glob(p, recursive=True))
            if not matches:
                raise DataError(p, "glob pattern matches no file")
            out.extend(Path(m) for m in matches if Path(m).is_file())
        elif Path(p).is_dir():
            out.extend(sorted(q for q in Path(p).iterdir() if q.is_file() and not q.name.startswith(".")))
        elif Path(p).is_file():
            out.append(Path(p))
        else:
            raise DataError(p, "no such file or directory")
    seen: set[Path] = set()
    return [p for p in out if not (p in seen or seen.add(p))]


def parse_scenario(
    payload: bytes, path: str | Path | None = None, record: int | None = None, check: bool = True
) -> Scenario:
    try:
        msg = scenario_pb.Scenario.FromString(payload)
    except DecodeError as e:
        raise DataError(path, f"record is not a decodable Scenario proto ({e})", record) from e
    clash = wire_type_clashes(msg)
    if clash:
        raise DataError(
            path, f"record is not a Scenario proto (field(s) {clash} have the wrong wire type)", record
        )
    s = scenario_from_proto(msg, path, record)
    return check_scenario(s, path, record) if check else s


def read_scenarios(
    paths: str | Path | Iterable[str | Path],
    skip_bad: bool = False,
    stats: dict | None = None,
    check: bool = True,
    shuffle_buffer: int = 0,
    seed: int = 0,
    workers: int = 0,
) -> Iterator[Scenario]:
    """Stream scenarios lazily from TFRecord shards (paths, directories or globs).

    With `skip_bad`, corrupt records and unusable scenarios are skipped and counted in
    `stats["bad_records"]` instead of raising. `shuffle_buffer > 0` shuffles files and records
    through a buffer of that many scenarios (deterministic for `seed`). `workers > 1` decodes
    whole files in that many processes (file order is kept).
    """
    files = expand_paths(paths)
    rng = random.Random(seed)
    if shuffle_buffer:
        rng.shuffle(files)
    stats = {} if stats is None else stats
    stats.setdefault("bad_records", 0)
    stats.setdefault("scenarios", 0)

    def stream() -> Iterator[Scenario]:
        if workers > 1 and len(files) > 1:
            yield from _stream_parallel(files, skip_bad, check, stats, workers)
            return
        for f in files:
            for i, payload in enumerate(iter_records(f, skip_bad=skip_bad, stats=stats)):
                try:
                    s = parse_scenario(payload, f, i, check=check)
                except DataError:
                    if not skip_bad:
                        raise
                    stats["bad_records"] += 1
                    continue
                stats["scenarios"] += 1
                yield s

    if not shuffle_buffer:
        yield from stream()
        return
    buf: list[Scenario] = []
    for s in stream():
        buf.append(s)
        if len(buf) >= shuffle_buffer:
            yield buf.pop(rng.randrange(len(buf)))
    rng.shuffle(buf)
    yield from buf


def _read_file(args: tuple[Path, bool, bool]) -> tuple[list[Scenario], dict]:
    path, skip_bad, check = args
    stats: dict = {}
    return list(read_scenarios([path], skip_bad=skip_bad, stats=stats, check=check)), stats


def _stream_parallel(files, skip_bad, check, stats, workers) -> Iterator[Scenario]:
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(workers) as pool:
        for scenarios, st in pool.imap(_read_file, [(f, skip_bad, check) for f in files]):
            for k, v in st.items():
                stats[k] = stats.get(k, 0) + v
            yield from scenarios


def read_scenario(path: str | Path, check: bool = True) -> Scenario:
    """The first scenario of a file."""
    for s in read_scenarios([path], check=check):
        return s
    raise DataError(path, "file holds no record")


def write_scenarios(path: str | Path, scenarios: Iterable[Scenario]) -> int:
    """Atomically write scenarios as one TFRecord shard; returns the count."""
    return write_records(path, (scenario_to_proto(s).SerializeToString() for s in scenarios))
