"""One progress bar for the long file-writing jobs (generate, convert): a count of items, the time
spent and a free note (e.g. what was skipped)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def count_bar(verb: str, unit: str, console: Console | None = None, enabled: bool = True) -> Progress:
    """A Rich progress bar "<verb> ━━━ n/N <unit> 0:00:12 <note>"; add tasks with a `note` field."""
    return Progress(
        TextColumn(f"[bold]{verb}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TextColumn("{task.fields[note]}"),
        console=console,
        disable=not enabled,
    )
