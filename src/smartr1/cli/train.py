"""`smartr1 train STAGE --data GLOB --out DIR`: train one stage, or the whole SMART-R1 pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from smartr1.cli.options import Threads, apply_threads

STAGE_HELP = (
    "pretrain (next-token prediction), sft / sft2 (CAT-K closed-loop SFT), rft (reinforcement fine-tuning "
    "with the realism reward), or pipeline (pretrain -> sft -> rft -> sft2)."
)


def train_command(
    stage: Annotated[str, typer.Argument(help=STAGE_HELP)],
    data: Annotated[
        list[str], typer.Option("--data", "-d", help="Scenario TFRecord files / globs (repeatable).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run directory: checkpoints, logs, config.yaml.")],
    init: Annotated[
        str | None,
        typer.Option("--init", help="Checkpoint to start from (sft, rft, sft2; optional for pipeline)."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="YAML layered over the shipped stage config (pipeline: a file or a shipped recipe, cpu-long or womd-gpu; see docs/training.md).",
        ),
    ] = None,
    size: Annotated[str, typer.Option(help="Model size: nano (CPU default), mini, tiny.")] = "nano",
    max_steps: Annotated[int | None, typer.Option(help="Optimizer steps (default: from the config).")] = None,
    val_data: Annotated[
        list[str] | None,
        typer.Option("--val-data", help="Held-out shards / globs (pipeline: scored after each stage)."),
    ] = None,
    vocab: Annotated[Path | None, typer.Option(help="Motion vocabulary (.pt); default: build one.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Scenarios per batch and device.")] = None,
    lr: Annotated[float | None, typer.Option(help="Peak learning rate.")] = None,
    accelerator: Annotated[str, typer.Option("--accelerator", "--device", help="cpu, gpu, auto.")] = "cpu",
    devices: Annotated[int, typer.Option(help="Devices (processes) to train on.")] = 1,
    strategy: Annotated[str, typer.Option(help="Lightning strategy: auto, ddp, ddp_spawn, fsdp.")] = "auto",
    num_nodes: Annotated[int, typer.Option(help="Machines to train on (SLURM / torchrun set the rest).")] = 1,
    precision: Annotated[
        str | None, typer.Option(help="Lightning precision: 32-true (default), bf16-mixed, 16-mixed.")
    ] = None,
    compile: Annotated[bool, typer.Option("--compile", help="torch.compile the model.")] = False,
    cache_dir: Annotated[Path | None, typer.Option(help="Token cache directory.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from OUT/checkpoints/last.ckpt.")] = False,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    threads: Threads = None,
) -> None:
    """Train and write OUT/checkpoints/last.ckpt, TensorBoard logs and the resolved config (pipeline: one
    directory per stage and a held-out report after each)."""
    apply_threads(threads)
    from rich.console import Console

    from smartr1.training.config import STAGES, load_config

    console = Console()
    if stage not in (*STAGES, "pipeline"):
        console.print(
            f"[red]error:[/red] unknown stage {stage!r}; choose one of {', '.join(STAGES)}, pipeline"
        )
        raise typer.Exit(2)
    if stage in ("sft", "rft", "sft2") and not init:
        console.print(f"[red]error:[/red] stage {stage!r} fine-tunes a trained model: give --init CHECKPOINT")
        raise typer.Exit(2)
    ov: dict = {"data": {"train": list(data)}, "trainer": {}, "optim": {}}
    if val_data:
        ov["data"]["val"] = list(val_data)
    for key, value in (("vocab", vocab), ("batch_size", batch_size), ("cache_dir", cache_dir)):
        if value is not None:
            ov["data"][key] = value if isinstance(value, int) else str(value)
    if max_steps is not None:
        ov["trainer"]["max_steps"] = max_steps
    if seed is not None:
        ov["trainer"]["seed"] = seed
    if lr is not None:
        ov["optim"]["lr"] = lr
    ov["trainer"].update(accelerator=accelerator, devices=devices, strategy=strategy, num_nodes=num_nodes)
    if precision is not None:
        ov["trainer"]["precision"] = precision
    if compile:
        ov["trainer"]["compile"] = True
    if stage == "pipeline":
        _pipeline(console, out, ov, config, size, init, val_data)
        return
    ov["out"] = str(out)
    if init:
        ov["init_checkpoint"] = init
    try:
        cfg = load_config(stage, size, config, ov)
    except ValueError as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from e
    from smartr1.training.stages import run_stage

    ckpt = run_stage(cfg, resume=resume)
    console.print(f"checkpoint: {ckpt}")


def _pipeline(console, out: Path, shared: dict, config: Path | None, size: str, init, val_data) -> None:
    """Run a recipe (a file or a shipped name; default: every stage with its stage config)."""
    from rich.table import Table

    from smartr1.data.womd import read_scenarios
    from smartr1.training.pipeline import Recipe, load_recipe, run_pipeline

    try:
        recipe = load_recipe(config) if config else Recipe()
        recipe = recipe.over(size=recipe.size or size)  # a recipe's own size wins over --size
    except ValueError as e:
        raise typer.BadParameter(str(e)) from e
    val = list(read_scenarios(val_data)) if val_data else []
    records = run_pipeline(
        out, recipe.over(shared), val, init_checkpoint=init,
        on_stage=lambda s, rec: console.print(f"[bold]{s}[/bold] done: {rec['checkpoint']}"),
    )  # fmt: skip
    table = Table(title=f"held-out realism after each stage ({len(val)} scenarios)")
    for col in ("stage", "meta-metric", "kinematic", "interactive", "map-based", "minADE", "train s"):
        table.add_column(col, justify="right")
    for s, rec in records.items():
        h = rec.get("held_out")
        if h:
            b = h["buckets"]
            table.add_row(s, f"{b['realism_meta_metric']:.4f}", f"{b['kinematic_metrics']:.4f}",
                          f"{b['interactive_metrics']:.4f}", f"{b['map_based_metrics']:.4f}",
                          f"{b['min_ade']:.3f}", f"{rec['train_seconds']:.0f}")  # fmt: skip
        else:
            table.add_row(s, "-", "-", "-", "-", "-", f"{rec['train_seconds']:.0f}")
    console.print(table)
