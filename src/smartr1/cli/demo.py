"""`smartr1 demo`: the main job end to end on generated SUMO scenarios."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def demo_command(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Run directory (stages already done are skipped).")
    ] = Path("runs/demo"),
    train_scenarios: Annotated[int, typer.Option(min=1, help="Generated training scenarios.")] = 1000,
    val_scenarios: Annotated[
        int, typer.Option(min=1, help="Generated held-out scenarios to evaluate on.")
    ] = 20,
    max_steps: Annotated[int, typer.Option(min=1, help="Pretraining optimizer steps.")] = 600,
    sft_steps: Annotated[int, typer.Option(min=0, help="CAT-K closed-loop SFT steps (0 skips).")] = 60,
    rft_steps: Annotated[
        int, typer.Option(min=0, help="MPO reinforcement fine-tuning steps (0 skips).")
    ] = 30,
    sft2_steps: Annotated[int, typer.Option(min=0, help="Second CAT-K SFT steps (0 skips).")] = 30,
    size: Annotated[str, typer.Option(help="Model size: nano (CPU default), mini, tiny.")] = "nano",
    rollouts: Annotated[int, typer.Option(min=1, help="Rollouts per scenario (WOSAC uses 32).")] = 32,
    seed: Annotated[int, typer.Option(min=0, help="Seed for data generation, training and sampling.")] = 0,
    workers: Annotated[int, typer.Option(min=1, help="SUMO worker processes.")] = 2,
    device: Annotated[str, typer.Option(help="cpu or cuda[:N] for training, rollouts and metrics.")] = "cpu",
    quick: Annotated[bool, typer.Option(help="A minute-long smoke run: tiny data and few steps.")] = False,
) -> None:
    """Generate scenarios, render them, train SMART (pretrain -> SFT -> RFT -> SFT), simulate 32 rollouts and
    score them with WOSAC."""
    from smartr1.demo import DemoConfig, run_demo

    cfg = DemoConfig(
        out=out,
        train_scenarios=train_scenarios,
        val_scenarios=val_scenarios,
        seed=seed,
        workers=workers,
        size=size,
        max_steps=max_steps,
        sft_steps=sft_steps,
        rft_steps=rft_steps,
        sft2_steps=sft2_steps,
        rollouts=rollouts,
        device=device,
    )
    if quick:
        cfg.train_scenarios, cfg.val_scenarios, cfg.max_steps, cfg.tiny_worlds = 12, 4, 20, True
        cfg.sft_steps, cfg.rft_steps, cfg.sft2_steps = 4, 2, 2
    run_demo(cfg)
