"""The `smartr1` command. Each verb lives in its own module; this file only wires them up."""

from __future__ import annotations

import sys

import typer

from smartr1.data.errors import DataError

app = typer.Typer(
    name="smartr1",
    help="SMART-R1 style traffic simulation: generate, inspect, render, train, simulate and evaluate (WOSAC).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """SMART-R1 style traffic simulation with exact, fast WOSAC realism metrics."""


def _register() -> None:
    from smartr1.cli import inspect, render

    app.command("inspect")(inspect.inspect_command)
    app.command("render")(render.render_command)


_register()


def main() -> None:
    """Entry point: bad input ends with one clear line, not a traceback."""
    try:
        app()
    except DataError as e:
        typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
