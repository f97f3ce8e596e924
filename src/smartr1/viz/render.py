"""PNG stills and GIF / MP4 animations of scenarios and rollouts, headless and written atomically.

Figures are built with `matplotlib.figure.Figure` on an Agg canvas (no pyplot state, no display).
Animations draw the static map once, keep a copy of the background and only redraw the agents,
signals, trails and clock per frame (blitting), which is what keeps a 91-frame GIF to a few seconds.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from PIL import Image

from smartr1.data.atomic import atomic_path
from smartr1.data.errors import DataError
from smartr1.data.rollouts import Rollouts
from smartr1.data.scenario import Scenario
from smartr1.data.timeline import STEP_SECONDS
from smartr1.viz import map_layer, scene, style
from smartr1.viz.legend import legend_handles
from smartr1.viz.poses import (
    Poses,
    check_drawable,
    logged_poses,
    rollout_poses,
    rollout_track_index,
    view_center,
)

FIGSIZE = (10.4, 8.0)  # inches: a square map on the left, the legend on the right
PNG_DPI = 100
ANIMATION_DPI = 72


def _figure(dpi: int, figsize: tuple[float, float] = FIGSIZE):
    fig = Figure(figsize=figsize, dpi=dpi, facecolor="white")
    FigureCanvasAgg(fig)
    w, h = figsize
    side = 0.90 * h  # inches
    ax = fig.add_axes((0.012, 0.015, side / w, side / h))
    return fig, ax, (0.012 + side / w + 0.015, 0.015 + side / h)


def _title(scenario: Scenario, source: str = "") -> str:
    tr = scenario.tracks
    n_now = int(tr.valid[:, scenario.current_step].sum())
    lines = [
        f"scenario {scenario.scenario_id}",
        f"{n_now} agents at step {scenario.current_step}, {len(scenario.tracks_to_predict)} to predict",
    ]
    return "\n".join(lines + ([source] if source else []))


def render_scenario_png(
    scenario: Scenario,
    path: str | Path,
    *,
    rollouts: Rollouts | None = None,
    max_rollout_paths: int = 32,
    window_m: float = 100.0,
    max_window_m: float = 160.0,
    center: tuple[float, float] | None = None,
    dpi: int = PNG_DPI,
    figsize: tuple[float, float] = FIGSIZE,
    legend: bool = True,
    label_ids: bool = True,
) -> Path:
    """Write a PNG of `scenario` at its current step: map, signals, agents, 1 s of history and the future.

    The future is the logged one, or with `rollouts` up to `max_rollout_paths` simulated paths per agent.
    The view is a square around the SDC (or `center`), `window_m` wide, widened up to `max_window_m`
    so that the tracks to predict are in it.
    """
    check_drawable(scenario)
    cur = scenario.current_step
    poses = logged_poses(scenario)
    fig, ax, (legend_x, top) = _figure(dpi, figsize)
    c = center or view_center(scenario, poses)
    bbox = map_layer.view_bbox(c, _fit_window(scenario, poses, c, window_m, max_window_m))
    map_layer.setup_axes(ax, bbox)
    map_layer.draw_map(ax, scenario.map, bbox)
    now = np.flatnonzero(poses.valid[:, cur])
    if rollouts is not None:
        idx = rollout_track_index(scenario, rollouts)
        r = min(max_rollout_paths, rollouts.num_rollouts)
        scene.draw_rollout_paths(
            ax, scenario, idx, rollouts.x[:r], rollouts.y[:r], alpha=min(0.6, 4.0 / max(r, 1))
        )
        future_label = f"simulated future ({r} rollouts)"
    else:
        scene.draw_future(ax, scenario, poses, now, cur)
        future_label = "logged future"
    trail = scene.TrailLayer(ax, scenario, poses, length=cur)
    trail.update(cur, now)
    agents = scene.AgentLayer(ax, scenario, poses)
    agents.update(cur)
    signals = scene.SignalLayer(ax, scenario)
    signals.update(cur)
    if label_ids:
        scene.label_agents(ax, scenario, poses, cur)
    map_layer.add_scale_bar(ax, bbox)
    fig.text(legend_x, 0.985, _title(scenario), ha="left", va="top", fontsize=11, fontweight="bold")
    if legend:
        fig.legend(
            handles=legend_handles(scenario, signals.has_signals, future_label),
            loc="upper left",
            bbox_to_anchor=(legend_x, top - 0.09),
            fontsize=9,
            frameon=False,
        )
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return Path(path)


def _fit_window(
    scenario: Scenario, poses: Poses, c: tuple[float, float], window_m: float, max_window_m: float
):
    cur = scenario.current_step
    ttp = np.asarray(scenario.tracks_to_predict, np.int64)
    ttp = ttp[(ttp >= 0) & (ttp < poses.valid.shape[0])]
    ttp = ttp[poses.valid[ttp, cur]]
    if not len(ttp):
        return window_m
    reach = np.maximum(np.abs(poses.x[ttp, cur] - c[0]), np.abs(poses.y[ttp, cur] - c[1])).max()
    return float(max(window_m, min(max_window_m, 2.0 * reach + 16.0)))


def _animation_view(scenario: Scenario, poses: Poses, window_m: float | None, max_window_m: float):
    """A fixed view over the drawn paths of the SDC and the tracks to predict (at least `window_m` wide).

    Only positions within `max_window_m / 2` of the start view's centre count, so a stray point (such as
    the raw value of an invalid logged step copied into a rollout) cannot drag the view away.
    """
    base = 100.0 if window_m is None else window_m
    c = view_center(scenario, poses)
    if window_m is not None:
        return map_layer.view_bbox(c, base)
    a = poses.valid.shape[0]
    focus = np.asarray([scenario.sdc_track_index, *np.asarray(scenario.tracks_to_predict).tolist()], np.int64)
    focus = focus[(focus >= 0) & (focus < a)]
    xs, ys = poses.x[focus][poses.valid[focus]], poses.y[focus][poses.valid[focus]]
    near = np.maximum(np.abs(xs - c[0]), np.abs(ys - c[1])) <= 0.5 * max_window_m
    xs, ys = np.append(xs[near], c[0]), np.append(ys[near], c[1])
    size = float(min(max(base, max(np.ptp(xs), np.ptp(ys)) + 30.0), max_window_m))
    return map_layer.view_bbox((0.5 * (xs.min() + xs.max()), 0.5 * (ys.min() + ys.max())), size)


def iter_frames(
    scenario: Scenario,
    rollouts: Rollouts | None = None,
    *,
    rollout_index: int = 0,
    other_rollouts: int = 0,
    stride: int = 1,
    trail_steps: int = 10,
    window_m: float | None = None,
    max_window_m: float = 250.0,
    dpi: int = ANIMATION_DPI,
    figsize: tuple[float, float] = FIGSIZE,
) -> Iterator[np.ndarray]:
    """Yield [H, W, 3] uint8 frames of every `stride`-th step (log, or history then one rollout).

    `other_rollouts` > 0 draws that many further rollouts as faint static paths. `window_m=None` sizes the
    fixed view to the SDC's whole path.
    """
    check_drawable(scenario)
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    poses = logged_poses(scenario) if rollouts is None else rollout_poses(scenario, rollouts, rollout_index)
    fig, ax, (legend_x, top) = _figure(dpi, figsize)
    bbox = _animation_view(scenario, poses, window_m, max_window_m)
    map_layer.setup_axes(ax, bbox)
    map_layer.draw_map(ax, scenario.map, bbox)
    future_label = None
    if rollouts is not None and other_rollouts > 0:
        others = [r for r in range(rollouts.num_rollouts) if r != rollout_index][:other_rollouts]
        if others:
            idx = rollout_track_index(scenario, rollouts)
            scene.draw_rollout_paths(ax, scenario, idx, rollouts.x[others], rollouts.y[others], alpha=0.2)
            future_label = f"other rollouts ({len(others)})"
    map_layer.add_scale_bar(ax, bbox)
    trail = scene.TrailLayer(ax, scenario, poses, length=trail_steps, animated=True)
    agents = scene.AgentLayer(ax, scenario, poses, animated=True)
    signals = scene.SignalLayer(ax, scenario, animated=True)
    source = "logged future" if rollouts is None else f"rollout {rollout_index} of {rollouts.num_rollouts}"
    fig.text(legend_x, 0.985, _title(scenario, source), ha="left", va="top", fontsize=11, fontweight="bold")
    clock = fig.text(
        legend_x, top - 0.09, "", ha="left", va="top", fontsize=11, family="monospace", animated=True
    )
    fig.legend(
        handles=legend_handles(scenario, signals.has_signals, future_label),
        loc="upper left",
        bbox_to_anchor=(legend_x, top - 0.13),
        fontsize=9,
        frameon=False,
    )
    canvas = fig.canvas
    canvas.draw()
    background = canvas.copy_from_bbox(fig.bbox)
    dynamic = trail.artists + agents.artists + signals.artists
    cur = scenario.current_step
    for t in range(0, poses.num_steps, stride):
        canvas.restore_region(background)
        trail.update(t)
        agents.update(t)
        signals.update(t)
        phase = "history" if t < cur else ("now" if t == cur else "future")
        clock.set_text(f"step {t:2d}  t = {(t - cur) * STEP_SECONDS:+.1f} s  {phase}")
        for a in dynamic:
            ax.draw_artist(a)
        fig.draw_artist(clock)
        yield np.asarray(canvas.buffer_rgba())[..., :3].copy()


def render_rollouts_gif(
    scenario: Scenario,
    rollouts: Rollouts | None,
    path: str | Path,
    *,
    fps: float = 10.0,
    stride: int = 1,
    rollout_index: int = 0,
    other_rollouts: int = 0,
    trail_steps: int = 10,
    window_m: float | None = None,
    dpi: int = ANIMATION_DPI,
) -> Path:
    """Animate the scenario over all its steps: the logged tracks (`rollouts=None`) or one rollout.

    The format follows the suffix: `.gif` (Pillow) or `.mp4` (needs `ffmpeg` on PATH).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise ValueError(f"{path}: animation must end in .gif or .mp4")
    if suffix == ".mp4" and not ffmpeg_available():
        raise RuntimeError(f"{path}: writing MP4 needs ffmpeg on PATH; write a .gif instead")
    frames = iter_frames(
        scenario,
        rollouts,
        rollout_index=rollout_index,
        other_rollouts=other_rollouts,
        stride=stride,
        trail_steps=trail_steps,
        window_m=window_m,
        dpi=dpi,
    )
    with atomic_path(path) as tmp:
        if suffix == ".gif":
            _write_gif(tmp, frames, fps)
        else:
            _write_mp4(tmp, frames, fps)
    return path


