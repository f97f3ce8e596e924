"""`smartr1 convert`: ScenarioNet pickles or Argoverse 2 scenarios -> WOMD TFRecord shards."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class Source(StrEnum):
    scenarionet = "scenarionet"
    av2 = "av2"


def convert_command(
    inputs: Annotated[
        list[str],
        typer.Argument(help="Scene files, folders (a ScenarioNet dataset, AV2 scenario folders) or globs."),
    ],
    source: Annotated[Source, typer.Option("--from", help="Input format.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output TFRecord (the shard name stem).")],
    shard_size: Annotated[
        int, typer.Option("--shard-size", min=0, help="Input scenes per shard (0 = one shard).")
    ] = 0,
    stride: Annotated[
        int, typer.Option("--stride", min=1, help="Steps between 91-step windows of long scenes.")
    ] = 95,
    keep_static: Annotated[
        bool,
        typer.Option("--keep-static", help="Keep cones, barriers and static objects as TYPE_OTHER."),
    ] = False,
) -> None:
    """Convert other datasets into WOMD `Scenario` protos that every other verb reads.

    Scenes longer than 9.1 s are cut into 91-step windows (current step 10) every --stride steps;
    shorter ones are refused with a note. Resumable: rerun with the same arguments and finished
    shards are kept. ScenarioNet pickles are loaded with a restricted unpickler (builtins and NumPy
    arrays only); AV2 needs pyarrow (pip install 'smartr1[av2]').
    """
    from rich.console import Console

    from smartr1.data.foreign.convert import convert
    from smartr1.data.foreign.scene import ConvertConfig

    console = Console()
    cfg = ConvertConfig(stride=stride, keep_static=keep_static)
    summary = convert(source.value, inputs, out, cfg, shard_size=shard_size, console=console)
    for note in summary.notes:
        console.print(f"[yellow]note:[/] {note}")
    kept = f", kept {len(summary.kept)} finished shard(s)" if summary.kept else ""
    console.print(
        f"{summary.files} {source.value} scene(s) -> {summary.scenarios} scenario(s) in "
        f"{len(summary.shards)} shard(s) at {out} ({summary.seconds:.1f} s, "
        f"{summary.scenes_per_s:.1f} scenes/s{kept})"
    )
