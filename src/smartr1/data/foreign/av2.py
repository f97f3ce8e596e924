"""Argoverse 2 motion-forecasting scenarios (scenario parquet + log map JSON) -> `SourceScene`.

AV2 scenes have 110 steps at 10 Hz; the WOMD window is AV2 steps 0..90 with current step 10 (AV2's
own split, current step 49 with a 6 s future, cannot hold WOMD's 8 s future). Rules:

- tracks: validity is row presence (not `observed`, which marks AV2's 5 s history); the AV is the
  SDC; the focal and scored tracks are the tracks to predict; AV2 has no boxes, so `BOX_SIZES` gives
  one per type, and no z, so the scene is flat: z = 0 for boxes and map;
- lanes: centre line = midpoints of the left and right boundaries, resampled to WOMD's 0.5 m; VEHICLE
  and BUS lanes are surface streets, BIKE lanes bike lanes, intersection lanes interpolating; the
  lane graph keeps predecessors / successors / neighbours that exist in the file;
- road lines: lane boundaries whose mark is not NONE, once each (adjacent lanes share them);
- road edges: the drivable-area outlines, wound with the road on their left, stretches shared by
  two drivable areas dropped (`edges.drivable_area_edges`); crosswalks: edge1 + reversed edge2.

pyarrow is optional (`pip install 'smartr1[av2]'`) and imported only when a parquet is read.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from smartr1.data.errors import DataError
from smartr1.data.foreign.edges import centre_line, drivable_area_edges
from smartr1.data.foreign.ids import int_ids
from smartr1.data.foreign.scene import ConvertConfig, SourceScene
from smartr1.data.geometry import wrap_angle
from smartr1.data.scenario import AgentType, LaneType, MapFeatures, MapKind, RoadEdgeType, RoadLineType
from smartr1.data.sumo.map_extract import resample
from smartr1.data.timeline import CURRENT_STEP

SDC_TRACK = "AV"
AV2_CURRENT_STEP = CURRENT_STEP  # the window is AV2 steps 0..90, so its current step is AV2's step 10
COLUMNS = ("track_id", "object_type", "object_category", "timestep", "position_x", "position_y",
           "heading", "velocity_x", "velocity_y", "scenario_id", "focal_track_id", "num_timestamps")  # fmt: skip
AGENT_TYPES = {
    "vehicle": AgentType.VEHICLE,
    "bus": AgentType.VEHICLE,
    "pedestrian": AgentType.PEDESTRIAN,
    "cyclist": AgentType.CYCLIST,
    "motorcyclist": AgentType.CYCLIST,
}
# (length, width, height) in m. vehicle and pedestrian: medians of the real WOMD tracks in
# ../shared/data/real_womd (400 vehicles, 53 pedestrians); bus, cyclist, other: typical sizes.
BOX_SIZES = {
    "vehicle": (4.7, 2.1, 1.75),
    "bus": (12.0, 2.6, 3.2),
    "pedestrian": (0.9, 0.85, 1.75),
    "cyclist": (2.0, 0.8, 1.7),
    "motorcyclist": (2.0, 0.8, 1.7),
}
OTHER_BOX = (1.0, 1.0, 1.0)
SCORED_CATEGORIES = (2, 3)  # SCORED_TRACK, FOCAL_TRACK
LANE_TYPES = {"VEHICLE": LaneType.SURFACE_STREET, "BUS": LaneType.SURFACE_STREET, "BIKE": LaneType.BIKE_LANE}
MARK_TYPES = {
    "DASHED_WHITE": RoadLineType.BROKEN_SINGLE_WHITE,
    "DOUBLE_DASH_WHITE": RoadLineType.BROKEN_SINGLE_WHITE,  # WOMD has no broken double white
    "SOLID_WHITE": RoadLineType.SOLID_SINGLE_WHITE,
    "DASH_SOLID_WHITE": RoadLineType.SOLID_SINGLE_WHITE,  # mixed white: the solid side rules
    "SOLID_DASH_WHITE": RoadLineType.SOLID_SINGLE_WHITE,
    "DOUBLE_SOLID_WHITE": RoadLineType.SOLID_DOUBLE_WHITE,
    "DASHED_YELLOW": RoadLineType.BROKEN_SINGLE_YELLOW,
    "DOUBLE_DASH_YELLOW": RoadLineType.BROKEN_DOUBLE_YELLOW,
    "SOLID_YELLOW": RoadLineType.SOLID_SINGLE_YELLOW,
    "DOUBLE_SOLID_YELLOW": RoadLineType.SOLID_DOUBLE_YELLOW,
    "DASH_SOLID_YELLOW": RoadLineType.PASSING_DOUBLE_YELLOW,
    "SOLID_DASH_YELLOW": RoadLineType.PASSING_DOUBLE_YELLOW,
    "SOLID_BLUE": RoadLineType.UNKNOWN,
    "UNKNOWN": RoadLineType.UNKNOWN,
}


def scene_files(root: Path) -> list[Path]:
    """Every `scenario_*.parquet` under a folder (one AV2 scenario folder or a whole split)."""
    return sorted(root.rglob("scenario_*.parquet"))


def map_file(parquet: Path) -> Path:
    """The scenario's `log_map_archive_*.json` beside its parquet."""
    found = sorted(parquet.parent.glob("log_map_archive_*.json"))
    if not found:
        raise DataError(parquet, "no log_map_archive_*.json beside the scenario parquet")
    return found[0]


