"""A picture of kinematic profiles: per agent group, mean speed over the horizon (simulated vs logged)
and the speed and acceleration distributions. Takes the plain dict of
`smartr1.metrics.profiles.kinematic_profiles`, one per policy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from smartr1.data.atomic import atomic_path

_LABELS = {
    "vehicle": "vehicles",
    "moving_vehicle": "vehicles moving > 3 m/s at t=0",
    "pedestrian": "pedestrians",
    "cyclist": "cyclists",
}
_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def render_profiles(profiles: dict[str, dict], path: str | Path, title: str = "") -> Path:
    """`profiles` = {policy name: kinematic_profiles(...)}; the log is drawn once, in black."""
    groups = [g for g in _LABELS if any(p.get(g, {}).get("agents") for p in profiles.values())]
    fig = Figure(figsize=(13.0, 3.0 * max(1, len(groups)) + 0.6), dpi=90)
    FigureCanvasAgg(fig)
    axes = fig.subplots(max(1, len(groups)), 3, squeeze=False)
    for row, g in enumerate(groups):
        ax_t, ax_v, ax_a = axes[row]
        first = True
        for (name, prof), color in zip(profiles.items(), _COLORS, strict=False):
            p = prof.get(g, {})
            if not p.get("agents"):
                continue
            sec = [r["second"] for r in p["per_second"]]
            if first:
                ax_t.plot(sec, [r["log_mean"] for r in p["per_second"]], "k-o", ms=3, label="log")
                _step(ax_v, p["speed_bins"], p["log_speed_hist"], "k", "log")
                _step(ax_a, p["accel_bins"], p["log_accel_hist"], "k", "log")
                first = False
            ax_t.plot(sec, [r["sim_mean"] for r in p["per_second"]], "-o", ms=3, color=color, label=name)
            _step(ax_v, p["speed_bins"], p["sim_speed_hist"], color, name)
            _step(ax_a, p["accel_bins"], p["sim_accel_hist"], color, name)
        n = max(prof.get(g, {}).get("agents", 0) for prof in profiles.values())
        ax_t.set_title(f"{_LABELS[g]} ({n}): mean speed", fontsize=9)
        ax_t.set_xlabel("second of the horizon", fontsize=8)
        ax_t.set_ylabel("m/s", fontsize=8)
        ax_t.set_ylim(bottom=0)
        ax_v.set_title("speed distribution (8 s)", fontsize=9)
        ax_v.set_xlabel("m/s", fontsize=8)
        ax_a.set_title("acceleration distribution (8 s)", fontsize=9)
        ax_a.set_xlabel("m/s²", fontsize=8)
        ax_a.set_yscale("log")
        for ax in (ax_t, ax_v, ax_a):
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
        ax_t.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)


def _step(ax, bins, hist, color, label):
    ax.stairs(np.asarray(hist, float), bins, color=color, label=label)
