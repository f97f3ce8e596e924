"""Map segments: every polyline cut into 5 m pieces of 11 points, with kind and traffic-light state.

Densely sampled polylines (WOMD: ~0.5 m) are split where consecutive points are more than 3 m apart;
pieces are resampled along arc length and cut every 5 m; the last, shorter piece keeps 11 evenly spaced
points (tails under 0.25 m are dropped). Crosswalk polygons become the two polylines along their long
sides. Stop signs, speed bumps, driveways and features with fewer than two distinct points are dropped.
Resampling runs on all pieces of a scenario at once (one `searchsorted`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import torch

from smartr1.data.errors import DataError
from smartr1.data.scenario import MapKind, Scenario, SignalState

SEGMENT_POINTS = 11  # 5 m at 0.5 m spacing
SEGMENT_LENGTH = 5.0  # m
BREAK_GAP = 3.0  # m between raw points that starts a new piece
DENSE_SPACING = 1.5  # m, median point spacing below which a polyline counts as densely sampled
MIN_TAIL = 0.25  # m, shorter tail pieces of a longer polyline are dropped


class SegmentKind(IntEnum):
    LANE = 0
    ROAD_EDGE = 1
    ROAD_LINE = 2
    CROSSWALK = 3


class LightState(IntEnum):
    NONE = 0
    UNKNOWN = 1
    STOP = 2
    CAUTION = 3
    GO = 4


_KIND = {
    int(MapKind.LANE): SegmentKind.LANE,
    int(MapKind.ROAD_EDGE): SegmentKind.ROAD_EDGE,
    int(MapKind.ROAD_LINE): SegmentKind.ROAD_LINE,
    int(MapKind.CROSSWALK): SegmentKind.CROSSWALK,
}
_LIGHT = {
    SignalState.UNKNOWN: LightState.UNKNOWN,
    SignalState.ARROW_STOP: LightState.STOP,
    SignalState.STOP: LightState.STOP,
    SignalState.FLASHING_STOP: LightState.STOP,
    SignalState.ARROW_CAUTION: LightState.CAUTION,
    SignalState.CAUTION: LightState.CAUTION,
    SignalState.FLASHING_CAUTION: LightState.CAUTION,
    SignalState.ARROW_GO: LightState.GO,
    SignalState.GO: LightState.GO,
}


def light_state(state) -> np.ndarray:
    """WOMD SignalState values -> LightState values (unknown codes -> UNKNOWN)."""
    table = np.full(256, int(LightState.UNKNOWN), np.int64)
    for k, v in _LIGHT.items():
        table[int(k)] = int(v)
    return table[np.asarray(state).astype(np.int64) & 0xFF]


@dataclass
class MapSegments:
    points: torch.Tensor  # [M, 11, 2] float32, absolute xy
    pose: torch.Tensor  # [M, 3] float32, (x, y, heading) of the first point / first direction
    kind: torch.Tensor  # [M] long, SegmentKind
    light: torch.Tensor  # [M] long, LightState at the step (lanes only; NONE elsewhere)
    feature_id: torch.Tensor  # [M] long, id of the source map feature (added field)

    @property
    def num_segments(self) -> int:
        return int(self.kind.shape[0])

    @classmethod
    def empty(cls) -> MapSegments:
        return cls(
            points=torch.zeros(0, SEGMENT_POINTS, 2),
            pose=torch.zeros(0, 3),
            kind=torch.zeros(0, dtype=torch.long),
            light=torch.zeros(0, dtype=torch.long),
            feature_id=torch.zeros(0, dtype=torch.long),
        )


def crosswalk_sides(poly: np.ndarray) -> list[np.ndarray]:
    """The two long sides of a crosswalk polygon [n, 2] as 2-point polylines pointing the same way.

    Side 1 is the longest edge of the closed polygon; side 2 the longest edge not adjacent to it.
    """
    n = len(poly)
    if n < 2:
        return []
    if n == 2:
        return [poly.copy()]
    edges = [(poly[i], poly[(i + 1) % n]) for i in range(n)]
    length = np.array([np.hypot(*(b - a)) for a, b in edges])
    i = int(np.argmax(length))
    first = np.stack(edges[i])
    others = [j for j in range(n) if j not in (i, (i + 1) % n, (i - 1) % n)]
    if not others:
        return [first]
    j = max(others, key=lambda k: length[k])
    second = np.stack(edges[j])
    if np.dot(second[1] - second[0], first[1] - first[0]) < 0:
        second = second[::-1].copy()
    return [first, second]


def _pieces(pts: np.ndarray, split: bool = True) -> list[np.ndarray]:
    """Split a polyline [n, 2] at gaps over BREAK_GAP; drops repeated points.

    Only densely sampled polylines (median spacing <= DENSE_SPACING, as in WOMD) are split: in a sparse
    polyline (e.g. a polygon side) a long step is geometry, not a gap.
    """
    if len(pts) == 0:
        return []
    step = np.hypot(*np.diff(pts, axis=0).T) if len(pts) > 1 else np.zeros(0)
    keep = np.concatenate([[True], step > 1e-6])
    pts, step = pts[keep], step[keep[1:]]
    dense = split and len(step) > 0 and float(np.median(step)) <= DENSE_SPACING
    cuts = np.flatnonzero(step > BREAK_GAP) + 1 if dense else np.zeros(0, np.int64)
    return [p for p in np.split(pts, cuts) if len(p) >= 2]


def resample_pieces(pieces: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Cut pieces (each [n_i, 2], n_i >= 2) into <= 5 m segments of 11 evenly spaced points.

    Returns points [M, 11, 2] float64 and the piece index of each segment [M].
    """
    if not pieces:
        return np.zeros((0, SEGMENT_POINTS, 2)), np.zeros(0, np.int64)
    lens = np.array([len(p) for p in pieces])
    pts = np.concatenate(pieces)
    pid = np.repeat(np.arange(len(pieces)), lens)
    d = np.hypot(*np.diff(pts, axis=0).T)
    d[pid[1:] != pid[:-1]] = 0.0
    s = np.concatenate([[0.0], np.cumsum(d)])
    start = np.concatenate([[0], np.cumsum(lens)[:-1]])
    s_piece = s - s[start][pid]  # arc length within piece
    total = s_piece[start + lens - 1]
    nseg = np.maximum(1, np.ceil(total / SEGMENT_LENGTH - 1e-9).astype(np.int64))
    seg_piece = np.repeat(np.arange(len(pieces)), nseg)
    seg_k = np.arange(nseg.sum()) - np.repeat(np.cumsum(nseg) - nseg, nseg)
    seg_a = seg_k * SEGMENT_LENGTH
    seg_b = np.minimum(seg_a + SEGMENT_LENGTH, total[seg_piece])
    tail_short = (seg_b - seg_a < MIN_TAIL) & (nseg[seg_piece] > 1)
    seg_piece, seg_a, seg_b = seg_piece[~tail_short], seg_a[~tail_short], seg_b[~tail_short]
    frac = np.linspace(0.0, 1.0, SEGMENT_POINTS)
    q = seg_a[:, None] + (seg_b - seg_a)[:, None] * frac  # [M, 11] arc length within piece
    # Global monotone key: piece offset + arc length, so one searchsorted serves every piece.
    span = float(total.max()) + 1.0
    key = pid * span + s_piece
    qk = (seg_piece[:, None] * span + q).ravel()
    hi = np.searchsorted(key, qk, side="right")
    qp = np.repeat(seg_piece, SEGMENT_POINTS)
    last = (start + lens - 1)[qp]
    hi = np.clip(hi, start[qp] + 1, last)
    lo = hi - 1
    w = np.clip((qk - key[lo]) / np.maximum(key[hi] - key[lo], 1e-12), 0.0, 1.0)
    out = pts[lo] + w[:, None] * (pts[hi] - pts[lo])
    return out.reshape(-1, SEGMENT_POINTS, 2), seg_piece


