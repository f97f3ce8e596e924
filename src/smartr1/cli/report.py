"""`smartr1 report kinematics`: speed and acceleration profiles of simulated vs logged agents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def kinematics_command(
    scenarios: Annotated[list[str], typer.Option("--scenarios", "-s", help="Scenario files / dirs / globs.")],
    submission: Annotated[
        list[str],
        typer.Option(
            "--submission", help="Rollouts (shards, dir, glob or .tar.gz); repeat to compare policies."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for kinematics.json and .png.")] = Path(
        "report"
    ),
    name: Annotated[
        list[str] | None, typer.Option("--name", help="A label per --submission (default: its path).")
    ] = None,
) -> None:
    """Mean speed per second of the 8 s horizon and the speed / acceleration distributions, per agent
    type, for each submission next to the log: a stalling or racing model shows at a glance."""
    from rich.console import Console
    from rich.table import Table

    from smartr1.cli.options import scenario_files
    from smartr1.data.atomic import atomic_write_bytes
    from smartr1.data.womd import read_scenarios
    from smartr1.metrics.profiles import kinematic_profiles
    from smartr1.metrics.submission import load_rollouts
    from smartr1.viz.profiles import render_profiles

    names = list(name or [])
    if names and len(names) != len(submission):
        raise typer.BadParameter(f"{len(names)} --name for {len(submission)} --submission")
    names = names or [Path(s).name or str(s) for s in submission]
    scen = list(read_scenarios(scenario_files(scenarios)))
    profiles = {n: kinematic_profiles(scen, load_rollouts(s)) for n, s in zip(names, submission, strict=True)}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "kinematics.json", [json.dumps(profiles, indent=1).encode()])
    png = render_profiles(profiles, out / "kinematics.png", title=f"{len(scen)} scenarios")
    console = Console()
    for n, prof in profiles.items():
        groups = [g for g, p in prof.items() if p.get("agents")]
        table = Table(title=f"{n}: mean speed, simulated / logged (m/s)")
        table.add_column("second")
        for g in groups:
            table.add_column(f"{g} ({prof[g]['agents']})", justify="right")
        for k in range(8):
            cells = [prof[g]["per_second"][k] for g in groups]
            table.add_row(str(k + 1), *(f"{c['sim_mean']:.1f} / {c['log_mean']:.1f}" for c in cells))
        console.print(table)
    console.print(f"wrote {out / 'kinematics.json'} and {png}")


def ablation_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Run directory (resumable).")] = Path(
        "runs/ablation"
    ),
    train: Annotated[list[str] | None, typer.Option(help="Training shards (default: generate).")] = None,
    val: Annotated[list[str] | None, typer.Option(help="Held-out shards (default: generate).")] = None,
    real: Annotated[
        list[str] | None,
        typer.Option(
            help="Real WOMD scenarios scored as a second table (e.g. ../shared/data/wosac/scenarios)."
        ),
    ] = None,
    seeds: Annotated[int, typer.Option(min=1, help="Training seeds of the main rows.")] = 3,
    rule_seeds: Annotated[
        int, typer.Option(min=1, help="Training seeds of the other rule rows (MPO, leave-one-out).")
    ] = 1,
    rows: Annotated[
        list[str] | None,
        typer.Option(help="Only these rows (default: the main and rule rows; see docs/training.md)."),
    ] = None,
    controls: Annotated[
        bool, typer.Option(help="A negated-advantage control row for each RFT rule row.")
    ] = True,
    base: Annotated[
        str | None,
        typer.Option(help="A pretrained checkpoint to fine-tune from (default: pretrain one here)."),
    ] = None,
    quick: Annotated[
        bool, typer.Option(help="A minutes-long smoke run: tiny data, a few steps, one seed.")
    ] = False,
    report_only: Annotated[
        bool, typer.Option(help="Only write the table from the results stored so far (no training).")
    ] = False,
) -> None:
    """Train and score every row of the SMART-R1 ablation (pretrain, +SFT, +SFT+SFT, +SFT+RFT with
    the per-agent rule, with and without displacement credit, MPO as published and fixed,
    leave-one-out, each with its negated-advantage control, +SFT+RFT+SFT) against constant velocity
    and the logged oracle; write ablation.md / .json / .png. Every result is stored as it finishes:
    rerun to resume."""
    from smartr1.reports.ablation import DEFAULT_ROWS, Ablation, AblationConfig

    cfg = AblationConfig(out=out, train=list(train or []), val=list(val or []), real=list(real or []),
                         seeds=tuple(range(seeds)), rule_seeds=tuple(range(rule_seeds)), base=base,
                         rows=tuple(rows) if rows else DEFAULT_ROWS, controls=controls)  # fmt: skip
    if quick:
        cfg = quick_config(cfg)
    report = Ablation(cfg).report() if report_only else Ablation(cfg).run()
    typer.echo((out / "ablation.md").read_text())
    del report


def quick_config(cfg):
    """The smoke-run settings (CI): tiny worlds, a tiny model, a few steps, 4 rollouts, one seed."""
    import dataclasses

    return dataclasses.replace(
        cfg, generate_train=6, generate_val=3, tiny_worlds=True, seeds=(0,), rule_seeds=(0,), alphas=(0.02,),
        betas=(), pretrain_steps=3, sft_steps=2, rft_steps=2, rollouts=4, batch_size=2, workers=1,
        rft={"num_rollouts": 4, "grad_rollouts": 2, "groups": 2, "calibration_scenarios": 2},
        model={"vocab_size": 32, "hidden": 32, "heads": 2, "head_dim": 8, "agent_layers": 1, "map_layers": 1},
        sft={"top_k": 4},
    )  # fmt: skip
