"""The static map of a scene: view window, axes, map features and a scale bar, drawn once per picture."""

from __future__ import annotations

import numpy as np
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection

from smartr1.data.scenario import MapFeatures, MapKind, RoadEdgeType
from smartr1.viz import style

BBox = tuple[float, float, float, float]  # xmin, ymin, xmax, ymax


def view_bbox(center: tuple[float, float], window_m: float) -> BBox:
    h = 0.5 * window_m
    return center[0] - h, center[1] - h, center[0] + h, center[1] + h


def setup_axes(ax: Axes, bbox: BBox) -> None:
    ax.set_facecolor(style.BACKGROUND)
    ax.set_xlim(bbox[0], bbox[2])
    ax.set_ylim(bbox[1], bbox[3])
    ax.set_aspect("equal", adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_color("#888888")


def features_in_view(m: MapFeatures, bbox: BBox, margin: float = 5.0) -> np.ndarray:
    """[F] bool: features with points whose bounding box meets the view."""
    n = np.diff(m.offsets)
    keep = np.zeros(m.num_features, bool)
    nonempty = np.flatnonzero(n > 0)
    if nonempty.size == 0:
        return keep
    # Empty features own no points, so each non-empty feature runs to the next one's start.
    starts = m.offsets[nonempty]
    xy = m.points[: m.offsets[-1], :2]
    lo = np.minimum.reduceat(xy, starts, axis=0)
    hi = np.maximum.reduceat(xy, starts, axis=0)
    inside = (
        (hi[:, 0] >= bbox[0] - margin)
        & (lo[:, 0] <= bbox[2] + margin)
        & (hi[:, 1] >= bbox[1] - margin)
        & (lo[:, 1] <= bbox[3] + margin)
    )
    keep[nonempty[inside]] = True
    return keep


def _polylines(m: MapFeatures, idx: np.ndarray) -> list[np.ndarray]:
    return [m.points[m.offsets[f] : m.offsets[f + 1], :2] for f in idx if m.offsets[f + 1] > m.offsets[f]]


def draw_map(ax: Axes, m: MapFeatures, bbox: BBox) -> dict[str, int]:
    """Draw the map features that meet `bbox`; returns how many of each kind were drawn."""
    keep = features_in_view(m, bbox)
    counts: dict[str, int] = {}

    def sel(kind: MapKind) -> np.ndarray:
        idx = np.flatnonzero(keep & (m.kind == int(kind)))
        counts[kind.name.lower()] = int(idx.size)
        return idx

    polygons = [
        (MapKind.DRIVEWAY, dict(facecolor=style.DRIVEWAY_FACE, edgecolor="none", zorder=style.Z_DRIVEWAY)),
        (
            MapKind.CROSSWALK,
            dict(
                facecolor=style.CROSSWALK_FACE,
                edgecolor=style.CROSSWALK_HATCH,
                hatch="////",
                linewidth=0.5,
                zorder=style.Z_CROSSWALK,
            ),
        ),
        (
            MapKind.SPEED_BUMP,
            dict(
                facecolor=style.SPEED_BUMP_FACE,
                edgecolor=style.SPEED_BUMP_EDGE,
                linewidth=0.5,
                zorder=style.Z_CROSSWALK,
            ),
        ),
    ]
    for kind, kw in polygons:
        polys = [p for p in _polylines(m, sel(kind)) if len(p) >= 3]
        if polys:
            ax.add_collection(PolyCollection(polys, closed=True, **kw))

    lanes = sel(MapKind.LANE)
    if lanes.size:
        colors = [style.lane_color(t) for t in m.subtype[lanes]]
        lines = _polylines(m, lanes)
        if lines:
            ax.add_collection(
                LineCollection(
                    lines, colors=colors, linewidths=style.LANE_WIDTH, zorder=style.Z_LANE, capstyle="round"
                )
            )

    road_lines = sel(MapKind.ROAD_LINE)
    for sub in np.unique(m.subtype[road_lines]):
        ls = style.road_line_style(int(sub))
        lines = _polylines(m, road_lines[m.subtype[road_lines] == sub])
        if not lines:
            continue
        coll = LineCollection(lines, colors=ls.color, linewidths=ls.width, zorder=style.Z_ROAD_LINE)
        if ls.dashes is not None:
            coll.set_linestyle((0, ls.dashes))
        if ls.casing:
            coll.set_path_effects(
                [
                    patheffects.Stroke(linewidth=ls.width + 1.0, foreground=style.WHITE_LINE_CASING),
                    patheffects.Normal(),
                ]
            )
        ax.add_collection(coll)

    edges = sel(MapKind.ROAD_EDGE)
    if edges.size:
        widths = [
            style.ROAD_EDGE_WIDTH * (0.7 if t == RoadEdgeType.MEDIAN else 1.0) for t in m.subtype[edges]
        ]
        lines = _polylines(m, edges)
        if lines:
            ax.add_collection(
                LineCollection(
                    lines,
                    colors=style.ROAD_EDGE_COLOR,
                    linewidths=widths,
                    zorder=style.Z_ROAD_EDGE,
                    capstyle="round",
                    joinstyle="round",
                )
            )

    stops = sel(MapKind.STOP_SIGN)
    if stops.size:
        pts = np.array([m.points[m.offsets[f], :2] for f in stops if m.offsets[f + 1] > m.offsets[f]])
        if len(pts):
            ax.scatter(
                pts[:, 0],
                pts[:, 1],
                marker="8",
                s=110,
                c=style.STOP_SIGN_COLOR,
                edgecolors="white",
                linewidths=1.6,
                zorder=style.Z_STOP_SIGN,
            )
    return counts


def add_scale_bar(ax: Axes, bbox: BBox) -> None:
    """A metre bar in the lower-left corner (coordinates are absolute, so ticks are hidden)."""
    width = bbox[2] - bbox[0]
    length = next((v for v in (5, 10, 20, 50, 100, 200, 500) if v >= width / 8), 1000)
    x0 = bbox[0] + 0.04 * width
    y0 = bbox[1] + 0.04 * (bbox[3] - bbox[1])
    ax.plot([x0, x0 + length], [y0, y0], color="black", lw=2.5, solid_capstyle="butt", zorder=style.Z_SCALE)
    ax.text(
        x0 + 0.5 * length,
        y0 + 0.008 * width,
        f"{length} m",
        ha="center",
        va="bottom",
        fontsize=8,
        zorder=style.Z_SCALE,
    )
