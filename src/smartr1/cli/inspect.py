"""`smartr1 inspect`: what is in a set of scenario files."""

from __future__ import annotations

import json
from typing import Annotated

import typer


def inspect_command(
    files: Annotated[
        list[str], typer.Argument(help="TFRecord files, directories or globs of WOMD Scenario protos.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per scenario on stdout.")] = False,
    skip_bad: Annotated[
        bool, typer.Option(help="Skip corrupt records and count them instead of stopping.")
    ] = False,
) -> None:
    """Summarise each scenario: tracks by type, SDC, tracks to predict, map features, signals, extent."""
    from rich.console import Console
    from rich.table import Table

    from smartr1.cli.options import scenario_files
    from smartr1.data.summary import summarize
    from smartr1.data.womd import read_scenarios

    files = scenario_files(files)
    stats: dict = {}
    console = Console(stderr=as_json)
    table = Table(title="scenarios")
    for col in (
        "scenario_id",
        "tracks (veh/ped/cyc/oth)",
        "valid@now",
        "sdc",
        "to predict",
        "map (lane/line/edge/xwalk/stop)",
        "signal lanes",
        "extent (m)",
    ):
        table.add_column(col)
    for s in read_scenarios(files, skip_bad=skip_bad, stats=stats):
        info = summarize(s)
        if as_json:
            print(json.dumps(info), flush=True)
            continue
        t, m, e = info["tracks_by_type"], info["map_features_by_type"], info["extent_m"]
        table.add_row(
            info["scenario_id"],
            f"{info['num_tracks']} ({t.get('vehicle', 0)}/{t.get('pedestrian', 0)}/{t.get('cyclist', 0)}/{t.get('other', 0)})",
            str(info["num_valid_at_current"]),
            str(info["sdc_id"]),
            " ".join(map(str, info["tracks_to_predict"])),
            f"{m.get('lane', 0)}/{m.get('road_line', 0)}/{m.get('road_edge', 0)}/{m.get('crosswalk', 0)}/{m.get('stop_sign', 0)}",
            str(info["num_signal_lanes"]),
            f"{e['x_max'] - e['x_min']:.0f} x {e['y_max'] - e['y_min']:.0f}" if e else "-",
        )
    if not as_json:
        console.print(table)
    if stats.get("bad_records"):
        console.print(f"[yellow]skipped {stats['bad_records']} bad record(s)[/yellow]")
