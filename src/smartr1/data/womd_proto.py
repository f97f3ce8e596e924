"""WOMD `Scenario` protos <-> our `Scenario` dataclass, by field number, within stated size limits.

Lane neighbour and boundary index ranges are not carried by the dataclass (neighbour ids are);
everything else survives `scenario_to_proto(scenario_from_proto(pb))`. The limits are far above real
WOMD and are checked from the proto's own counts before anything is allocated.
"""

from __future__ import annotations

from itertools import chain
from operator import attrgetter
from pathlib import Path

import numpy as np
from google.protobuf.unknown_fields import UnknownFieldSet

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
# Size limits, far above real WOMD and checked from the proto's counts before anything is sized by
# them: a few MB of well-formed proto (repeated empty sub-messages) must not make the reader allocate
# gigabytes or run for minutes. A scenario over one is refused with a `DataError` naming it.
MAX_TRACKS = 10_000  # WOMD: at most a few hundred tracks per scenario
MAX_TRACK_CELLS = 1 << 22  # tracks x steps, about 200 MB of track arrays (WOMD: < 10^5 = 91 x ~1000)
MAX_MAP_FEATURES = 100_000  # map features that carry data (WOMD: hundreds to a few thousand)
MAX_POLYLINE_POINTS = 100_000  # points of one polyline or polygon (WOMD, 0.5 m apart: a few thousand)
MAX_MAP_POINTS = 1 << 22  # points of the whole map, about 100 MB as float64 (WOMD: 10^4 - 10^5)
MAX_SIGNAL_CELLS = 1 << 20  # signal steps x lanes per step (WOMD: 91 steps x tens of signal lanes)
_CHUNK_STATES = 1 << 14  # track states converted at a time (a WOMD scenario: a few blocks)
_state_values = attrgetter(*_STATE_KEYS)
_point_values = attrgetter("x", "y", "z")


