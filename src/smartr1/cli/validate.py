"""`smartr1 validate`: every problem of a sim-agents submission (official rules plus finite values) or
of scenario files, listed at once.

Exit status: 0 when nothing is wrong, 1 when problems were found (all printed), 2 when the input
holds nothing readable at all (one `error:` line naming the file).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer


class Kind(StrEnum):
    auto = "auto"
    submission = "submission"
    scenarios = "scenarios"


def _is_scenario_input(path: str) -> bool:
    """Scenario files are TFRecords; submissions are bare binprotos or tarballs."""
    from smartr1.data.tfrecord import looks_like_tfrecord
    from smartr1.data.womd import expand_paths

    files = expand_paths([path])
    return bool(files) and all(looks_like_tfrecord(f) for f in files)


def validate_command(
    submission: Annotated[
        str,
        typer.Argument(
            help="A submission (binproto, directory or glob of shards, .tar.gz) or scenario files."
        ),
    ],
    scenarios: Annotated[
        list[str] | None,
        typer.Option("--scenarios", help="Scenario files: also check object ids and scenario coverage."),
    ] = None,
    kind: Annotated[
        Kind, typer.Option(help="What the argument holds; auto tells TFRecord scenarios from submissions.")
    ] = Kind.auto,
) -> None:
    """Report every problem of a submission or of scenario files; exit status 1 if there is any."""
    from rich.console import Console
    from rich.markup import escape

    from smartr1.cli.options import scenario_files
    from smartr1.data.errors import DataError

    console = Console(highlight=False)
    if kind == Kind.scenarios or (kind == Kind.auto and _is_scenario_input(submission)):
        from smartr1.data.womd import scenario_file_problems

        records, problems = scenario_file_problems(scenario_files([submission]))
        what = f"{records} scenario record(s)"
    else:
        from smartr1.metrics.packaging import scan_submission, split_sim_agents

        split = split_sim_agents(scenario_files(scenarios)) if scenarios else None
        scan = scan_submission(submission, split)
        if scan.unreadable and not scan.seen:  # nothing in it is a submission
            first = scan.unreadable[0]
            more = (
                f" (and {len(scan.unreadable) - 1} more unreadable file(s))"
                if len(scan.unreadable) > 1
                else ""
            )
            raise DataError(first.path, first.problem + more, first.record)
        problems = [str(e) for e in scan.unreadable] + scan.problems
        what = f"{len(scan.seen)} scenario rollout(s) in {scan.payloads} file(s)"
    if problems:
        for p in problems:
            console.print(f"[red]✗[/red] {escape(p)}", soft_wrap=True)
        console.print(f"[red]{len(problems)} problem(s) in {what}[/red]")
        raise typer.Exit(1)
    console.print(f"[green]✓[/green] {what}, no problem found")
