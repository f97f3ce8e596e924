"""`smartr1 train STAGE --data GLOB --out DIR`: train a SMART model (pretrain now; later stages reuse it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from smartr1.cli.options import Threads, apply_threads


def train_command(
    stage: Annotated[str, typer.Argument(help="Training stage: pretrain (sft / rft / sft2 come later).")],
    data: Annotated[
        list[str], typer.Option("--data", "-d", help="Scenario TFRecord files / globs (repeatable).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run directory: checkpoints, logs, config.yaml.")],
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML config layered over configs/ (see docs).")
    ] = None,
    size: Annotated[str, typer.Option(help="Model size: nano (CPU default), mini, tiny.")] = "nano",
    max_steps: Annotated[int | None, typer.Option(help="Optimizer steps (default: from the config).")] = None,
    val_data: Annotated[
        list[str] | None, typer.Option("--val-data", help="Validation shards / globs.")
    ] = None,
    vocab: Annotated[Path | None, typer.Option(help="Motion vocabulary (.pt); default: build one.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Scenarios per batch and device.")] = None,
    lr: Annotated[float | None, typer.Option(help="Peak learning rate.")] = None,
    accelerator: Annotated[str, typer.Option("--accelerator", "--device", help="cpu, gpu, auto.")] = "cpu",
    devices: Annotated[int, typer.Option(help="Devices (processes) to train on.")] = 1,
    strategy: Annotated[str, typer.Option(help="Lightning strategy: auto, ddp, ddp_spawn.")] = "auto",
    cache_dir: Annotated[Path | None, typer.Option(help="Token cache directory.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from OUT/checkpoints/last.ckpt.")] = False,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    threads: Threads = None,
) -> None:
    """Train a stage and write OUT/checkpoints/last.ckpt, TensorBoard logs and the resolved config."""
    apply_threads(threads)
    from rich.console import Console

    from smartr1.training.config import STAGES, load_config

    console = Console()
    if stage not in STAGES:
        console.print(f"[red]error:[/red] unknown stage {stage!r}; choose one of {', '.join(STAGES)}")
        raise typer.Exit(2)
    if stage != "pretrain":
        console.print(f"[red]error:[/red] stage {stage!r} is not implemented yet")
        raise typer.Exit(2)
    ov: dict = {"out": str(out), "data": {"train": list(data)}, "trainer": {}, "optim": {}}
    if val_data:
        ov["data"]["val"] = list(val_data)
    if vocab is not None:
        ov["data"]["vocab"] = str(vocab)
    if batch_size is not None:
        ov["data"]["batch_size"] = batch_size
    if cache_dir is not None:
        ov["data"]["cache_dir"] = str(cache_dir)
    if max_steps is not None:
        ov["trainer"]["max_steps"] = max_steps
    if seed is not None:
        ov["trainer"]["seed"] = seed
    if lr is not None:
        ov["optim"]["lr"] = lr
    ov["trainer"].update(accelerator=accelerator, devices=devices, strategy=strategy)
    try:
        cfg = load_config(stage, size, config, ov)
    except ValueError as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from e
    from smartr1.training.pretrain import train_pretrain

    ckpt = train_pretrain(cfg, resume=resume)
    console.print(f"checkpoint: {ckpt}")