def _gif_palette(first: np.ndarray):
    """One 256-colour palette for every frame: every style colour exactly (also faded over the background,
    as trails are drawn), then the first frame's own colours. So a signal that turns green later still
    finds green, and frames stay identical where nothing moved, which keeps the GIF small."""
    bg = np.array(to_rgb(style.BACKGROUND))
    colors = {
        *[c for pair in style.AGENT_COLORS.values() for c in pair],
        style.SDC_FILL, style.SDC_EDGE, style.PREDICT_EDGE, style.HEADING_COLOR, *style.SIGNAL_COLORS.values(),
        style.STOP_SIGN_COLOR, style.ROAD_EDGE_COLOR, style.LANE_COLOR, style.YELLOW_LINE, style.WHITE_LINE,
    }  # fmt: skip
    fixed = [bg * (1 - a) + np.array(to_rgb(c)) * a for c in sorted(colors) for a in (1.0, 0.6, 0.3)]
    fixed = np.unique((np.array(fixed) * 255).round().astype(np.uint8), axis=0)
    rest = Image.fromarray(first).quantize(colors=256 - len(fixed), method=Image.Quantize.MEDIANCUT)
    rest_rgb = np.array(rest.getpalette()[: 3 * (256 - len(fixed))], np.uint8).reshape(-1, 3)
    palette = np.concatenate([fixed, rest_rgb])[:256]
    img = Image.new("P", (1, 1))
    img.putpalette(palette.reshape(-1).tolist())
    return img


def _write_gif(path: Path, frames: Iterator[np.ndarray], fps: float) -> None:
    palette = None
    images = []
    for f in frames:
        if palette is None:
            palette = _gif_palette(f)
        images.append(Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE))
    if not images:
        raise DataError(None, "no frames to write")
    images[0].save(
        path,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=int(round(1000.0 / fps)),
        loop=0,
        optimize=True,  # also stores only the changed region of each frame: ~8x smaller files
    )


def ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None


def _write_mp4(path: Path, frames: Iterator[np.ndarray], fps: float) -> None:
    proc = None
    try:
        for f in frames:
            if proc is None:
                h, w = f.shape[:2]
                cmd = [
                    "ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
                    "-s", f"{w}x{h}", "-r", str(fps), "-i", "-",
                    "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    "-f", "mp4", str(path),
                ]  # fmt: skip
                proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
            proc.stdin.write(np.ascontiguousarray(f).tobytes())
    finally:
        if proc is not None:
            proc.stdin.close()
            if proc.wait() != 0:
                raise RuntimeError(f"{path}: ffmpeg failed with exit code {proc.returncode}")
