"""`smartr1 render`: PNG pictures (and optionally GIF / MP4 animations) of scenarios and rollouts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer


def render_command(
    files: Annotated[
        list[str], typer.Argument(help="TFRecord files, directories or globs of WOMD Scenario protos.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for <scenario_id>.png / .gif.")],
    rollouts: Annotated[
        str | None,
        typer.Option(
            help="Rollouts file (a submission, read with smartr1.metrics.submission.load_rollouts)."
        ),
    ] = None,
    scenario_id: Annotated[str | None, typer.Option(help="Render only this scenario.")] = None,
    max_scenarios: Annotated[int, typer.Option(min=1, help="Stop after this many scenarios.")] = 10,
    animate: Annotated[bool, typer.Option(help="Also write an animation of all steps.")] = False,
    video: Annotated[str, typer.Option(help="Animation format: gif, or mp4 (needs ffmpeg).")] = "gif",
    fps: Annotated[float, typer.Option(min=0.1, help="Animation frames per second.")] = 10.0,
    stride: Annotated[int, typer.Option(min=1, help="Animate every n-th step.")] = 1,
    window: Annotated[float, typer.Option(min=5.0, help="View width in metres around the SDC.")] = 100.0,
    rollout_index: Annotated[int, typer.Option(min=0, help="Which rollout to animate.")] = 0,
    other_rollouts: Annotated[
        int, typer.Option(min=0, help="Draw this many further rollouts as faint paths in the animation.")
    ] = 0,
    skip_bad: Annotated[bool, typer.Option(help="Skip corrupt records instead of stopping.")] = False,
) -> list[Path]:
    """Draw each scenario at its current step (map, signals, agents, history, future); optionally animate."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from smartr1.cli.options import scenario_files
    from smartr1.data.errors import DataError
    from smartr1.data.womd import read_scenarios
    from smartr1.viz.render import ffmpeg_available, render_rollouts_gif, render_scenario_png

    video = video.lower().lstrip(".")
    if video not in ("gif", "mp4"):
        raise typer.BadParameter(f"--video must be gif or mp4, not {video!r}")
    if animate and video == "mp4" and not ffmpeg_available():
        raise typer.BadParameter("--video mp4 needs ffmpeg on PATH; use --video gif")
    paths = [str(f) for f in files]
    files = scenario_files(files)
    by_scenario: dict = {}
    if rollouts is not None:
        from smartr1.metrics.submission import load_rollouts

        by_scenario = load_rollouts(rollouts)

    console = Console()
    table = Table(title=f"renders in {out}")
    for col in ("scenario_id", "source", "file", "seconds"):
        table.add_column(col)
    written: list[Path] = []

    def render_one(s) -> None:
        r = by_scenario.get(s.scenario_id)
        if rollouts is not None and r is None:
            console.print(f"[yellow]{s.scenario_id}: no rollouts in {rollouts}; drawing the log[/yellow]")
        source = "log" if r is None else f"{r.num_rollouts} rollouts"
        t0 = time.perf_counter()
        png = render_scenario_png(s, out / f"{s.scenario_id}.png", rollouts=r, window_m=window)
        table.add_row(s.scenario_id, source, str(png), f"{time.perf_counter() - t0:.2f}")
        written.append(png)
        if animate:
            t0 = time.perf_counter()
            anim = render_rollouts_gif(
                s,
                r,
                out / f"{s.scenario_id}.{video}",
                fps=fps,
                stride=stride,
                rollout_index=rollout_index,
                other_rollouts=other_rollouts,
            )
            label = source if r is None else f"rollout {rollout_index}"
            table.add_row(s.scenario_id, label, str(anim), f"{time.perf_counter() - t0:.2f}")
            written.append(anim)

    stats: dict = {}
    count = 0
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with progress:
        task = progress.add_task("reading", total=None)
        for s in read_scenarios(files, skip_bad=skip_bad, stats=stats):
            if scenario_id is not None and s.scenario_id != scenario_id:
                continue
            progress.update(task, description=f"rendering {s.scenario_id}")
            render_one(s)
            count += 1
            if count >= max_scenarios:
                break
    if scenario_id is not None and count == 0:
        raise DataError(None, f"scenario {scenario_id!r} not found in {', '.join(paths)}")
    console.print(table)
    if stats.get("bad_records"):
        console.print(f"[yellow]skipped {stats['bad_records']} bad record(s)[/yellow]")
    return written