def _read_table(path: Path) -> dict[str, np.ndarray]:
    try:  # optional dependency: only AV2 input needs it
        import pyarrow.parquet as pq
    except ImportError as e:
        raise DataError(path, "reading Argoverse 2 needs pyarrow: pip install 'smartr1[av2]'") from e
    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow raises ArrowInvalid, OSError, ... for broken files
        raise DataError(path, f"not a readable parquet file ({type(e).__name__}: {e})") from e
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise DataError(path, f"not an AV2 scenario table: missing column(s) {missing}")
    return {c: table.column(c).to_numpy(zero_copy_only=False) for c in COLUMNS}


def _tracks(path: Path, t: dict[str, np.ndarray], cfg: ConvertConfig):
    steps = int(t["num_timestamps"][0]) if len(t["num_timestamps"]) else 0
    step = t["timestep"].astype(np.int64)
    if len(step) == 0 or step.min() < 0 or step.max() >= steps:
        raise DataError(path, f"timesteps outside 0..{steps - 1} (or no rows)")
    keys = list(dict.fromkeys(str(k) for k in t["track_id"]))  # first-appearance order
    if SDC_TRACK not in keys:
        raise DataError(path, f"no {SDC_TRACK!r} track (the SDC)")
    obj_type = {}
    for k, ty in zip(t["track_id"], t["object_type"], strict=True):
        obj_type.setdefault(str(k), str(ty))
    keep = [k for k in keys if k == SDC_TRACK or obj_type[k] in AGENT_TYPES or cfg.keep_static]
    row_of = {k: i for i, k in enumerate(keep)}
    rows = np.array([row_of.get(str(k), -1) for k in t["track_id"]])
    sel = rows >= 0
    a, s = rows[sel], step[sel]
    n = len(keep)
    out: dict[str, np.ndarray] = {}
    valid = np.zeros((n, steps), bool)
    if np.any(np.bincount(a * steps + s, minlength=n * steps) > 1):
        raise DataError(path, "a track has two rows for the same timestep")
    valid[a, s] = True
    for name, col in (("x", "position_x"), ("y", "position_y"), ("heading", "heading"),
                      ("velocity_x", "velocity_x"), ("velocity_y", "velocity_y")):  # fmt: skip
        v = np.zeros((n, steps))
        v[a, s] = t[col][sel].astype(np.float64)
        out[name] = v
    if not all(np.isfinite(out[k][valid]).all() for k in out):
        raise DataError(path, "non-finite position, heading or velocity")
    out["heading"] = wrap_angle(out["heading"])
    out["z"] = np.zeros((n, steps))
    sizes = np.array([BOX_SIZES.get(obj_type[k], OTHER_BOX) for k in keep])
    for i, name in enumerate(("length", "width", "height")):
        out[name] = np.repeat(sizes[:, i : i + 1], steps, axis=1)
    out["valid"] = valid
    ids = int_ids(keep)
    out["id"] = np.array([ids[k] for k in keep], np.int64)
    types = [AGENT_TYPES.get(obj_type[k], AgentType.OTHER) for k in keep]
    types[keep.index(SDC_TRACK)] = AgentType.VEHICLE
    out["type"] = np.array(types, np.int8)
    category = {str(k): int(c) for k, c in zip(t["track_id"], t["object_category"], strict=True)}
    scored = tuple(i for i, k in enumerate(keep) if category[k] in SCORED_CATEGORIES)
    return out, keep, scored


