"""Drawing a scenario on a matplotlib Axes: the static map once, then layers that update per step.

Layers (`AgentLayer`, `SignalLayer`, `TrailLayer`) own their artists and expose `update(step)`, so a
still picture and an animation share one drawing path; an animation only touches those artists.
"""

from __future__ import annotations

import numpy as np
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from smartr1.data.geometry import box_corners
from smartr1.data.scenario import MapFeatures, MapKind, RoadEdgeType, Scenario
from smartr1.viz import style
from smartr1.viz.poses import Poses

_CIRCLE = np.stack([np.cos(np.linspace(0, 2 * np.pi, 24)), np.sin(np.linspace(0, 2 * np.pi, 24))], -1)
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


def _segments(x: np.ndarray, y: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """[n, 2, 2] segments between consecutive steps that are both valid."""
    ok = valid[:-1] & valid[1:]
    p = np.stack([x, y], axis=-1)
    return np.stack([p[:-1][ok], p[1:][ok]], axis=1)


class AgentLayer:
    """Oriented boxes with a heading tick for the agents valid at a step."""

    def __init__(self, ax: Axes, scenario: Scenario, poses: Poses, animated: bool = False):
        self.poses = poses
        types = scenario.tracks.type
        a = scenario.tracks.num_agents
        self.face = np.array([style.agent_colors(t)[0] for t in types], dtype=object)
        self.edge = np.array([style.agent_colors(t)[1] for t in types], dtype=object)
        self.lw = np.full(a, style.AGENT_EDGE_WIDTH)
        # Draw order: plain agents first, then tracks to predict, then the SDC on top.
        self.rank = np.zeros(a, np.int64)
        ttp = np.asarray(scenario.tracks_to_predict, np.int64)
        ttp = ttp[(ttp >= 0) & (ttp < a)]
        self.edge[ttp] = style.PREDICT_EDGE
        self.lw[ttp] = style.PREDICT_EDGE_WIDTH
        self.rank[ttp] = 1
        sdc = scenario.sdc_track_index
        if 0 <= sdc < a:
            self.face[sdc] = style.SDC_FILL
            if sdc not in set(ttp.tolist()):
                self.edge[sdc] = style.SDC_EDGE
                self.lw[sdc] = 1.2
            self.rank[sdc] = 2
        self.small_ttp = np.zeros(a, bool)
        self.small_ttp[ttp] = True  # narrowed to small agents per step: a ring makes them findable
        self.boxes = PolyCollection([], closed=True, zorder=style.Z_AGENT, animated=animated)
        self.rings = PolyCollection(
            [], closed=True, facecolors="none", edgecolors=style.PREDICT_EDGE, linewidths=1.6,
            zorder=style.Z_AGENT, animated=animated,
        )  # fmt: skip
        self.ticks = LineCollection(
            [], colors=style.HEADING_COLOR, linewidths=0.9, zorder=style.Z_HEADING, animated=animated
        )
        ax.add_collection(self.rings)
        ax.add_collection(self.boxes)
        ax.add_collection(self.ticks)

    @property
    def artists(self):
        return [self.rings, self.boxes, self.ticks]

    def update(self, step: int) -> None:
        p = self.poses
        idx = np.flatnonzero(p.valid[:, step])
        idx = idx[np.argsort(self.rank[idx], kind="stable")]
        x, y, h = p.x[idx, step], p.y[idx, step], p.heading[idx, step]
        length, width = p.length[idx, step], p.width[idx, step]
        self.boxes.set_verts(box_corners(np.stack([x, y, h], -1), length, width))
        self.boxes.set_facecolor(list(self.face[idx]))
        self.boxes.set_edgecolor(list(self.edge[idx]))
        self.boxes.set_linewidth(self.lw[idx])
        tip = np.stack([x + 0.5 * length * np.cos(h), y + 0.5 * length * np.sin(h)], -1)
        self.ticks.set_segments(np.stack([np.stack([x, y], -1), tip], 1) if len(idx) else [])
        small = self.small_ttp[idx] & (length < style.RING_BELOW_LENGTH_M)
        self.rings.set_verts(
            _CIRCLE[None] * style.RING_RADIUS_M + np.stack([x[small], y[small]], -1)[:, None]
        )


class TrailLayer:
    """A fading trail of each agent's last `length` steps (the history in a still picture)."""

    def __init__(self, ax: Axes, scenario: Scenario, poses: Poses, length: int = 10, animated: bool = False):
        self.poses = poses
        self.length = length
        self.rgb = np.array(
            [_rgb(style.agent_colors(t)[0]) for t in scenario.tracks.type], np.float64
        ).reshape(-1, 3)
        sdc = scenario.sdc_track_index
        if 0 <= sdc < len(self.rgb):
            self.rgb[sdc] = _rgb(style.SDC_FILL)
        self.lines = LineCollection(
            [], linewidths=2.2, zorder=style.Z_HISTORY, capstyle="round", animated=animated
        )
        ax.add_collection(self.lines)

    @property
    def artists(self):
        return [self.lines]

    def update(self, step: int, agents: np.ndarray | None = None) -> None:
        """Trail ending at `step` for `agents` (default: those valid at `step`)."""
        p = self.poses
        lo = max(0, step - self.length)
        if agents is None:
            agents = np.flatnonzero(p.valid[:, step])
        segs, cols = [], []
        for a in agents:
            s = _segments(p.x[a, lo : step + 1], p.y[a, lo : step + 1], p.valid[a, lo : step + 1])
            if not len(s):
                continue
            ok = p.valid[a, lo : step + 1]
            age = (step - np.arange(lo, step + 1))[:-1][ok[:-1] & ok[1:]]  # steps before `step`
            alpha = 0.65 * (1.0 - age / (self.length + 1.0)) + 0.05
            segs.append(s)
            cols.append(np.concatenate([np.repeat(self.rgb[a][None], len(s), 0), alpha[:, None]], 1))
        if segs:
            self.lines.set_segments(np.concatenate(segs))
            self.lines.set_color(np.concatenate(cols))
        else:
            self.lines.set_segments([])


def label_agents(ax: Axes, scenario: Scenario, poses: Poses, step: int) -> None:
    """Object ids beside the SDC and the tracks to predict (the agents WOSAC scores)."""
    idx = set(np.asarray(scenario.tracks_to_predict).tolist()) | {scenario.sdc_track_index}
    for a in sorted(idx):
        if not (0 <= a < poses.valid.shape[0] and poses.valid[a, step]):
            continue
        ax.annotate(
            str(int(scenario.tracks.id[a])),
            (poses.x[a, step], poses.y[a, step]),
            xytext=(7, 7),
            textcoords="offset points",
            fontsize=7.5,
            color="#222222",
            bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.75),
            zorder=style.Z_SIGNAL + 1,
            annotation_clip=True,
        )


