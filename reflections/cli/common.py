"""What every command group shares: the console, a migrated session, and ``--at``."""

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from sqlmodel import Session

from reflections.platform import clock, migrate
from reflections.platform.db import get_engine
from reflections.platform.settings import get_settings

console = Console()


def open_session() -> Session:
    engine = get_engine()
    try:
        migrate.ensure_migrated(engine)
    except migrate.DatabaseNotMigrated as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    return Session(engine, expire_on_commit=False)


def instant_or_now(at: str | None) -> datetime:
    if at is None:
        return clock.now()
    try:
        instant = datetime.fromisoformat(at)
    except ValueError:
        raise typer.BadParameter(f"{at!r} is not an ISO 8601 instant") from None
    if instant.tzinfo is None:  # read as local time, as a trainer would type it
        instant = instant.replace(tzinfo=ZoneInfo(get_settings().time_zone))
    return instant


AtOption = Annotated[
    str | None,
    typer.Option("--at", help="Act as of this instant, e.g. 2026-02-23T09:00 (local time)."),
]


ProgressOption = Annotated[
    bool | None,
    typer.Option(
        "--progress/--no-progress", help="Show progress (default: when stderr is a terminal)."
    ),
]


@contextmanager
def progress_bar(description: str, shown: bool | None) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr (never in the output a script reads), told (done, total)."""
    if not (sys.stderr.isatty() if shown is None else shown):
        yield lambda done, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(description, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
