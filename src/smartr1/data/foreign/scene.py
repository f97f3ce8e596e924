"""A whole foreign scene on the 10 Hz time line, and the 91-step WOMD windows cut from it.

Converters turn their source into a `SourceScene` (tracks of any length at 10 Hz, the whole map,
signals, the SDC and any tracks to predict the source names); `cut_windows` then cuts it into
scenarios the way `smartr1 generate` cuts SUMO traffic: 91 steps with current step 10, a new window
every `stride` steps, the map cropped around the SDC's current position, and tracks to predict by
the same WOMD-like rule (`smartr1.data.sumo.windows.choose_tracks_to_predict`) when the source
names none.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from smartr1.data.geometry import wrap_angle
from smartr1.data.scenario import MapFeatures, Scenario, SignalStates, Tracks
from smartr1.data.sumo.map_extract import crop_map
from smartr1.data.sumo.windows import WindowConfig, choose_tracks_to_predict
from smartr1.data.timeline import CURRENT_STEP, NUM_STEPS, STEP_SECONDS

TRACK_FIELDS = tuple(f.name for f in fields(Tracks))
PER_STEP = ("x", "y", "z", "heading", "velocity_x", "velocity_y", "length", "width", "height")


@dataclass(frozen=True)
class ConvertConfig:
    """How foreign scenes become WOMD scenarios (the run key of a resumable conversion)."""

    # Steps between window starts. 95 (not 91) keeps windows disjoint *and* starting on the 0.5 s
    # grid, so that 2 Hz keyframes (nuScenes) land on the motion-token anchors.
    stride: int = 95
    keep_static: bool = False  # keep cones, barriers and AV2's static objects as TYPE_OTHER
    max_agents: int = 128  # nearest to the SDC, as WOMD keeps at most 128 tracks
    map_radius: float = 200.0  # m, whole features with a point this close to the SDC's current position
    window: WindowConfig = field(default_factory=WindowConfig)


@dataclass(frozen=True)
class SourceScene:
    """One source scene at 10 Hz: `tracks` has T >= 1 steps; `signals` the same T (or None)."""

    scene_id: str
    tracks: dict[str, np.ndarray]  # TRACK_FIELDS -> [A] / [A, T] arrays
    map: MapFeatures
    sdc_index: int
    signals: SignalStates | None = None  # slot k is one signal (lane) at every step
    tracks_to_predict: tuple[int, ...] = ()  # track indices named by the source
    source_current: int | None = None  # the source's own current step, if it has one

    @property
    def num_steps(self) -> int:
        return int(self.tracks["valid"].shape[1])


def resample_to_10hz(
    ts: np.ndarray, track: dict[str, np.ndarray]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One track's per-step arrays (`valid` [T] and PER_STEP fields [T]) at 0.1 s steps from ts[0].

    Linear between consecutive source samples that are both valid (heading along the shorter arc);
    a 10 Hz step is valid only inside such a pair or exactly on a valid sample.
    """
    ts = np.asarray(ts, np.float64)
    n = int(np.floor((ts[-1] - ts[0]) / STEP_SECONDS + 1e-6)) + 1
    t = ts[0] + STEP_SECONDS * np.arange(n)
    i = np.clip(np.searchsorted(ts, t, side="right") - 1, 0, len(ts) - 1)
    j = np.minimum(i + 1, len(ts) - 1)
    gap = ts[j] - ts[i]
    w = np.where(gap > 0, (t - ts[i]) / np.where(gap > 0, gap, 1.0), 0.0)
    exact = np.abs(t - ts[i]) < 1e-6
    v = np.asarray(track["valid"], bool)
    valid = (v[i] & exact) | (v[i] & v[j] & ~exact)
    out = {"valid": valid}
    for name in PER_STEP:
        a = np.asarray(track[name], np.float64)
        d = wrap_angle(a[j] - a[i]) if name == "heading" else a[j] - a[i]
        value = a[i] + np.where(exact, 0.0, w * d)
        out[name] = wrap_angle(value) if name == "heading" else value
    return t - ts[0], out


