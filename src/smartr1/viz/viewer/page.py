"""One self-contained HTML page: the template, its scripts and the encoded scenes, nothing fetched.

The page shows a sortable scenario list, the map with agents and signals over the 91 steps, one or
all rollouts of one or two models, and per-agent metric diagnostics on click.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np

from smartr1.data.atomic import atomic_write_bytes
from smartr1.data.errors import DataError
from smartr1.data.scenario import AgentType, RoadLineType
from smartr1.data.timeline import CURRENT_STEP, NUM_STEPS
from smartr1.viz import style
from smartr1.viz.viewer.encode import (
    MAP_KINDS,
    ViewScene,
    encode_log,
    encode_map,
    encode_rollouts,
    scene_centre,
    sim_agents,
)

COMPONENTS = (
    "linear_speed",
    "linear_acceleration",
    "angular_speed",
    "angular_acceleration",
    "distance_to_nearest_object",
    "collision_indication",
    "time_to_collision",
    "distance_to_road_edge",
    "offroad_indication",
    "traffic_light_violation",
)  # the WOSAC 2025 components, in the official order (the metrics layer is not imported here)
EVENTS = ("collision", "offroad", "red_light")
_METRIC_DIGITS = 6  # scenario metrics and likelihoods are rounded to this many decimals in the page


def page_style() -> dict:
    """The PNG renderer's colours (`smartr1.viz.style`) as plain data for the page."""
    lines = {int(t): style.road_line_style(int(t)) for t in RoadLineType}
    return {
        "background": style.BACKGROUND,
        "agents": {int(t): list(style.agent_colors(int(t))) for t in AgentType},
        "agent_labels": {
            int(t): style.AGENT_LABELS[int(t)] for t in AgentType if t not in (AgentType.UNSET,)
        },
        "sdc_fill": style.SDC_FILL,
        "predict_edge": style.PREDICT_EDGE,
        "heading": style.HEADING_COLOR,
        "selected": "#111111",
        "lane": style.LANE_COLOR,
        "bike_lane": style.BIKE_LANE_COLOR,
        "road_edge": style.ROAD_EDGE_COLOR,
        "white_casing": style.WHITE_LINE_CASING,
        "road_lines": {
            k: {"color": v.color, "width": v.width, "dashes": v.dashes, "casing": v.casing}
            for k, v in lines.items()
        },
        "crosswalk_face": style.CROSSWALK_FACE,
        "crosswalk_hatch": style.CROSSWALK_HATCH,
        "speed_bump_face": style.SPEED_BUMP_FACE,
        "speed_bump_edge": style.SPEED_BUMP_EDGE,
        "driveway_face": style.DRIVEWAY_FACE,
        "stop_sign": style.STOP_SIGN_COLOR,
        "signals": {int(k): v for k, v in style.SIGNAL_COLORS.items()},
        "signal_lane_m": style.SIGNAL_LANE_LENGTH_M,
        "log_future": "#6f6f6f",
        "events": {"collision": "#d62728", "offroad": "#8c564b", "red_light": "#111111"},
        # worst-component likelihood 0 -> 1: dark purple (fails) to pale (realistic)
        "worst_scale": [[62, 8, 92], [160, 40, 120], [236, 112, 80], [250, 200, 120], [245, 245, 235]],
    }


def _rounded(v):
    if isinstance(v, float):
        return None if not np.isfinite(v) else round(v, _METRIC_DIGITS)
    if isinstance(v, dict):
        return {k: _rounded(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_rounded(x) for x in v]
    return v


def encode_scene(scene: ViewScene) -> dict:
    """The page's record of one scene: agents, metric results and the compressed blobs."""
    s = scene.scenario
    centre = scene_centre(s)
    log = encode_log(s, centre)
    idx = sim_agents(s)
    eval_ids = set(s.eval_agent_ids().tolist())
    runs = []
    for run in scene.runs:
        blob = encode_rollouts(s, run.rollouts, centre)
        agents = {
            k: run.agents[k] for k in ("object_id", "likelihood", "min_ade", "worst_component", "first_step")
        }
        runs.append({**blob, "metrics": _rounded(dict(run.metrics)), "agents": _rounded(agents)})
    sdc = np.flatnonzero(idx == s.sdc_track_index)
    return {
        "id": s.scenario_id,
        "source": scene.source,
        "centre": list(centre),
        "sdc": int(sdc[0]) if len(sdc) else -1,
        "eval": [int(i) in eval_ids for i in s.tracks.id[idx]],
        "log": log,
        "map": encode_map(s, centre),
        "runs": runs,
    }


def build_page(scenes: list[ViewScene], labels: list[str], title: str = "smartr1 viewer") -> str:
    """The HTML text of the viewer for `scenes` (each with one run per label)."""
    for sc in scenes:
        if len(sc.runs) != len(labels):
            raise DataError(
                sc.source,
                f"scenario {sc.scenario.scenario_id}: {len(sc.runs)} runs for {len(labels)} labels",
            )
    data = {
        "version": 1,
        "labels": list(labels),
        "steps": NUM_STEPS,
        "current": CURRENT_STEP,
        "dt": 0.1,
        "components": list(COMPONENTS),
        "events": list(EVENTS),
        "map_kinds": MAP_KINDS,
        "style": page_style(),
        "scenes": [encode_scene(s) for s in scenes],
    }
    text = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    pkg = resources.files("smartr1.viz.viewer")
    template = (pkg / "viewer.html").read_text(encoding="utf-8")
    script = (pkg / "viewer.js").read_text(encoding="utf-8") + (pkg / "viewer_ui.js").read_text(
        encoding="utf-8"
    )
    safe_title = title.replace("&", "&amp;").replace("<", "&lt;")
    # the data goes in last so that placeholders inside it are never replaced
    page = template.replace("__TITLE__", safe_title).replace("__SCRIPT__", script)
    return page.replace("__DATA__", text)


def write_page(
    scenes: list[ViewScene], labels: list[str], out: str | Path, title: str = "smartr1 viewer"
) -> Path:
    """Write the viewer atomically to `out` and return its path."""
    out = Path(out)
    atomic_write_bytes(out, [build_page(scenes, labels, title).encode("utf-8")])
    return out
