"""Drawing a scenario on a matplotlib Axes: the static map once, then layers that update per step.

Layers (`AgentLayer`, `SignalLayer`, `TrailLayer`) own their artists and expose `update(step)`, so a
still picture and an animation share one drawing path; an animation only touches those artists.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import to_rgb

from smartr1.data.geometry import box_corners
from smartr1.data.scenario import MapKind, Scenario
from smartr1.viz import style
from smartr1.viz.poses import Poses

_CIRCLE = np.stack([np.cos(np.linspace(0, 2 * np.pi, 24)), np.sin(np.linspace(0, 2 * np.pi, 24))], -1)


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
            [to_rgb(style.agent_colors(t)[0]) for t in scenario.tracks.type], np.float64
        ).reshape(-1, 3)
        sdc = scenario.sdc_track_index
        if 0 <= sdc < len(self.rgb):
            self.rgb[sdc] = to_rgb(style.SDC_FILL)
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