def _xyz(path: Path, what: str, pts) -> np.ndarray:
    try:
        p = np.array([[float(q["x"]), float(q["y"])] for q in pts], np.float64).reshape(-1, 2)
    except (TypeError, KeyError, ValueError) as e:
        raise DataError(path, f"{what}: not a list of {{x, y, z}} points ({e})") from e
    return np.concatenate([p, np.zeros((len(p), 1))], axis=1)  # flat: z = 0 (AV2 tracks have no z)


def _line_key(p: np.ndarray) -> tuple:
    """Same key for a boundary and its reverse (two lanes share one boundary)."""
    a = tuple(np.round(p[:, :2], 2).ravel())
    b = tuple(np.round(p[::-1, :2], 2).ravel())
    return min(a, b)


def _map(path: Path, m: dict) -> MapFeatures:
    if not isinstance(m, dict) or not isinstance(m.get("lane_segments"), dict):
        raise DataError(path, "not an AV2 log map: no 'lane_segments' object")
    lanes = m["lane_segments"]
    known = {str(k) for k in lanes}
    lane_ids = int_ids(lanes.keys())
    rows: list[dict] = []
    lines: dict[tuple, tuple[np.ndarray, str]] = {}
    for key, ls in lanes.items():
        where = f"lane segment {key}"
        try:
            left = _xyz(path, where, ls["left_lane_boundary"])
            right = _xyz(path, where, ls["right_lane_boundary"])
            kind = str(ls["lane_type"])
        except KeyError as e:
            raise DataError(path, f"{where}: no {e}") from e
        centre = resample(centre_line(left, right))
        rows.append({
            "id": lane_ids[str(key)],
            "kind": MapKind.LANE,
            "subtype": LANE_TYPES.get(kind, LaneType.UNDEFINED),
            "points": centre,
            "interpolating": bool(ls.get("is_intersection", False)),
            "entry_lanes": [lane_ids[str(v)] for v in ls.get("predecessors") or [] if str(v) in known],
            "exit_lanes": [lane_ids[str(v)] for v in ls.get("successors") or [] if str(v) in known],
            "left_neighbors": [lane_ids[str(v)] for v in [ls.get("left_neighbor_id")] if str(v) in known],
            "right_neighbors": [lane_ids[str(v)] for v in [ls.get("right_neighbor_id")] if str(v) in known],
        })  # fmt: skip
        for side, pts in (("left", left), ("right", right)):
            mark = str(ls.get(f"{side}_lane_mark_type", "NONE"))
            if mark != "NONE" and len(pts) >= 2:
                lines.setdefault(_line_key(pts), (pts, mark))
    next_id = max(lane_ids.values(), default=0) + 1
    for pts, mark in lines.values():
        rows.append(
            {"id": next_id, "kind": MapKind.ROAD_LINE, "subtype": MARK_TYPES.get(mark, 0), "points": pts}
        )
        next_id += 1
    areas = [_xyz(path, f"drivable area {k}", a.get("area_boundary", [])) for k, a in (m.get("drivable_areas") or {}).items()]  # fmt: skip
    for edge in drivable_area_edges([a for a in areas if len(a) >= 3]):
        rows.append(
            {"id": next_id, "kind": MapKind.ROAD_EDGE, "subtype": RoadEdgeType.BOUNDARY, "points": edge}
        )
        next_id += 1
    for k, pc in (m.get("pedestrian_crossings") or {}).items():
        e1 = _xyz(path, f"pedestrian crossing {k}", pc.get("edge1", []))
        e2 = _xyz(path, f"pedestrian crossing {k}", pc.get("edge2", []))
        if len(e1) >= 2 and len(e2) >= 2:
            rows.append({"id": next_id, "kind": MapKind.CROSSWALK, "points": np.concatenate([e1, e2[::-1]])})
            next_id += 1
    return MapFeatures.from_polylines(rows)


def read_scene(parquet: str | Path, cfg: ConvertConfig) -> SourceScene:
    """One AV2 motion-forecasting scenario (its parquet; the map JSON is found beside it)."""
    parquet = Path(parquet)
    jpath = map_file(parquet)
    table = _read_table(parquet)
    try:
        m = json.loads(jpath.read_text())
    except (OSError, ValueError) as e:
        raise DataError(jpath, f"not a readable JSON map ({e})") from e
    tracks, keys, scored = _tracks(parquet, table, cfg)
    sid = str(table["scenario_id"][0])
    return SourceScene(
        scene_id=f"av2-{sid}",
        tracks=tracks,
        map=_map(jpath, m),
        sdc_index=keys.index(SDC_TRACK),
        tracks_to_predict=scored,
        source_current=AV2_CURRENT_STEP,
    )
