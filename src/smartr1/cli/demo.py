"""`smartr1 demo`: the main job end to end on generated SUMO scenarios."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def demo_command(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Run directory (stages already done are skipped; default runs/demo)."
        ),
    ] = None,
    train_scenarios: Annotated[
        int | None, typer.Option(min=1, help="Generated training scenarios (default 600).")
    ] = None,
    val_scenarios: Annotated[
        int | None, typer.Option(min=1, help="Generated held-out scenarios to evaluate on (default 20).")
    ] = None,
    recipe: Annotated[
        str | None,
        typer.Option(help="Training schedule: a shipped recipe or a YAML file (default: demo)."),
    ] = None,
    max_steps: Annotated[
        int | None, typer.Option(min=1, help="Pretraining optimizer steps (default: the recipe's).")
    ] = None,
    sft_steps: Annotated[
        int | None, typer.Option(min=0, help="CAT-K closed-loop SFT steps (0 skips; default: the recipe's).")
    ] = None,
    rft_steps: Annotated[
        int | None,
        typer.Option(min=0, help="MPO reinforcement fine-tuning steps (0 skips; default: the recipe's)."),
    ] = None,
    sft2_steps: Annotated[
        int | None, typer.Option(min=0, help="Second CAT-K SFT steps (0 skips; default: the recipe's).")
    ] = None,
    size: Annotated[
        str | None, typer.Option(help="Model size: nano (CPU default), mini, tiny (default: the recipe's).")
    ] = None,
    rollouts: Annotated[
        int | None, typer.Option(min=1, help="Rollouts per scenario (default 32, as WOSAC).")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(min=0, help="Seed for data generation, training and sampling (default 0).")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="SUMO worker processes (default 2).")] = None,
    device: Annotated[
        str | None, typer.Option(help="cpu (default) or cuda[:N] for training, rollouts and metrics.")
    ] = None,
    quick: Annotated[bool, typer.Option(help="A minute-long smoke run: tiny data and few steps.")] = False,
) -> None:
    """Generate scenarios, render them, train SMART (pretrain -> SFT -> RFT -> SFT, as the `demo` recipe
    says), simulate 32 rollouts and score them with WOSAC."""
    from smartr1.demo import DemoConfig, run_demo

    given = dict(out=out, train_scenarios=train_scenarios, val_scenarios=val_scenarios, seed=seed,
                 workers=workers, recipe=recipe, size=size, max_steps=max_steps, sft_steps=sft_steps,
                 rft_steps=rft_steps, sft2_steps=sft2_steps, rollouts=rollouts, device=device)  # fmt: skip
    # unset options take DemoConfig's defaults (and the recipe's step counts): one source of defaults
    cfg = DemoConfig(**{k: v for k, v in given.items() if v is not None})
    if quick:
        cfg.train_scenarios, cfg.val_scenarios, cfg.max_steps, cfg.tiny_worlds = 12, 4, 20, True
        cfg.sft_steps, cfg.rft_steps, cfg.sft2_steps = 4, 2, 2
    run_demo(cfg)
