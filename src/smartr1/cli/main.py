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
    from smartr1.cli import (
        convert,
        demo,
        evaluate,
        generate,
        inspect,
        learning_check,
        package,
        prepare,
        render,
        report,
        simulate,
        train,
        validate,
        view,
        vocab,
    )

    app.command("demo")(demo.demo_command)
    app.command("generate")(generate.generate_command)
    app.command("convert")(convert.convert_command)
    app.command("inspect")(inspect.inspect_command)
    app.command("render")(render.render_command)
    vocab_app = typer.Typer(help="Motion-token vocabularies.", no_args_is_help=True)
    vocab_app.command("build")(vocab.vocab_build_command)
    app.add_typer(vocab_app, name="vocab")
    app.command("prepare")(prepare.prepare_command)
    app.command("train")(train.train_command)
    app.command("simulate")(simulate.simulate_command)
    app.command("evaluate")(evaluate.evaluate_command)
    app.command("validate")(validate.validate_command)
    app.command("package")(package.package_command)
    app.command("view")(view.view_command)
    report_app = typer.Typer(help="Reports on rollouts and trained models.", no_args_is_help=True)
    report_app.command("kinematics")(report.kinematics_command)
    report_app.command("ablation")(report.ablation_command)
    report_app.command("learning-check")(learning_check.learning_check_command)
    app.add_typer(report_app, name="report")


_register()


def main() -> None:
    """Entry point: bad input ends with one clear line, not a traceback."""
    from smartr1.cli.options import fill_optional_values

    try:
        app(args=fill_optional_values(sys.argv[1:]))
    except DataError as e:
        typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
