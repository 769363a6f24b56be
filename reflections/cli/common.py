"""What every command group shares: the console, a migrated session, and ``--at``."""

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
