"""Road edges oriented as WOMD orients them, and lane centres from lane boundaries.

The WOSAC offroad feature takes its sign from the road edge's direction: the road lies on the
**left** of a road edge (left = negative distance = on the road). Other datasets store the outline of
the drivable area with whatever winding their geometry library produced, so the converters re-orient
every outline here: a ring that bounds road from outside runs counter-clockwise, a hole in the road
(a block, a median island) runs clockwise. Which one a ring is comes from nesting: a ring inside an
odd number of other rings is a hole.
"""

from __future__ import annotations

import numpy as np
from matplotlib.path import Path as _MplPath

CLOSED_TOLERANCE_M = 1e-3


def signed_area(ring: np.ndarray) -> float:
    """Shoelace area of a ring's xy outline: > 0 counter-clockwise, < 0 clockwise."""
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def is_closed(points: np.ndarray) -> bool:
    return len(points) >= 4 and bool(np.linalg.norm(points[0, :2] - points[-1, :2]) < CLOSED_TOLERANCE_M)


def close_ring(points: np.ndarray) -> np.ndarray:
    """The ring with its first point repeated at the end (WOMD road-edge rings are closed)."""
    return points if is_closed(points) else np.concatenate([points, points[:1]])


def with_winding(ring: np.ndarray, counter_clockwise: bool) -> np.ndarray:
    """The ring, reversed if needed so that it winds the requested way."""
    return ring if (signed_area(ring) > 0) == counter_clockwise else ring[::-1].copy()


def nesting_depth(rings: list[np.ndarray]) -> list[int]:
    """For each ring, how many of the other rings contain its first point."""
    paths = [_MplPath(r[:, :2]) for r in rings]
    return [
        sum(bool(p.contains_point(r[0, :2])) for j, p in enumerate(paths) if j != i)
        for i, r in enumerate(rings)
    ]


def orient_outline_rings(rings: list[np.ndarray]) -> list[np.ndarray]:
    """Closed outline rings of a drivable area (outer rings and holes mixed), road on their left."""
    closed = [close_ring(r) for r in rings]
    return [with_winding(r, d % 2 == 0) for r, d in zip(closed, nesting_depth(closed), strict=True)]


def drivable_area_edges(polygons: list[np.ndarray], decimals: int = 2) -> list[np.ndarray]:
    """Road edges of drivable-area polygons that may touch each other (as AV2's do).

    Each polygon is wound counter-clockwise (road inside, on the left); a stretch that two polygons
    share (one runs it forward, the other backward) has road on both sides and is no edge, so it is
    dropped and the ring is split there into open polylines. Points are compared after rounding to
    `decimals` (AV2 stores them to 1 cm).
    """
    rings = [with_winding(close_ring(np.asarray(p, np.float64)), True) for p in polygons]

    def key(a, b):
        return tuple(np.round(a[:2], decimals)), tuple(np.round(b[:2], decimals))

    segments = {key(r[k], r[k + 1]) for r in rings for k in range(len(r) - 1)}
    out: list[np.ndarray] = []
    for r in rings:
        shared = np.array([key(r[k + 1], r[k]) in segments for k in range(len(r) - 1)])
        if not shared.any():
            out.append(r)
            continue
        # Start right after a shared segment so that every kept run is contiguous.
        first = int(np.flatnonzero(shared)[0]) + 1
        order = [(first + k) % (len(r) - 1) for k in range(len(r) - 1)]
        run: list[int] = []
        for k in order:
            if shared[k]:
                if run:
                    out.append(r[[*run, run[-1] + 1]])
                run = []
            else:
                run.append(k)
        if run:
            out.append(r[[*run, run[-1] + 1]])
    return [e for e in out if len(e) >= 2]


def along(points: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Points at the given fractions (0..1) of a polyline's arc length. [n, d] -> [m, d]."""
    p = np.asarray(points, np.float64)
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(p[:, :2], axis=0), axis=1))])
    if s[-1] <= 0.0:
        return np.repeat(p[:1], len(fractions), axis=0)
    t = np.asarray(fractions) * s[-1]
    return np.stack([np.interp(t, s, p[:, d]) for d in range(p.shape[1])], axis=1)


def centre_line(left: np.ndarray, right: np.ndarray, samples: int = 50) -> np.ndarray:
    """The lane centre: midpoints of the two boundaries taken at equal fractions of their lengths."""
    f = np.linspace(0.0, 1.0, samples)
    return 0.5 * (along(left, f) + along(right, f))
