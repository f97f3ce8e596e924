"""SUMO network -> WOMD map features (once per world), and cropping around an SDC (once per scenario).

Lanes are the car and bike lanes of normal edges plus the junction (internal) lanes, which play
the role of WOMD's interpolating lanes; the lane graph follows SUMO's connections. Road lines and
road edges come from lane boundaries; junction corners from the right-turn lanes between the
rightmost road lanes (a rounded curb). Crosswalks are the crossing rectangles. Traffic-light links
map to their junction lane, whose first point is the stop point. Approaches that must stop at
unsignalled junctions get a stop sign at the curb. Parking lanes (no class allowed) are no map
lanes: like WOMD's curb-side parking they lie between the curb (road edge) and the travel lanes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from smartr1.data.errors import DataError
from smartr1.data.scenario import LaneType, MapFeatures, MapKind, RoadEdgeType, RoadLineType

RESAMPLE_M = 0.5  # WOMD polylines are sampled about every 0.5 m
FREEWAY_MPS = 25.0
MPS_TO_MPH = 2.2369362920544


@dataclass
class SignalLinks:
    """Every vehicle link of every traffic light: [L] arrays, one row per (tls, link index)."""

    tls: np.ndarray  # [L] int64, index into the recorder's sorted tls id list
    link: np.ndarray  # [L] int64, SUMO link index = position in the state string
    lane_id: np.ndarray  # [L] int64, map feature id of the junction lane the link drives on
    stop_point: np.ndarray  # [L, 3] float64, start of that junction lane
    arrow: np.ndarray  # [L] bool, protected-turn link (left / turnaround)


@dataclass
class WorldMap:
    features: MapFeatures
    signals: SignalLinks
    lane_ids: dict[str, int]  # SUMO lane id -> map feature id
    bounds: tuple[float, float, float, float]  # xmin, ymin, xmax, ymax of the network


def resample(points, step: float = RESAMPLE_M) -> np.ndarray:
    """A polyline resampled at equal arc-length steps of about `step`, keeping both ends. [n, 2] -> [m, 2]."""
    p = np.asarray(points, np.float64)[:, :2]
    if len(p) < 2:
        return p
    seg = np.hypot(*np.diff(p, axis=0).T)
    keep = np.concatenate([[True], seg > 1e-9])  # drop repeated points
    p = p[keep]
    if len(p) < 2:
        return np.concatenate([p, p])
    s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(p, axis=0).T))])
    n = max(2, int(np.ceil(s[-1] / step)) + 1)
    t = np.linspace(0.0, s[-1], n)
    return np.stack([np.interp(t, s, p[:, 0]), np.interp(t, s, p[:, 1])], axis=1)


def _side(shape, offset: float) -> list:
    """Offset a polyline sideways (positive = right of the driving direction)."""
    import sumolib  # SUMO: slow to import (~0.2 s), needed only while a world's map is extracted

    return sumolib.geomhelper.move2side(list(shape), offset)


def _road(lane) -> bool:
    """A lane vehicles or bikes drive on (not a sidewalk, crossing or walking area)."""
    return lane.allows("passenger") or lane.allows("bicycle")


def _bike_only(lane) -> bool:
    return lane.allows("bicycle") and not lane.allows("passenger")


def extract_map(net_file: str | Path, tls_ids: list[str] | None = None) -> WorldMap:
    """Read a SUMO .net.xml and build every map feature of the world (polylines resampled at 0.5 m)."""
    import sumolib  # SUMO: slow to import (~0.2 s), needed only while a world's map is extracted

    try:
        net = sumolib.net.readNet(str(net_file), withInternal=True, withPedestrianConnections=True)
    except Exception as e:  # sumolib raises plain exceptions from the XML parser
        raise DataError(net_file, f"cannot read SUMO network: {e}") from e

    edges = sorted(net.getEdges(withInternal=True), key=lambda e: e.getID())
    normal = [e for e in edges if e.getFunction() == ""]
    lanes = [ln for e in edges if e.getFunction() in ("", "internal") for ln in e.getLanes() if _road(ln)]
    lanes.sort(key=lambda ln: ln.getID())
    lane_ids = {ln.getID(): i + 1 for i, ln in enumerate(lanes)}
    rows: list[dict] = []

    # Lanes with their graph.
    entry: dict[int, list[int]] = {}
    exits: dict[int, list[int]] = {}
    for ln in lanes:
        fid = lane_ids[ln.getID()]
        out = []
        for c in ln.getOutgoing():
            target = c.getViaLaneID() or c.getToLane().getID()
            if target in lane_ids and lane_ids[target] not in out:
                out.append(lane_ids[target])
        exits[fid] = out
        for t in out:
            entry.setdefault(t, []).append(fid)
    for ln in lanes:
        fid = lane_ids[ln.getID()]
        speed = ln.getSpeed()
        if _bike_only(ln):
            ltype = LaneType.BIKE_LANE
        elif speed > FREEWAY_MPS:
            ltype = LaneType.FREEWAY
        else:
            ltype = LaneType.SURFACE_STREET
        left, right = [], []
        if ln.getEdge().getFunction() == "":
            road = [x for x in ln.getEdge().getLanes() if _road(x)]
            k = road.index(ln)
            if k + 1 < len(road):
                left.append(lane_ids[road[k + 1].getID()])
            if k > 0:
                right.append(lane_ids[road[k - 1].getID()])
        rows.append(
            dict(
                id=fid,
                kind=MapKind.LANE,
                subtype=ltype,
                points=resample(ln.getShape()),
                speed_limit_mph=speed * MPS_TO_MPH,
                interpolating=ln.getEdge().getFunction() == "internal",
                entry_lanes=entry.get(fid, []),
                exit_lanes=exits[fid],
                left_neighbors=left,
                right_neighbors=right,
            )
        )

    next_id = len(lanes) + 1

    def add(kind, subtype, pts):
        nonlocal next_id
        p = resample(pts)
        if len(p) >= 2:
            rows.append(dict(id=next_id, kind=kind, subtype=subtype, points=p))
            next_id += 1

    edge_ids = {e.getID() for e in normal}
    for e in normal:
        road = [x for x in e.getLanes() if _road(x)]
        if not road:
            continue
        # Lines between neighbouring road lanes.
        for k in range(len(road) - 1):
            a, b = road[k], road[k + 1]
            sub = (
                RoadLineType.SOLID_SINGLE_WHITE
                if _bike_only(a) != _bike_only(b)
                else RoadLineType.BROKEN_SINGLE_WHITE
            )
            add(MapKind.ROAD_LINE, sub, _side(a.getShape(), -a.getWidth() / 2))
        # Centre line of a two-way road (once per pair), else the far curb of a one-way road.
        top = road[-1]
        reverse = [
            o.getID()
            for o in e.getToNode().getOutgoing()
            if o.getToNode() == e.getFromNode() and o.getID() in edge_ids
        ]
        left_side = _side(top.getShape(), -top.getWidth() / 2)
        if reverse:
            if e.getID() < min(reverse):
                add(MapKind.ROAD_LINE, RoadLineType.SOLID_DOUBLE_YELLOW, left_side)
        else:
            add(MapKind.ROAD_EDGE, RoadEdgeType.BOUNDARY, left_side)
        # Curb on the right, and the rounded corner of every right turn into the next curb lane.
        low = road[0]
        add(MapKind.ROAD_EDGE, RoadEdgeType.BOUNDARY, _side(low.getShape(), low.getWidth() / 2))
        for c in low.getOutgoing():
            to = c.getToLane()
            to_road = [x for x in to.getEdge().getLanes() if _road(x)]
            if c.getDirection() != "r" or not to_road or to_road[0] != to:
                continue
            shape = []
            via = c.getViaLaneID()
            seen = set()
            while via and via not in seen:  # follow the chain of junction lanes
                seen.add(via)
                vl = net.getLane(via)
                shape += _side(vl.getShape(), vl.getWidth() / 2)
                nxt = vl.getOutgoing()
                via = nxt[0].getViaLaneID() if nxt else ""
            if len(shape) >= 2:
                add(MapKind.ROAD_EDGE, RoadEdgeType.BOUNDARY, shape)

    # Stop signs: one per approach whose car links must stop (priority_stop / allway_stop junctions),
    # at the curb beside the stop line, controlling the approach's car lanes.
    for e in normal:
        cars = [x for x in e.getLanes() if x.allows("passenger")]
        stopped = [x for x in cars if any(c.getState() in ("s", "w") for c in x.getOutgoing())]
        road = [x for x in e.getLanes() if _road(x)]
        if stopped and road:
            low = road[0]
            curb = _side(low.getShape(), low.getWidth() / 2 + 0.5)
            rows.append(
                dict(
                    id=next_id,
                    kind=MapKind.STOP_SIGN,
                    points=np.asarray([curb[-1][:2]], np.float64),
                    stop_sign_lanes=[lane_ids[x.getID()] for x in stopped],
                )
            )
            next_id += 1

    # Crosswalks: the crossing's rectangle (a polygon; not resampled).
    for e in edges:
        if e.getFunction() != "crossing":
            continue
        for ln in e.getLanes():
            shape = np.asarray(ln.getShape(), np.float64)[:, :2]
            if len(shape) < 2:
                continue
            h = ln.getWidth() / 2
            right = np.asarray(_side(shape.tolist(), h))[:, :2]
            left = np.asarray(_side(shape.tolist(), -h))[:, :2]
            poly = np.concatenate([right, left[::-1]])
            rows.append(dict(id=next_id, kind=MapKind.CROSSWALK, points=poly))
            next_id += 1

    features = MapFeatures.from_polylines(rows)

    # Traffic-light links -> junction lanes.
    tls_ids = sorted(t.getID() for t in net.getTrafficLights()) if tls_ids is None else list(tls_ids)
    tls_index = {t: i for i, t in enumerate(tls_ids)}
    sig = {"tls": [], "link": [], "lane_id": [], "stop_point": [], "arrow": []}
    for tl in sorted(net.getTrafficLights(), key=lambda t: t.getID()):
        if tl.getID() not in tls_index:
            continue
        for in_lane, out_lane, link in tl.getConnections():
            if not (_road(in_lane) and _road(out_lane)):
                continue  # pedestrian crossing signals have no WOMD lane
            conn = [c for c in in_lane.getOutgoing() if c.getToLane() == out_lane]
            if not conn:
                continue
            via = conn[0].getViaLaneID()
            if via not in lane_ids:
                continue
            start = net.getLane(via).getShape()[0]
            sig["tls"].append(tls_index[tl.getID()])
            sig["link"].append(int(link))
            sig["lane_id"].append(lane_ids[via])
            sig["stop_point"].append([start[0], start[1], 0.0])
            sig["arrow"].append(conn[0].getDirection() in ("l", "L", "t"))
    signals = SignalLinks(
        tls=np.asarray(sig["tls"], np.int64),
        link=np.asarray(sig["link"], np.int64),
        lane_id=np.asarray(sig["lane_id"], np.int64),
        stop_point=np.asarray(sig["stop_point"], np.float64).reshape(-1, 3),
        arrow=np.asarray(sig["arrow"], bool),
    )
    xmin, ymin, xmax, ymax = net.getBoundary()
    return WorldMap(features=features, signals=signals, lane_ids=lane_ids, bounds=(xmin, ymin, xmax, ymax))


def crop_map(m: MapFeatures, centre, radius: float) -> MapFeatures:
    """The features with any point within `radius` of `centre` (whole features, as in WOMD); the lane
    graph keeps only references to lanes that stay."""
    if m.num_features == 0:
        return m
    d2 = ((m.points[:, :2] - np.asarray(centre, np.float64)[:2]) ** 2).sum(axis=1)
    lens = np.diff(m.offsets)
    nearest = np.minimum.reduceat(d2, m.offsets[:-1]) if len(d2) else np.zeros(0)
    keep = np.flatnonzero((lens > 0) & (nearest <= radius * radius))
    rows_pts = [m.points[m.offsets[f] : m.offsets[f + 1]] for f in keep]
    lens_k = np.array([len(p) for p in rows_pts], np.int64)
    out = MapFeatures(
        id=m.id[keep].copy(),
        kind=m.kind[keep].copy(),
        subtype=m.subtype[keep].copy(),
        points=np.concatenate(rows_pts) if rows_pts else np.zeros((0, 3)),
        offsets=np.concatenate([[0], np.cumsum(lens_k)]).astype(np.int64),
        speed_limit_mph=m.speed_limit_mph[keep].copy(),
        interpolating=m.interpolating[keep].copy(),
    )
    kept = {int(i) for i in out.id}
    for key in ("entry_lanes", "exit_lanes", "left_neighbors", "right_neighbors", "stop_sign_lanes"):
        src, dst = getattr(m, key), getattr(out, key)
        for fid, refs in src.items():
            if fid in kept:
                refs = [r for r in refs if r in kept]
                if refs:
                    dst[fid] = refs
    return out