def _window_tracks(scene: SourceScene, keep: np.ndarray, start: int) -> Tracks:
    sl = slice(start, start + NUM_STEPS)
    src = scene.tracks
    v = src["valid"][keep, sl]
    cols = {}
    for name in PER_STEP:
        dtype = np.float64 if name in ("x", "y", "z") else np.float32
        cols[name] = np.where(v, src[name][keep, sl], 0.0).astype(dtype)
    return Tracks(
        id=src["id"][keep].astype(np.int64), type=src["type"][keep].astype(np.int8), valid=v, **cols
    )


def _window_signals(sig: SignalStates | None, start: int, lanes: set[int]) -> SignalStates:
    if sig is None or sig.valid.shape[1] == 0:
        return SignalStates.empty()
    sl = slice(start, start + NUM_STEPS)
    keep = [k for k in range(sig.valid.shape[1]) if int(sig.lane_id[0, k]) in lanes]  # one lane per slot
    valid = sig.valid[sl][:, keep]
    return SignalStates(
        lane_id=sig.lane_id[sl][:, keep],
        state=np.where(valid, sig.state[sl][:, keep], 0).astype(np.int8),
        stop_point=sig.stop_point[sl][:, keep],
        valid=valid,
    )


def cut_windows(scene: SourceScene, cfg: ConvertConfig) -> tuple[list[Scenario], list[str]]:
    """The scene's 91-step scenarios, and a note for every window (or the scene) that was refused."""
    t = scene.num_steps
    if t < NUM_STEPS:
        return [], [
            f"scene {scene.scene_id!r} is {t * STEP_SECONDS:.1f} s long ({t} steps at 10 Hz); "
            f"a WOMD scenario needs {NUM_STEPS * STEP_SECONDS:.1f} s ({NUM_STEPS} steps): refused"
        ]
    out, notes = [], []
    x, y, valid = scene.tracks["x"], scene.tracks["y"], scene.tracks["valid"]
    sdc = scene.sdc_index
    for start in range(0, t - NUM_STEPS + 1, max(1, cfg.stride)):
        cur = start + CURRENT_STEP
        sid = f"{scene.scene_id}-t{start}"
        if not valid[sdc, cur]:
            notes.append(f"window {sid!r}: the SDC is not observed at its current step: skipped")
            continue
        sl = slice(start, start + NUM_STEPS)
        dist = np.hypot(x[:, sl] - x[sdc, cur], y[:, sl] - y[sdc, cur])
        near = np.where(valid[:, sl], dist, np.inf).min(axis=1)
        keep = np.flatnonzero(valid[:, sl].any(axis=1))
        keep = np.sort(keep[np.argsort(near[keep], kind="stable")][: cfg.max_agents])
        if sdc not in keep:  # the SDC is at distance 0, so only an absurd max_agents drops it
            keep = np.sort(np.append(keep[: cfg.max_agents - 1], sdc))
        tracks = _window_tracks(scene, keep, start)
        sdc_w = int(np.flatnonzero(keep == sdc)[0])
        named = [int(np.flatnonzero(keep == i)[0]) for i in scene.tracks_to_predict if i in keep]
        named = [i for i in named if tracks.valid[i, CURRENT_STEP] and i != sdc_w]
        if named and scene.source_current == cur:
            predict = np.array(sorted(named), np.int64)
        else:
            dist_now = np.where(tracks.valid[:, CURRENT_STEP], dist[keep, CURRENT_STEP], np.inf)
            predict = choose_tracks_to_predict(tracks, sdc_w, cfg.window, dist_now)
        m = crop_map(scene.map, (x[sdc, cur], y[sdc, cur]), cfg.map_radius)
        out.append(
            Scenario(
                scenario_id=sid,
                timestamps=np.arange(NUM_STEPS, dtype=np.float64) * STEP_SECONDS,
                tracks=tracks,
                map=m,
                signals=_window_signals(scene.signals, start, {int(i) for i in m.id}),
                sdc_track_index=sdc_w,
                tracks_to_predict=predict,
                tracks_to_predict_difficulty=np.ones(len(predict), np.int8),
                objects_of_interest=np.zeros(0, np.int64),
            )
        )
    return out, notes