def draw_future(ax: Axes, scenario: Scenario, poses: Poses, agents: np.ndarray, from_step: int) -> None:
    """Thin lines of each agent's path after `from_step` (the logged future, or a rollout)."""
    ttp = set(np.asarray(scenario.tracks_to_predict).tolist()) | {scenario.sdc_track_index}
    segs, cols, widths = [], [], []
    for a in agents:
        v = poses.valid[a, from_step:]
        s = _segments(poses.x[a, from_step:], poses.y[a, from_step:], v)
        if not len(s):
            continue
        color = (
            style.SDC_FILL
            if a == scenario.sdc_track_index
            else style.agent_colors(scenario.tracks.type[a])[1]
        )
        segs.append(s)
        cols += [color] * len(s)
        widths += [1.3 if a in ttp else 0.8] * len(s)
    if segs:
        ax.add_collection(
            LineCollection(
                np.concatenate(segs), colors=cols, linewidths=widths, alpha=0.75, zorder=style.Z_FUTURE
            )
        )


def draw_rollout_paths(
    ax: Axes, scenario: Scenario, track_index: np.ndarray, x: np.ndarray, y: np.ndarray, alpha: float = 0.25
) -> None:
    """Faint paths of several rollouts: x, y [R, A_rollout, T_future], `track_index` [A_rollout]."""
    if x.size == 0:
        return
    colors = [style.agent_colors(scenario.tracks.type[a])[1] for a in track_index]
    lines, cols = [], []
    for r in range(x.shape[0]):
        for k in range(x.shape[1]):
            lines.append(np.stack([x[r, k], y[r, k]], -1))
            cols.append(colors[k])
    ax.add_collection(LineCollection(lines, colors=cols, linewidths=0.6, alpha=alpha, zorder=style.Z_FUTURE))


