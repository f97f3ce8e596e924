"""`smartr1 validate`: check a sim-agents submission against the official rules (plus finite values)."""

from __future__ import annotations

from typing import Annotated

import typer


def validate_command(
    submission: Annotated[
        str, typer.Argument(help="A binproto, a directory or glob of shards, or a .tar.gz.")
    ],
    scenarios: Annotated[
        list[str] | None,
        typer.Option("--scenarios", help="Scenario files: also check object ids and scenario coverage."),
    ] = None,
) -> None:
    """Report every problem of a submission; exit status 1 if there is any."""
    from google.protobuf.message import DecodeError
    from rich.console import Console

    from smartr1.data.protos import sim_agents_pb2
    from smartr1.data.womd import read_scenarios
    from smartr1.metrics.submission import _iter_payloads, iter_scenario_rollouts
    from smartr1.metrics.validate import check_coverage, check_metadata, check_scenario_rollouts_proto

    console = Console()
    by_id = {s.scenario_id: s for s in read_scenarios(scenarios)} if scenarios else None
    problems: list[str] = []
    seen: list[str] = []
    for src, payload in _iter_payloads(submission):
        try:
            sub = sim_agents_pb2.SimAgentsChallengeSubmission.FromString(payload)
        except DecodeError:
            continue  # a bare ScenarioRollouts carries no submission metadata
        if sub.HasField("submission_type") or sub.account_name:
            problems += [f"{src}: {p}" for p in check_metadata(sub)]
    for src, pb in iter_scenario_rollouts(submission):
        seen.append(pb.scenario_id)
        scen = by_id.get(pb.scenario_id) if by_id is not None else None
        problems += [f"{src}: {p}" for p in check_scenario_rollouts_proto(pb, scen)]
    if by_id is not None:
        problems += check_coverage(seen, by_id)
    if problems:
        for p in problems:
            console.print(f"[red]✗[/red] {p}")
        console.print(f"[red]{len(problems)} problem(s) in {len(seen)} scenario rollout(s)[/red]")
        raise typer.Exit(1)
    console.print(f"[green]✓[/green] {len(seen)} scenario rollout(s), no problem found")
