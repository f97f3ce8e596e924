"""ScenarioNet / MetaDrive scenario pickles (nuScenes, nuPlan, AV2, Lyft, WOMD) -> `SourceScene`.

A scene pickle is a plain dict of NumPy arrays (loaded with `safe_pickle`, never `pickle.load`).
Conversion rules beyond the obvious field copies, each for a reason written beside it:

- types: VEHICLE / PEDESTRIAN / CYCLIST keep their WOMD class; cones, barriers and other objects
  are dropped, or kept as TYPE_OTHER (`keep_static`);
- time: scenes not at 10 Hz are resampled linearly (`scene.resample_to_10hz`); nuScenes pickles are
  already 10 Hz, interpolated by ScenarioNet from 2 Hz keyframes, so only every 5th step observes;
- velocity: a zero velocity at the last step of a valid run (ScenarioNet forces it there) becomes the
  backward difference of positions;
- nuScenes (`metadata.dataset == "nuscenes"`): the map has no elevation (the third lane column is
  yaw), so the map and all boxes get z = 0; the ego box's swapped length and width are put back; the
  drivable-area outline (`boundary_*`, stored as solid white road lines) becomes road edges, wound
  with the road on their left (`edges.orient_outline_rings`); connector lanes (no lane polygon) are
  interpolating lanes and their placeholder speed limit (100 km/h) is dropped;
- SDC from `metadata.sdc_id`; tracks to predict from `metadata.tracks_to_predict` for the window
  whose current step is the source's `current_time_index`, else the WOMD-like rule of `scene`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from smartr1.data.errors import DataError
from smartr1.data.foreign.edges import orient_outline_rings
from smartr1.data.foreign.ids import int_ids
from smartr1.data.foreign.safe_pickle import load_pickle
from smartr1.data.foreign.scene import PER_STEP, ConvertConfig, SourceScene, resample_to_10hz
from smartr1.data.geometry import wrap_angle
from smartr1.data.scenario import (
    AgentType,
    LaneType,
    MapFeatures,
    MapKind,
    RoadEdgeType,
    RoadLineType,
    SignalState,
    SignalStates,
)
from smartr1.data.timeline import STEP_SECONDS

INDEX_FILES = ("dataset_summary.pkl", "dataset_mapping.pkl")
KMH_TO_MPH = 0.621371192237334
NUSCENES_PLACEHOLDER_KMH = 100.0

AGENT_TYPES = {"VEHICLE": AgentType.VEHICLE, "PEDESTRIAN": AgentType.PEDESTRIAN, "CYCLIST": AgentType.CYCLIST}
LANE_TYPES = {
    "LANE_FREEWAY": LaneType.FREEWAY,
    "LANE_SURFACE_STREET": LaneType.SURFACE_STREET,
    "LANE_SURFACE_UNSTRUCTURE": LaneType.SURFACE_STREET,  # intersection areas: interpolating lanes
    "LANE_BIKE_LANE": LaneType.BIKE_LANE,
    "LANE_UNKNOWN": LaneType.UNDEFINED,
}
ROAD_LINE_TYPES = {f"ROAD_LINE_{t.name}": t for t in RoadLineType} | {"UNKNOWN_LINE": RoadLineType.UNKNOWN}
ROAD_EDGE_TYPES = {
    "ROAD_EDGE_UNKNOWN": RoadEdgeType.UNKNOWN,
    "ROAD_EDGE_BOUNDARY": RoadEdgeType.BOUNDARY,
    "ROAD_EDGE_MEDIAN": RoadEdgeType.MEDIAN,
    "ROAD_EDGE_SIDEWALK": RoadEdgeType.BOUNDARY,  # WOMD has no sidewalk edge: the curb bounds the road
}
POLYGON_KINDS = {
    "CROSSWALK": MapKind.CROSSWALK,
    "SPEED_BUMP": MapKind.SPEED_BUMP,
    "DRIVEWAY": MapKind.DRIVEWAY,
}


def scene_files(root: Path) -> list[Path]:
    """The scene pickles of a ScenarioNet dataset folder: from its `dataset_summary.pkl` (and
    `dataset_mapping.pkl` for scenes in sub-folders) when present, else every other `*.pkl`."""
    summary = root / INDEX_FILES[0]
    if not summary.is_file():
        return sorted(p for p in root.glob("*.pkl") if p.name not in INDEX_FILES)
    names = load_pickle(summary)
    mapping = load_pickle(root / INDEX_FILES[1]) if (root / INDEX_FILES[1]).is_file() else {}
    if not isinstance(names, dict) or not isinstance(mapping, dict):
        raise DataError(summary, "dataset summary / mapping is not a dict of scene file names")
    return [root / str(mapping.get(n, "")) / str(n) for n in sorted(names)]


def _state(path, key: str, state: dict, name: str, steps: int, width: tuple[int, ...]) -> np.ndarray:
    """One per-step state array as float64 [T] (width ()) or [T, w] for w in `width`."""
    if name not in state:
        raise DataError(path, f"track {key!r}: state has no {name!r}")
    try:
        a = np.asarray(state[name], np.float64)
    except (TypeError, ValueError) as e:
        raise DataError(path, f"track {key!r}: state {name!r} is not numeric ({e})") from e
    if not width and a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]  # nuScenes stores sizes as (T, 1)
    ok = a.shape[:1] == (steps,) and (a.ndim == 1 if not width else a.ndim == 2 and a.shape[1] in width)
    if not ok:
        want = f"({steps},)" if not width else f"({steps}, {'|'.join(map(str, width))})"
        raise DataError(path, f"track {key!r}: state {name!r} has shape {a.shape}, expected {want}")
    return a


def _end_of_run_velocity(x, y, vx, vy, valid) -> tuple[np.ndarray, np.ndarray]:
    """Replace the forced zero velocity at the last step of each valid run by the backward difference."""
    nxt = np.append(valid[1:], False)
    prv = np.insert(valid[:-1], 0, False)
    fix = valid & ~nxt & prv & (vx == 0.0) & (vy == 0.0)
    k = np.flatnonzero(fix)
    vx, vy = vx.copy(), vy.copy()
    vx[k] = (x[k] - x[k - 1]) / STEP_SECONDS
    vy[k] = (y[k] - y[k - 1]) / STEP_SECONDS
    return vx, vy


def _tracks(path, d: dict, steps: int, ts: np.ndarray, nuscenes: bool, cfg: ConvertConfig):
    """(per-field arrays of the kept tracks, their source keys)."""
    rows, keys, types = [], [], []
    sdc_key = str(d["metadata"].get("sdc_id", ""))
    for key, tr in d["tracks"].items():
        kind = str(tr.get("type", "")) if isinstance(tr, dict) else ""
        t = AGENT_TYPES.get(kind, AgentType.OTHER if cfg.keep_static else None)
        if t is None and str(key) != sdc_key:
            continue
        state = tr.get("state") if isinstance(tr, dict) else None
        if not isinstance(state, dict):
            raise DataError(path, f"track {key!r} has no state dict")
        pos = _state(path, key, state, "position", steps, (2, 3))
        vel = _state(path, key, state, "velocity", steps, (2,))
        row = {
            "x": pos[:, 0],
            "y": pos[:, 1],
            "z": np.zeros(steps) if nuscenes or pos.shape[1] == 2 else pos[:, 2],
            "heading": wrap_angle(_state(path, key, state, "heading", steps, ())),
            "length": _state(path, key, state, "length", steps, ()),
            "width": _state(path, key, state, "width", steps, ()),
            "height": _state(path, key, state, "height", steps, ()),
            "valid": _state(path, key, state, "valid", steps, ()) > 0.5,
        }
        row["velocity_x"], row["velocity_y"] = _end_of_run_velocity(
            row["x"], row["y"], vel[:, 0], vel[:, 1], row["valid"]
        )
        if nuscenes and str(key) == sdc_key and np.median(row["length"]) < np.median(row["width"]):
            row["length"], row["width"] = row["width"], row["length"]  # the ego box is stored swapped
        if not np.allclose(np.diff(ts), STEP_SECONDS, atol=1e-4):
            _, row = resample_to_10hz(ts, row)
        rows.append(row)
        keys.append(str(key))
        types.append(int(t if t is not None else AgentType.VEHICLE))
    if not rows:
        raise DataError(path, "no vehicle, pedestrian or cyclist track")
    ids = int_ids(keys)
    out = {name: np.stack([r[name] for r in rows]) for name in (*PER_STEP, "valid")}
    out["id"] = np.array([ids[k] for k in keys], np.int64)
    out["type"] = np.array(types, np.int8)
    return out, keys


def _points(path, fid, value, nuscenes: bool) -> np.ndarray:
    try:
        p = np.asarray(value, np.float64)
    except (TypeError, ValueError) as e:
        raise DataError(path, f"map feature {fid!r}: points are not numeric ({e})") from e
    if p.ndim != 2 or p.shape[1] not in (2, 3):
        raise DataError(path, f"map feature {fid!r}: points have shape {p.shape}, expected (N, 2|3)")
    p = p[:, :2] if nuscenes else p  # nuScenes lanes carry yaw, not z, in the third column
    return np.concatenate([p, np.zeros((len(p), 1))], axis=1) if p.shape[1] == 2 else p


def _neighbours(values) -> list:
    """Neighbour lane ids: MetaDrive stores plain ids or WOMD-like dicts with a `feature_id`."""
    return [v.get("feature_id") if isinstance(v, dict) else v for v in (values or [])]


def _map(path, d: dict, nuscenes: bool) -> tuple[MapFeatures, dict[str, int]]:
    feats = d["map_features"]
    if not isinstance(feats, dict):
        raise DataError(path, "map_features is not a dict")
    ids = int_ids(feats.keys())
    rows: list[dict] = []
    outline: list[tuple[str, np.ndarray]] = []

    def refs(values) -> list[int]:
        return [ids[str(v)] for v in (values or []) if str(v) in ids]

    for fid, f in feats.items():
        kind = str(f.get("type", "")) if isinstance(f, dict) else ""
        row = {"id": ids[str(fid)]}
        if kind in LANE_TYPES:
            connector = nuscenes and f.get("polygon") is None
            kmh = float(f.get("speed_limit_kmh") or 0.0)
            if connector and kmh == NUSCENES_PLACEHOLDER_KMH:
                kmh = 0.0
            row.update(
                kind=MapKind.LANE,
                subtype=LANE_TYPES[kind],
                points=_points(path, fid, f.get("polyline"), nuscenes),
                speed_limit_mph=kmh * KMH_TO_MPH,
                interpolating=connector or kind == "LANE_SURFACE_UNSTRUCTURE",
                entry_lanes=refs(f.get("entry_lanes")),
                exit_lanes=refs(f.get("exit_lanes")),
                left_neighbors=refs(_neighbours(f.get("left_neighbor"))),
                right_neighbors=refs(_neighbours(f.get("right_neighbor"))),
            )
        elif nuscenes and str(fid).startswith("boundary_") and kind in ROAD_LINE_TYPES:
            outline.append((str(fid), _points(path, fid, f.get("polyline"), nuscenes)))
            continue
        elif kind in ROAD_LINE_TYPES:
            row.update(kind=MapKind.ROAD_LINE, subtype=ROAD_LINE_TYPES[kind])
            row["points"] = _points(path, fid, f.get("polyline"), nuscenes)
        elif kind in ROAD_EDGE_TYPES:
            row.update(kind=MapKind.ROAD_EDGE, subtype=ROAD_EDGE_TYPES[kind])
            row["points"] = _points(path, fid, f.get("polyline"), nuscenes)
        elif kind in POLYGON_KINDS:
            poly = f.get("polygon") if f.get("polygon") is not None else f.get("polyline")
            row.update(kind=POLYGON_KINDS[kind], points=_points(path, fid, poly, nuscenes))
        elif kind == "STOP_SIGN":
            pos = f.get("position") if f.get("position") is not None else f.get("polyline")
            xyz = np.asarray(pos if pos is not None else [], np.float64).reshape(-1)[:3]
            pts = _points(path, fid, xyz[None, :], nuscenes) if len(xyz) >= 2 else np.zeros((0, 3))
            row.update(kind=MapKind.STOP_SIGN, points=pts, stop_sign_lanes=refs(f.get("lane")))
        else:
            continue  # walkways, carparks and other MetaDrive-only features have no WOMD kind
        rows.append(row)
    if outline:  # nuScenes: closed rings of the drivable area, wound road-on-the-left
        rings = [p for _, p in outline]
        closed = [i for i, p in enumerate(rings) if len(p) >= 4 and np.allclose(p[0], p[-1])]
        oriented = dict(zip(closed, orient_outline_rings([rings[i] for i in closed]), strict=True))
        for i, (fid, p) in enumerate(outline):
            rows.append(
                {"id": ids[fid], "kind": MapKind.ROAD_EDGE, "subtype": RoadEdgeType.BOUNDARY, "points": oriented.get(i, p)}
            )  # fmt: skip
    return MapFeatures.from_polylines([r for r in rows if len(r["points"])]), ids


_STATE_NAMES = {f"LANE_STATE_{s.name}": s for s in SignalState}


def _signals(path, d: dict, steps: int, map_ids: dict[str, int], ts: np.ndarray) -> SignalStates | None:
    dyn = d.get("dynamic_map_states") or {}
    slots = []
    for sid, sig in dyn.items():
        states = ((sig or {}).get("state") or {}).get("object_state")
        if states is None or len(states) != steps:
            raise DataError(path, f"signal {sid!r}: object_state is not a list of {steps} states")
        lane = str(sig.get("lane", sid))
        if lane not in map_ids:
            continue  # a signal on a lane outside the map cannot be tied to anything
        stop = np.asarray(sig.get("stop_point", (0.0, 0.0, 0.0)), np.float64).reshape(-1)[:3]
        slots.append((map_ids[lane], [_STATE_NAMES.get(str(s), SignalState.UNKNOWN) for s in states],
                      [s is not None for s in states], np.pad(stop, (0, 3 - len(stop)))))  # fmt: skip
    if not slots:
        return None
    t10 = np.arange(int(np.floor((ts[-1] - ts[0]) / STEP_SECONDS + 1e-6)) + 1) * STEP_SECONDS
    src = np.clip(np.searchsorted(ts - ts[0], t10 + 1e-6, side="right") - 1, 0, steps - 1)  # last state
    n = len(slots)
    return SignalStates(
        lane_id=np.repeat(np.array([s[0] for s in slots], np.int64)[None], len(src), axis=0),
        state=np.array([s[1] for s in slots], np.int8).T[src],
        stop_point=np.repeat(np.array([s[3] for s in slots])[None], len(src), axis=0).reshape(len(src), n, 3),
        valid=np.array([s[2] for s in slots], bool).T[src],
    )


def scene_from_dict(d, path: str | Path | None, cfg: ConvertConfig) -> SourceScene:
    """A ScenarioNet scene dict as a `SourceScene` on the 10 Hz time line."""
    if not isinstance(d, dict):
        raise DataError(path, f"not a ScenarioNet scene (a {type(d).__name__}, not a dict)")
    missing = [k for k in ("length", "metadata", "tracks", "map_features") if k not in d]
    if missing:
        raise DataError(path, f"not a ScenarioNet scene: missing key(s) {missing}")
    if not isinstance(d["tracks"], dict):
        raise DataError(path, "not a ScenarioNet scene: tracks is not a dict")
    meta = d["metadata"] if isinstance(d["metadata"], dict) else {}
    try:
        steps = int(d["length"])
        rate = float(meta.get("sample_rate") or STEP_SECONDS)
        ts = np.asarray(meta.get("ts", np.arange(steps) * rate), np.float64).reshape(-1)
    except (TypeError, ValueError) as e:
        raise DataError(path, f"length / metadata.ts / sample_rate are not numbers ({e})") from e
    if steps < 2 or len(ts) != steps or not (np.diff(ts) > 0).all():
        raise DataError(path, f"metadata.ts has {len(ts)} increasing times, expected length {steps}")
    nuscenes = str(meta.get("dataset", "")).lower().startswith("nuscenes")
    tracks, keys = _tracks(path, d, steps, ts, nuscenes, cfg)
    sdc_key = str(meta.get("sdc_id", ""))
    if sdc_key not in keys:
        raise DataError(path, f"metadata.sdc_id {sdc_key!r} is not a track of the scene")
    m, map_ids = _map(path, d, nuscenes)
    ttp = meta.get("tracks_to_predict") or {}
    current = meta.get("current_time_index")
    if current is not None and len(ts) and not np.allclose(np.diff(ts), STEP_SECONDS, atol=1e-4):
        current = int(round((ts[int(current)] - ts[0]) / STEP_SECONDS))
    return SourceScene(
        scene_id=str(meta.get("scenario_id") or meta.get("id") or d.get("id") or Path(str(path)).stem),
        tracks=tracks,
        map=m,
        sdc_index=keys.index(sdc_key),
        signals=_signals(path, d, steps, map_ids, ts),
        tracks_to_predict=tuple(keys.index(str(k)) for k in ttp if str(k) in keys),
        source_current=None if current is None else int(current),
    )


def read_scene(path: str | Path, cfg: ConvertConfig) -> SourceScene:
    """One ScenarioNet scene pickle, loaded safely."""
    return scene_from_dict(load_pickle(path), path, cfg)
