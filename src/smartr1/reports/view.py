"""The viewer of rollouts with per-agent WOSAC diagnostics, as one self-contained HTML file: the
metric's per-agent numbers (`metrics.per_agent`) joined with the page (`viz.viewer`). Used by
`smartr1 view`, `smartr1 evaluate --per-agent` and the demo."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from smartr1.data.errors import DataError
from smartr1.data.scenario import Scenario
from smartr1.data.threads import torch_threads
from smartr1.data.womd import read_scenarios, scenario_files
from smartr1.metrics.per_agent import scenario_diagnostics
from smartr1.metrics.scorable import unscorable_reason
from smartr1.metrics.submission import load_rollouts
from smartr1.metrics.validate import validate_rollouts
from smartr1.viz.viewer.encode import ViewRun, ViewScene
from smartr1.viz.viewer.page import write_page


def _label(path: str | Path) -> str:
    p = Path(str(path).rstrip("/"))
    return p.name if p.is_dir() else p.parent.name or p.name


def read_view_scenarios(paths, max_scenarios: int | None = None) -> list[tuple[Scenario, str]]:
    """(scenario, file) pairs in file order; a scenario the metric cannot score is an error."""
    out: list[tuple[Scenario, str]] = []
    for f in scenario_files(paths):
        for s in read_scenarios(f):
            why = unscorable_reason(s)
            if why is not None:
                raise DataError(
                    f, f"scenario {s.scenario_id}: {why}; the viewer needs the metric, leave it out"
                )
            out.append((s, str(f)))
            if max_scenarios and len(out) >= max_scenarios:
                return out
    return out


def with_per_agent(text: str, scenario_paths, submission: str, config: str, device: str) -> str:
    """`evaluate`'s JSON text plus "per_agent": {scenario_id: AgentDiagnostics.to_json()} for every
    scenario the metric scored (unscorable ones are already listed under "unscorable")."""
    result = json.loads(text)
    by_id = load_rollouts(submission)
    per: dict[str, dict] = {}
    with torch_threads(1):
        for f in scenario_files(scenario_paths):
            for s in read_scenarios(f):
                if s.scenario_id in result["scenarios"]:
                    per[s.scenario_id] = scenario_diagnostics(
                        s, by_id[s.scenario_id], config, device
                    ).to_json()
    result["per_agent"] = per
    return json.dumps(result, indent=1)


def write_view(
    scenario_paths: str | Path | Sequence[str | Path],
    submissions: Sequence[str | Path],
    labels: Sequence[str] | None = None,
    out: str | Path = "view.html",
    *,
    max_scenarios: int | None = None,
    config: str = "2025",
    device: str = "cpu",
    title: str | None = None,
) -> Path:
    """Write the viewer of `submissions` (one or two rollout sets, e.g. pretrain and final model) on
    the scenarios at `scenario_paths` to `out`; returns `out`. Bad input raises one `DataError`."""
    if not submissions:
        raise DataError(None, "no submission to view")
    labels = list(labels) if labels else [_label(s) for s in submissions]
    if len(labels) != len(submissions):
        raise DataError(None, f"{len(labels)} label(s) for {len(submissions)} submission(s)")
    scenes = [ViewScene(s, f) for s, f in read_view_scenarios(scenario_paths, max_scenarios)]
    with torch_threads(1):
        for sub in submissions:
            by_id = load_rollouts(sub)
            for scene in scenes:
                s = scene.scenario
                if s.scenario_id not in by_id:
                    raise DataError(sub, f"no rollouts for scenario {s.scenario_id} (from {scene.source})")
            chosen = {sc.scenario.scenario_id: by_id[sc.scenario.scenario_id] for sc in scenes}
            try:
                validate_rollouts(chosen, [sc.scenario for sc in scenes], num_rollouts=None)
            except DataError as e:
                raise DataError(sub, e.problem) from None
            for scene in scenes:
                ro = chosen[scene.scenario.scenario_id]
                diag = scenario_diagnostics(scene.scenario, ro, config, device)
                scene.runs.append(ViewRun(ro, diag.scenario, diag.to_json()))
    return write_page(scenes, labels, out, title or f"smartr1 · {' vs '.join(labels)}")
