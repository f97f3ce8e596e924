"""Scenario pictures: files are valid images of the expected size / frame count, signals and agents show up
where they should, rollouts drive the animation, and bad input fails clearly without leaving files."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

from smartr1.data.errors import DataError
from smartr1.data.rollouts import Rollouts
from smartr1.data.scenario import (
    AgentType,
    LaneType,
    MapFeatures,
    MapKind,
    RoadLineType,
    Scenario,
    SignalState,
    SignalStates,
    Tracks,
)
from smartr1.data.timeline import NUM_FUTURE_STEPS, NUM_STEPS
from smartr1.viz import style
from smartr1.viz.map_layer import features_in_view
from smartr1.viz.poses import rollout_poses
from smartr1.viz.render import (
    FIGSIZE,
    PNG_DPI,
    ffmpeg_available,
    iter_frames,
    render_rollouts_gif,
    render_scenario_png,
)

PNG_SIZE = (int(FIGSIZE[0] * PNG_DPI), int(FIGSIZE[1] * PNG_DPI))
RED_SWITCH_STEP = 50  # the hand-made signal turns from red to green here


def one_agent_scenario(num_agents: int = 1) -> Scenario:
    """Agents driving along +x at 5 m/s (agent k offset by 6 m in y); no map, no signals."""
    tr = Tracks.empty(num_agents, NUM_STEPS)
    t = np.arange(NUM_STEPS) * 0.1
    for k in range(num_agents):
        tr.id[k] = 100 + k
        tr.type[k] = AgentType.VEHICLE
        tr.x[k] = 5.0 * t
        tr.y[k] = 6.0 * k
        tr.length[k], tr.width[k], tr.height[k] = 4.5, 2.0, 1.6
        tr.valid[k] = True
    return Scenario(
        scenario_id="handmade",
        timestamps=t,
        tracks=tr,
        map=MapFeatures.empty(),
        signals=SignalStates.empty(),
        sdc_track_index=0,
        tracks_to_predict=np.zeros(0, np.int64),
        tracks_to_predict_difficulty=np.zeros(0, np.int8),
        objects_of_interest=np.zeros(0, np.int64),
    )


def mapped_scenario() -> Scenario:
    """Two agents on a straight road with a signal at x=30 m that is red, then green from step 50."""
    s = one_agent_scenario(2)
    s.tracks.type[1] = AgentType.PEDESTRIAN
    s.tracks.length[1], s.tracks.width[1] = 0.6, 0.6
    xs = np.linspace(-60, 60, 25)
    line = lambda y: np.stack([xs, np.full_like(xs, y)], -1)  # noqa: E731
    roads = MapFeatures.from_polylines(
        [
            dict(id=1, kind=MapKind.LANE, subtype=LaneType.SURFACE_STREET, points=line(0.0)),
            dict(id=2, kind=MapKind.LANE, subtype=LaneType.SURFACE_STREET, points=line(3.7)),
            dict(id=3, kind=MapKind.ROAD_LINE, subtype=RoadLineType.BROKEN_SINGLE_WHITE, points=line(1.85)),
            dict(id=4, kind=MapKind.ROAD_LINE, subtype=RoadLineType.SOLID_DOUBLE_YELLOW, points=line(-1.85)),
            dict(id=5, kind=MapKind.ROAD_EDGE, points=line(-5.5)),
            dict(id=6, kind=MapKind.ROAD_EDGE, points=line(9.0)),
            dict(id=7, kind=MapKind.CROSSWALK, points=[[20, -5], [24, -5], [24, 9], [20, 9]]),
            dict(id=8, kind=MapKind.STOP_SIGN, points=[[-20, -7]]),
            dict(id=9, kind=MapKind.ROAD_EDGE, points=[[5000, 5000], [5001, 5000]]),  # far outside any view
        ]
    )
    sig = SignalStates(
        lane_id=np.full((NUM_STEPS, 1), 1, np.int64),
        state=np.full((NUM_STEPS, 1), int(SignalState.STOP), np.int8),
        stop_point=np.zeros((NUM_STEPS, 1, 3)),
        valid=np.ones((NUM_STEPS, 1), bool),
    )
    sig.state[RED_SWITCH_STEP:] = int(SignalState.GO)
    sig.stop_point[:, 0, :2] = (30.0, 0.0)
    return dataclasses.replace(s, tracks_to_predict=np.array([1], np.int64), map=roads, signals=sig)


def count_color(rgb: np.ndarray, color: str, tol: int = 12) -> int:
    """Pixels of about `color` in the map part of a picture (the legend on the right is cut off)."""
    from matplotlib.colors import to_rgb

    rgb = rgb[:, : int(rgb.shape[1] * FIGSIZE[1] * 0.9 / FIGSIZE[0])]
    target = np.array(to_rgb(color)) * 255
    return int((np.abs(rgb.astype(np.int32) - target).max(-1) <= tol).sum())


def gif_frames(path) -> tuple[tuple[int, int], int]:
    with Image.open(path) as im:
        assert im.format == "GIF"
        return im.size, im.n_frames


def no_temp_files(directory) -> bool:
    return not [p for p in directory.iterdir() if p.name.startswith(".")]


# ------------------------------------------------------------------------------------------------ stills
def test_png_of_real_scenarios(real_scenarios, tmp_path):
    for sid, s in real_scenarios.items():
        out = render_scenario_png(s, tmp_path / f"{sid}.png")
        with Image.open(out) as im:
            assert im.format == "PNG" and im.size == PNG_SIZE
            rgb = np.asarray(im.convert("RGB"))
        assert count_color(rgb, style.SDC_FILL) > 50  # the SDC is drawn
        assert count_color(rgb, style.ROAD_EDGE_COLOR, tol=20) > 500  # so is the map
    assert no_temp_files(tmp_path)


def test_png_of_scenario_with_signals_shows_signal_state(real_scenarios, tmp_path):
    s = real_scenarios["637f20cafde22ff8"]  # has traffic-signal states; the other scenario has none
    with Image.open(render_scenario_png(s, tmp_path / "a.png")) as im:
        rgb = np.asarray(im.convert("RGB"))
    cur = s.signals.state[s.current_step][s.signals.valid[s.current_step]]
    colors = {style.signal_color(v) for v in cur}
    for c in colors:
        assert count_color(rgb, c) > 20, c


def test_png_of_minimal_scenario(tmp_path):
    out = render_scenario_png(one_agent_scenario(), tmp_path / "sub" / "one.png")  # creates the folder
    with Image.open(out) as im:
        assert im.size == PNG_SIZE
        rgb = np.asarray(im.convert("RGB"))
    assert count_color(rgb, style.SDC_FILL) > 50


def test_png_size_follows_dpi(tmp_path):
    out = render_scenario_png(one_agent_scenario(), tmp_path / "small.png", dpi=50)
    with Image.open(out) as im:
        assert im.size == (int(FIGSIZE[0] * 50), int(FIGSIZE[1] * 50))


def test_png_with_rollouts(tmp_path):
    s = mapped_scenario()
    out = render_scenario_png(s, tmp_path / "r.png", rollouts=shifted_rollouts(s, num_rollouts=3))
    with Image.open(out) as im:
        assert im.size == PNG_SIZE


# ------------------------------------------------------------------------------------------- animations
def test_gif_of_real_scenario(real_scenarios, tmp_path):
    s = real_scenarios["637f20cafde22ff8"]
    out = render_rollouts_gif(s, None, tmp_path / "a.gif", stride=6)
    size, n = gif_frames(out)
    assert n == len(range(0, NUM_STEPS, 6))
    assert size == tuple(int(v * 72) for v in FIGSIZE)
    assert no_temp_files(tmp_path)


def test_gif_of_minimal_scenario_has_every_step(tmp_path):
    out = render_rollouts_gif(one_agent_scenario(), None, tmp_path / "one.gif", fps=20)
    _, n = gif_frames(out)
    assert n == NUM_STEPS
    with Image.open(out) as im:
        assert im.info["duration"] == 50


def test_frames_move_and_signals_change_per_step():
    s = mapped_scenario()
    frames = dict(zip(range(0, NUM_STEPS, 10), iter_frames(s, None, stride=10, window_m=80.0), strict=True))
    assert len(frames) == len(range(0, NUM_STEPS, 10))
    assert not np.array_equal(frames[0], frames[40])  # the agents moved
    before, after = frames[RED_SWITCH_STEP - 10], frames[RED_SWITCH_STEP]
    assert count_color(before, style.SIGNAL_RED) > 20 and count_color(before, style.SIGNAL_GREEN) == 0
    assert count_color(after, style.SIGNAL_GREEN) > 20 and count_color(after, style.SIGNAL_RED) == 0


def shifted_rollouts(s: Scenario, num_rollouts: int = 2, dy: float = 20.0) -> Rollouts:
    """Rollout r = the logged future of the agents valid now, moved by r * dy metres in y."""
    idx = s.sim_agent_index()
    fut = slice(s.current_step + 1, s.current_step + 1 + NUM_FUTURE_STEPS)
    shift = np.arange(num_rollouts)[:, None, None] * dy
    return Rollouts(
        scenario_id=s.scenario_id,
        object_id=s.tracks.id[idx],
        x=np.repeat(s.tracks.x[idx][None, :, fut], num_rollouts, 0),
        y=s.tracks.y[idx][None, :, fut] + shift,
        z=np.zeros((num_rollouts, len(idx), NUM_FUTURE_STEPS)),
        heading=np.repeat(s.tracks.heading[idx][None, :, fut], num_rollouts, 0),
    )


def test_rollout_poses_take_the_chosen_rollout():
    s = one_agent_scenario(2)
    s.tracks.valid[1, s.current_step] = False  # not a sim agent: hidden after the current step
    r = shifted_rollouts(s, num_rollouts=3)
    p = rollout_poses(s, r, rollout_index=2)
    cur = s.current_step
    assert p.num_steps == cur + 1 + NUM_FUTURE_STEPS
    np.testing.assert_array_equal(p.y[0, cur + 1 :], np.float32(s.tracks.y[0, cur + 1 :] + 40.0))
    np.testing.assert_array_equal(p.y[0, : cur + 1], s.tracks.y[0, : cur + 1])
    assert p.valid[0].all() and not p.valid[1, cur + 1 :].any() and p.valid[1, :cur].all()
    np.testing.assert_array_equal(p.length[0, cur + 1 :], s.tracks.length[0, cur])


def test_rollout_animation(tmp_path):
    s = mapped_scenario()
    r = shifted_rollouts(s, num_rollouts=4)
    out = render_rollouts_gif(s, r, tmp_path / "roll.gif", rollout_index=1, other_rollouts=2, stride=3)
    _, n = gif_frames(out)
    assert n == len(range(0, NUM_STEPS, 3))
    # A rollout moved 20 m sideways must look different from the log at the last step.
    log_last = list(iter_frames(s, None, stride=90, window_m=100.0))[-1]
    sim_last = list(iter_frames(s, r, rollout_index=1, stride=90, window_m=100.0))[-1]
    assert not np.array_equal(log_last, sim_last)


def test_rollout_animation_of_real_scenario(real_scenarios, tmp_path):
    s = real_scenarios["ee519cf571686d19"]
    out = render_rollouts_gif(
        s, shifted_rollouts(s, 2, dy=0.5), tmp_path / "r.gif", stride=10, other_rollouts=1
    )
    assert gif_frames(out)[1] == len(range(0, NUM_STEPS, 10))


@pytest.mark.skipif(not ffmpeg_available(), reason="ffmpeg not on PATH")
def test_mp4(tmp_path):
    out = render_rollouts_gif(one_agent_scenario(), None, tmp_path / "a.mp4", stride=10)
    assert out.stat().st_size > 0 and out.read_bytes()[4:8] == b"ftyp"


def test_features_in_view_drops_far_and_empty_features():
    m = mapped_scenario().map
    keep = features_in_view(m, (-50, -50, 50, 50))
    assert keep[:8].all() and not keep[8]
    empty = MapFeatures.from_polylines([dict(id=1, kind=MapKind.LANE, points=np.zeros((0, 2)))])
    assert not features_in_view(empty, (-1, -1, 1, 1)).any()


def test_broken_lines_are_dashed():
    assert style.road_line_style(RoadLineType.BROKEN_SINGLE_WHITE).dashes is not None
    assert style.road_line_style(RoadLineType.SOLID_SINGLE_YELLOW).dashes is None
    assert style.road_line_style(RoadLineType.SOLID_SINGLE_YELLOW).color == style.YELLOW_LINE


# ------------------------------------------------------------------------------------------ bad input
def test_scenario_without_agents_is_a_clear_error(tmp_path):
    s = dataclasses.replace(one_agent_scenario(), tracks=Tracks.empty(0, NUM_STEPS))
    with pytest.raises(DataError, match="no agents to draw"):
        render_scenario_png(s, tmp_path / "x.png")
    with pytest.raises(DataError, match="no agents to draw"):
        render_rollouts_gif(s, None, tmp_path / "x.gif")
    assert not list(tmp_path.iterdir())


def test_scenario_without_valid_states_is_a_clear_error(tmp_path):
    s = one_agent_scenario()
    s.tracks.valid[:] = False
    with pytest.raises(DataError, match="no valid agent state"):
        render_scenario_png(s, tmp_path / "x.png")


def test_bad_rollouts_fail_without_leaving_files(tmp_path):
    s = one_agent_scenario()
    r = shifted_rollouts(s)
    with pytest.raises(DataError, match="rollout index 5 out of range"):
        render_rollouts_gif(s, r, tmp_path / "x.gif", rollout_index=5)
    other = Rollouts("other", r.object_id, r.x, r.y, r.z, r.heading)
    with pytest.raises(DataError, match="rollouts are for scenario 'other'"):
        render_rollouts_gif(s, other, tmp_path / "x.gif")
    unknown = Rollouts(s.scenario_id, r.object_id + 1, r.x, r.y, r.z, r.heading)
    with pytest.raises(DataError, match="not in the scenario"):
        render_scenario_png(s, tmp_path / "x.png", rollouts=unknown)
    with pytest.raises(ValueError, match="must end in .gif or .mp4"):
        render_rollouts_gif(s, None, tmp_path / "x.avi")
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------------------------------------ CLI
def test_render_command(tmp_path):
    from smartr1.cli.render import render_command
    from tests.conftest import SCENARIO_IDS, scenario_file

    files = [str(scenario_file(sid)) for sid in SCENARIO_IDS]
    written = render_command(files, tmp_path, scenario_id=SCENARIO_IDS[1], animate=True, stride=30)
    assert [p.name for p in written] == [f"{SCENARIO_IDS[1]}.png", f"{SCENARIO_IDS[1]}.gif"]
    assert all(p.is_file() for p in written)
    assert gif_frames(written[1])[1] == len(range(0, NUM_STEPS, 30))
    with pytest.raises(DataError, match="not found"):
        render_command(files, tmp_path, scenario_id="nope")
