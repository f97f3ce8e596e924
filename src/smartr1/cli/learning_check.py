"""`smartr1 report learning-check`: does an RFT rule raise its own reward, beyond its negated control?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def learning_check_command(
    scenes: Annotated[
        list[str],
        typer.Option("--scenes", help="Scenario files / dirs / globs; the first --num-scenes are used."),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run directory (resumable per run).")] = Path(
        "runs/learning_check"
    ),
    checkpoint: Annotated[str, typer.Option(help="Starting policy: a checkpoint or a shipped name.")] = (
        "smartr1-nano-sumo"
    ),
    num_scenes: Annotated[
        int, typer.Option(min=1, help="Training scenes; every update uses all of them.")
    ] = 3,
    steps: Annotated[int, typer.Option(min=1, help="RFT steps.")] = 60,
    eval_every: Annotated[int, typer.Option(min=1, help="Score the scenes every this many steps.")] = 20,
    eval_seeds: Annotated[int, typer.Option(min=2, help="Rollout seeds per scoring (the error bar).")] = 6,
    rule: Annotated[str, typer.Option(help="Advantage rule: mpo, grpo, reinforce, loo, agent.")] = "mpo",
    lr: Annotated[float, typer.Option(help="Peak learning rate.")] = 1e-4,
    warmup: Annotated[int, typer.Option(min=0, help="Linear warm-up steps of the learning rate.")] = 5,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML with `rft:` and `optim:` overrides.")
    ] = None,
    control: Annotated[bool, typer.Option(help="Also run the negated-advantage control.")] = True,
    seed: Annotated[int, typer.Option(help="Training seed.")] = 0,
) -> None:
    """Run RFT on a few fixed training scenes and score them every few steps with several rollout
    seeds, against each (scene, seed)'s own start; then the same run with the advantage negated.
    Writes learning_check.{json,md,png}; passes when the gain is beyond 3 standard errors and at least
    twice the control's."""
    import yaml

    from smartr1.reports.learning_check import LearningCheck, LearningCheckConfig

    extra = yaml.safe_load(config.read_text()) if config else {}
    rft = {"rule": rule, **(extra.get("rft") or {})}
    optim = {"lr": lr, "warmup_steps": warmup, **(extra.get("optim") or {})}
    cfg = LearningCheckConfig(out=out, checkpoint=checkpoint, scenes=list(scenes), num_scenes=num_scenes,
                              steps=steps, eval_every=eval_every, eval_seeds=eval_seeds, rft=rft, optim=optim,
                              seed=seed, control=control)  # fmt: skip
    LearningCheck(cfg).run()
    typer.echo((out / "learning_check.md").read_text())
