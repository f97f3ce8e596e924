"""The legend beside a scene: what each colour and marker means, listing only what the scene shows."""

from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from smartr1.data.scenario import MapKind, Scenario
from smartr1.viz import style


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