class SignalLayer:
    """Traffic-signal states at a step: a coloured dot at each stop point and a tint on its lane."""

    def __init__(self, ax: Axes, scenario: Scenario, animated: bool = False):
        self.sig = scenario.signals
        self.map = scenario.map
        self._lane_rows = {
            int(i): f for f, i in enumerate(self.map.id) if self.map.kind[f] == int(MapKind.LANE)
        }
        self._tint_cache: dict[tuple[int, float, float], np.ndarray | None] = {}
        self.dots = ax.scatter(
            [],
            [],
            s=55,
            marker="o",
            edgecolors="#222222",
            linewidths=0.9,
            zorder=style.Z_SIGNAL,
            animated=animated,
        )
        self.lanes = LineCollection(
            [], linewidths=3.0, alpha=0.85, zorder=style.Z_SIGNAL_LANE, capstyle="butt", animated=animated
        )
        ax.add_collection(self.lanes)

    @property
    def artists(self):
        return [self.lanes, self.dots]

    @property
    def has_signals(self) -> bool:
        return bool(self.sig.valid.size and self.sig.valid.any())

    def _tint(self, lane_id: int, stop: np.ndarray) -> np.ndarray | None:
        """The first few metres of the controlled lane from the point nearest the stop point."""
        key = (lane_id, float(stop[0]), float(stop[1]))
        if key not in self._tint_cache:
            seg = None
            f = self._lane_rows.get(lane_id)
            if f is not None:
                pts = self.map.polyline(f)[:, :2]
                if len(pts) >= 2:
                    start = int(np.argmin(((pts - stop) ** 2).sum(1)))
                    pts = pts[start:] if len(pts) - start >= 2 else pts[-2:]
                    d = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
                    n = int(np.searchsorted(d, style.SIGNAL_LANE_LENGTH_M)) + 1
                    seg = pts[: max(2, min(n, len(pts)))]
            self._tint_cache[key] = seg
        return self._tint_cache[key]

    def _stop_point(self, lane_id: int, stop: np.ndarray) -> np.ndarray | None:
        if np.any(stop != 0.0):
            return stop
        f = self._lane_rows.get(lane_id)  # no stop point: use the start of the controlled lane
        if f is None or self.map.offsets[f + 1] == self.map.offsets[f]:
            return None
        return self.map.polyline(f)[0, :2]

    def update(self, step: int) -> None:
        pts, dot_cols, segs, seg_cols = [], [], [], []
        if self.has_signals and 0 <= step < self.sig.num_steps:
            for s in np.flatnonzero(self.sig.valid[step]):
                lane = int(self.sig.lane_id[step, s])
                color = style.signal_color(self.sig.state[step, s])
                p = self._stop_point(lane, self.sig.stop_point[step, s, :2])
                if p is None:
                    continue
                pts.append(p)
                dot_cols.append(color)
                seg = self._tint(lane, p)
                if seg is not None:
                    segs.append(seg)
                    seg_cols.append(color)
        self.dots.set_offsets(np.array(pts).reshape(-1, 2))
        self.dots.set_facecolor(dot_cols if dot_cols else "none")
        self.lanes.set_segments(segs)
        self.lanes.set_color(seg_cols if seg_cols else "none")


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


def legend_handles(scenario: Scenario, signals: bool, future_label: str | None) -> list:
    """Proxy artists for what the picture shows (agent types present, SDC, signals, trails)."""
    handles = []
    present = {style.AGENT_LABELS.get(int(t), "other") for t in scenario.tracks.type}
    seen = set()
    for t, label in style.AGENT_LABELS.items():
        if label in present and label not in seen:
            seen.add(label)
            face, edge = style.agent_colors(t)
            handles.append(Patch(facecolor=face, edgecolor=edge, label=label))
    handles.append(Patch(facecolor=style.SDC_FILL, edgecolor=style.SDC_EDGE, label="SDC (ego)"))
    if len(scenario.tracks_to_predict):
        handles.append(
            Patch(facecolor="white", edgecolor=style.PREDICT_EDGE, lw=2.0, label="track to predict")
        )
    handles.append(Line2D([], [], color="#4a7fc1", lw=2.2, alpha=0.45, label="history (1 s)"))
    if future_label:
        handles.append(Line2D([], [], color="#1f3f66", lw=0.9, alpha=0.75, label=future_label))
    if signals:
        sig = scenario.signals
        shown = {style.signal_color(v) for v in np.unique(sig.state[sig.valid])}  # states at any step
        for label, c in (
            ("signal stop", style.SIGNAL_RED),
            ("signal caution", style.SIGNAL_YELLOW),
            ("signal go", style.SIGNAL_GREEN),
            ("signal unknown", style.SIGNAL_UNKNOWN),
        ):
            if c in shown:
                handles.append(_dot(c, label))
    kinds = set(np.asarray(scenario.map.kind).tolist())
    if int(MapKind.ROAD_EDGE) in kinds:
        handles.append(
            Line2D([], [], color=style.ROAD_EDGE_COLOR, lw=style.ROAD_EDGE_WIDTH, label="road edge")
        )
    if int(MapKind.LANE) in kinds:
        handles.append(Line2D([], [], color=style.LANE_COLOR, lw=1.0, label="lane centre"))
    if int(MapKind.CROSSWALK) in kinds:
        handles.append(
            Patch(
                facecolor=style.CROSSWALK_FACE,
                edgecolor=style.CROSSWALK_HATCH,
                hatch="////",
                label="crosswalk",
            )
        )
    if int(MapKind.STOP_SIGN) in kinds:
        handles.append(
            Line2D(
                [],
                [],
                marker="8",
                ls="none",
                markerfacecolor=style.STOP_SIGN_COLOR,
                markeredgecolor="white",
                markeredgewidth=1.2,
                markersize=10,
                label="stop sign",
            )  # fmt: skip
        )
    return handles


def _dot(color: str, label: str) -> Line2D:
    return Line2D(
        [],
        [],
        marker="o",
        ls="none",
        markerfacecolor=color,
        markeredgecolor="#222222",
        markersize=8,
        label=label,
    )


def _rgb(color: str) -> tuple[float, float, float]:
    from matplotlib.colors import to_rgb

    return to_rgb(color)
