"""`smartr1 generate`: WOMD-format scenarios from random SUMO worlds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def generate_command(
    num: Annotated[int, typer.Option("--num", "-n", min=1, help="Number of scenarios to write.")] = 20,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output directory for the TFRecord shards.")
    ] = Path("data/sumo"),
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Seed; output is identical for equal seed and num.")
    ] = 0,
    workers: Annotated[
        int, typer.Option("--workers", "-w", min=0, help="Worker processes (0 = one per CPU core).")
    ] = 0,
    per_world: Annotated[
        int, typer.Option("--per-world", min=1, help="Scenarios cut from one world at most.")
    ] = 50,
    warmup: Annotated[
        float, typer.Option("--warmup", min=0.0, help="Simulated warm-up seconds per world.")
    ] = 150.0,
    tiny: Annotated[bool, typer.Option("--tiny", help="Small, quick worlds (smoke tests).")] = False,
) -> None:
    """Simulate random road networks and traffic in SUMO and cut 9.1 s WOMD scenarios around an SDC.

    Resumable: rerun a killed job with the same arguments and the shards it finished are kept.
    """
    from rich.console import Console
    from rich.table import Table

    from smartr1.data.sumo.generate import generate
    from smartr1.data.sumo.plan import GenerateConfig, tiny_config
    from smartr1.data.sumo.world import WorldError

    console = Console()
    cfg = tiny_config(per_world=per_world) if tiny else GenerateConfig(per_world=per_world, warmup_s=warmup)
    try:
        summary = generate(num, out, seed=seed, workers=workers or None, cfg=cfg, console=console)
    except WorldError as e:
        console.print(f"[red]generation failed:[/] {e}")
        raise typer.Exit(1) from e

    table = Table(
        title=f"{num} scenarios in {out} ({summary.seconds:.1f} s, {summary.scenarios_per_s:.2f}/s)"
    )
    # sim s: simulated seconds recorded; tracks: mean per scenario; retries: failed world attempts.
    for col in ("world", "layout", "scen.", "sim s", "telep.", "tracks", "retries", "wall s"):
        table.add_column(col, justify="right", no_wrap=True)
    for w in summary.worlds:
        table.add_row(
            str(w.world),
            w.layout,
            str(w.scenarios),
            f"{w.recorded_s:.0f}",
            str(w.teleports),
            f"{sum(w.agents) / max(1, len(w.agents)):.1f}",
            str(len(w.failures)),
            f"{w.seconds.get('total', 0.0):.1f}",
        )
    console.print(table)
    for w in summary.worlds:
        for f in w.failures:
            console.print(f"[yellow]world {w.world} retried:[/] {f}")
    if summary.kept:
        console.print(
            f"resumed: kept {len(summary.kept)} shard(s) an earlier run had finished "
            f"(world(s) {', '.join(map(str, summary.kept))})"
        )
    if summary.removed_stale:
        console.print(f"removed stale shards of an earlier run: {', '.join(summary.removed_stale)}")