# ----------------------------------------------------------------------------------------------- tracks
def _tracks_from_proto(tracks, num_steps: int, current_step: int | None = None) -> Tracks:
    """The tracks as arrays. With `current_step`, tracks none of which is valid at that step (an
    unusable scenario, which `check_scenario` refuses) are refused before anything is converted."""
    # Counts first: the arrays below are sized by them, so a lying proto must not get to allocate.
    first = next((tr for tr in tracks if len(tr.states) != num_steps), None)
    if first is not None:
        more = sum(len(tr.states) != num_steps for tr in tracks) - 1
        tail = f" (and {more} more tracks)" if more else ""
        raise ValueError(f"track {first.id} has {len(first.states)} states, expected {num_steps}{tail}")
    n = len(tracks)
    if n > MAX_TRACKS:
        raise ValueError(f"{n} tracks, more than the {MAX_TRACKS} a scenario may have")
    if n * num_steps > MAX_TRACK_CELLS:
        raise ValueError(f"{n} tracks x {num_steps} steps is more than {MAX_TRACK_CELLS} track states")
    if (
        n
        and num_steps
        and current_step is not None
        and not any(tr.states[current_step].valid for tr in tracks)
    ):
        raise ValueError(f"no agent is valid at the current step {current_step}")
    out = Tracks.empty(n, num_steps)
    out.id[:] = [tr.id for tr in tracks]
    out.type[:] = [tr.object_type for tr in tracks]
    # One attrgetter call per state (the cheapest read in the upb runtime), every track's states in
    # one stream, converted a bounded block at a time straight into the [A, T] arrays (views of
    # them, flattened): no Python row per state.
    cols = [getattr(out, k).reshape(-1) for k in ("x", "y", "z", "length", "width", "height", "heading",
                                                   "velocity_x", "velocity_y")]  # fmt: skip
    valid = out.valid.reshape(-1)
    values = map(_state_values, chain.from_iterable(tr.states for tr in tracks))
    row = np.dtype((np.float64, len(_STATE_KEYS)))
    total = n * num_steps
    for start in range(0, total, _CHUNK_STATES):
        stop = min(start + _CHUNK_STATES, total)
        rows = np.fromiter(values, row, count=stop - start)
        for k, col in enumerate(cols):
            col[start:stop] = rows[:, k]
        valid[start:stop] = rows[:, 9] != 0
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
def _map_from_proto(features) -> MapFeatures:
    """Every map feature that carries data (one without any is skipped: nothing to use). The counts
    are checked as the features go by, before any point is converted."""
    fid, kinds, subtype, speed, interp = [], [], [], [], []
    tables: dict[str, dict[int, list[int]]] = {
        k: {} for k in ("entry_lanes", "exit_lanes", "left_neighbors", "right_neighbors", "stop_sign_lanes")
    }
    lens: list[int] = []
    total = 0
    for f in features:
        which = f.WhichOneof("feature_data")
        if which is None:
            continue
        if len(fid) == MAX_MAP_FEATURES:
            raise ValueError(f"more than {MAX_MAP_FEATURES} map features")
        kind = _ONEOF_KIND[which]
        data = getattr(f, which)
        if kind == MapKind.STOP_SIGN:
            count = int(data.HasField("position"))
            if data.lane:
                tables["stop_sign_lanes"][int(f.id)] = [int(v) for v in data.lane]
        else:
            count = len(getattr(data, _POLY_FIELD[kind][1]))
            if count > MAX_POLYLINE_POINTS:
                raise ValueError(
                    f"map feature {f.id} has {count} points, more than {MAX_POLYLINE_POINTS} per feature"
                )
        total += count
        if total > MAX_MAP_POINTS:
            raise ValueError(f"more than {MAX_MAP_POINTS} map points")
        fid.append(f.id)
        kinds.append(int(kind))
        lens.append(count)
        subtype.append(data.type if kind in (MapKind.LANE, MapKind.ROAD_LINE, MapKind.ROAD_EDGE) else 0)
        if kind == MapKind.LANE:
            speed.append(data.speed_limit_mph)
            interp.append(data.interpolating)
            for key, values in (
                ("entry_lanes", data.entry_lanes),
                ("exit_lanes", data.exit_lanes),
                ("left_neighbors", [nb.feature_id for nb in data.left_neighbors]),
                ("right_neighbors", [nb.feature_id for nb in data.right_neighbors]),
            ):
                if values:
                    tables[key][int(f.id)] = [int(v) for v in values]
        else:
            speed.append(0.0)
            interp.append(False)
    if not fid:
        return MapFeatures.empty()

    def point_fields():
        for f in features:
            which = f.WhichOneof("feature_data")
            if which == "stop_sign":
                if f.stop_sign.HasField("position"):
                    yield (f.stop_sign.position,)
            elif which is not None:
                yield getattr(getattr(f, which), _POLY_FIELD[_ONEOF_KIND[which]][1])

    # One pass over every point, straight into the [P, 3] array (no Python row per point).
    points = np.fromiter(map(_point_values, chain.from_iterable(point_fields())), np.dtype((np.float64, 3)),
                         count=total)  # fmt: skip
    return MapFeatures(
        id=np.array(fid, np.int64),
        kind=np.array(kinds, np.int8),
        subtype=np.array(subtype, np.int8),
        points=points.reshape(total, 3),
        offsets=np.concatenate([[0], np.cumsum(lens)]).astype(np.int64),
        speed_limit_mph=np.array(speed, np.float64),
        interpolating=np.array(interp, bool),
        **tables,
    )


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
    if len(states) > num_steps:  # the signal timeline is the scenario's: padded when shorter, never longer
        raise ValueError(
            f"{len(states)} traffic-signal steps (dynamic_map_states), more than its {num_steps} steps"
        )
    t = num_steps
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
    msg: scenario_pb.Scenario,
    path: str | Path | None = None,
    record: int | None = None,
    usable_only: bool = False,
) -> Scenario:
    """Convert a parsed proto; structural problems raise `DataError` naming `path` and `record`.

    With `usable_only` (what `parse_scenario` passes when it checks), a scenario without any agent
    valid at the current step is refused before its tracks are converted, not after.
    """
    num_steps = len(msg.timestamps_seconds) or (len(msg.tracks[0].states) if msg.tracks else 0)
    if not isinstance(msg.scenario_id, str):  # upb hands back bytes for a proto2 string that is not UTF-8
        raise DataError(path, f"scenario_id {msg.scenario_id!r} is not valid UTF-8 text", record)
    if not 0 <= msg.current_time_index < max(num_steps, 1):
        raise DataError(
            path, f"scenario {msg.scenario_id!r}: current_time_index {msg.current_time_index} "
            f"outside its {num_steps} steps", record,
        )  # fmt: skip
    try:
        tracks = _tracks_from_proto(msg.tracks, num_steps, msg.current_time_index if usable_only else None)
        signals = _signals_from_proto(msg.dynamic_map_states, num_steps)
        map_features = _map_from_proto(msg.map_features)
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
        timestamps=np.fromiter(msg.timestamps_seconds, np.float64, count=len(msg.timestamps_seconds)),
        tracks=tracks,
        map=map_features,
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