def tokenize_map(scenario: Scenario, step: int = 10) -> MapSegments:
    """Map segments of a scenario with each lane's traffic-light state at `step`."""
    m = scenario.map
    pieces: list[np.ndarray] = []
    piece_feat: list[int] = []
    for f in range(m.num_features):
        kind = int(m.kind[f])
        if kind not in _KIND:
            continue
        pts = m.polyline(f)[:, :2]
        crosswalk = kind == int(MapKind.CROSSWALK)
        for line in crosswalk_sides(pts) if crosswalk else [pts]:
            for p in _pieces(line, split=not crosswalk):
                pieces.append(p)
                piece_feat.append(f)
    if not pieces:
        return MapSegments.empty()
    pts, seg_piece = resample_pieces(pieces)
    if not np.isfinite(pts).all():
        raise DataError(None, f"scenario {scenario.scenario_id!r}: non-finite map points")
    feat = np.asarray(piece_feat, np.int64)[seg_piece]
    kind = np.array([int(_KIND[int(k)]) for k in m.kind[feat]], np.int64)
    fid = m.id[feat].astype(np.int64)
    light = np.zeros(len(feat), np.int64)
    sig = scenario.signals
    if sig.valid.shape[1] and 0 <= step < sig.num_steps:
        ok = sig.valid[step]
        lanes, states = sig.lane_id[step][ok], light_state(sig.state[step][ok])
        table = dict(zip(lanes.tolist(), states.tolist(), strict=True))
        is_lane = kind == int(SegmentKind.LANE)
        light[is_lane] = [table.get(int(i), int(LightState.NONE)) for i in fid[is_lane]]
    d = pts[:, 1] - pts[:, 0]
    heading = np.arctan2(d[:, 1], d[:, 0])
    pose = np.concatenate([pts[:, 0], heading[:, None]], axis=1)
    return MapSegments(
        points=torch.from_numpy(pts.astype(np.float32)),
        pose=torch.from_numpy(pose.astype(np.float32)),
        kind=torch.from_numpy(kind),
        light=torch.from_numpy(light),
        feature_id=torch.from_numpy(fid),
    )
