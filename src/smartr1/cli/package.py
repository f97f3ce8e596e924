"""`smartr1 package`: the `.tar.gz` the sim-agents challenge server takes, written only after every
rule it applies holds (so an upload never ends in the server's "unknown error")."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def package_command(
    submission: Annotated[
        str, typer.Argument(help="Rollout shards: a directory, glob, binproto or .tar.gz.")
    ],
    scenarios: Annotated[
        list[str],
        typer.Option("--scenarios", help="The split's scenario files: one entry per scenario is required."),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="The archive to write (.tar.gz).")],
    account_name: Annotated[str, typer.Option(help="The e-mail of your waymo.com/open account.")],
    method_name: Annotated[str, typer.Option(help="Unique method name shown on the leaderboard.")],
    num_params: Annotated[
        str | None, typer.Option(help="Model size as text (e.g. 7M); default: counted from --checkpoint.")
    ] = None,
    checkpoint: Annotated[str | None, typer.Option(help="Model checkpoint to count parameters from.")] = None,
    authors: Annotated[list[str] | None, typer.Option("--author", help="An author (repeatable).")] = None,
    affiliation: Annotated[str | None, typer.Option(help="Affiliation of the authors.")] = None,
    description: Annotated[str | None, typer.Option(help="Short description of the method.")] = None,
    method_link: Annotated[str | None, typer.Option(help="Link to a paper or code.")] = None,
    uses_lidar: Annotated[bool, typer.Option(help="The method uses lidar data.")] = False,
    uses_camera: Annotated[bool, typer.Option(help="The method uses camera data.")] = False,
    uses_public_pretraining: Annotated[
        bool, typer.Option(help="The method uses publicly available pretrained models.")
    ] = False,
    public_models: Annotated[
        list[str] | None, typer.Option("--public-model", help="A public pretrained model used (repeatable).")
    ] = None,
    closed_loop: Annotated[
        bool, typer.Option(help="Acknowledge the rollouts comply with the closed-loop requirement.")
    ] = True,
) -> None:
    """Validate a submission against the split and every official rule, stamp the metadata and
    write the archive; refuse (listing every problem, writing nothing) when any rule fails."""
    from rich.console import Console
    from rich.markup import escape

    from smartr1.cli.options import scenario_files
    from smartr1.metrics.packaging import package_submission, split_sim_agents
    from smartr1.metrics.validate import SubmissionError

    console = Console(highlight=False)
    if num_params is None and checkpoint is not None:
        num_params = _count_parameters(checkpoint)
    split = split_sim_agents(scenario_files(scenarios))
    try:
        package_submission(
            submission, out, split=split, account_name=account_name, unique_method_name=method_name,
            num_model_parameters=num_params or "", authors=authors, affiliation=affiliation,
            description=description, method_link=method_link, uses_lidar_data=uses_lidar,
            uses_camera_data=uses_camera, uses_public_model_pretraining=uses_public_pretraining,
            public_model_names=public_models, acknowledge_complies_with_closed_loop_requirement=closed_loop,
        )  # fmt: skip
    except SubmissionError as e:
        for p in e.problems:
            console.print(f"[red]✗[/red] {escape(p)}", soft_wrap=True)
        console.print(f"[red]{len(e.problems)} problem(s): nothing written[/red]")
        raise typer.Exit(1) from e
    console.print(f"[green]✓[/green] {len(split)} scenario(s), every rule holds: wrote {out}")


def _count_parameters(checkpoint: str) -> str:
    """The checkpoint model's parameter count as the leaderboard shows it (e.g. "1.2M")."""
    from smartr1.model.checkpoint import load_model

    model, _ = load_model(checkpoint)
    n = sum(p.numel() for p in model.parameters())
    return f"{n / 1e6:.2f}M" if n >= 1e5 else str(n)
