"""The working calendar: a year's working days and every exception, with its source."""

from typing import Annotated

import typer
from rich.table import Table

from reflections.cli.common import console, open_session
from reflections.platform.settings import get_settings

calendar_app = typer.Typer(help="The working calendar deadlines count in.", no_args_is_help=True)

SOURCES = {
    "public_holiday": "public holiday",
    "official_make_up_day": "official make-up day",
    "administrator": "administrator",
}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@calendar_app.command("show")
def calendar_show(
    year: Annotated[int, typer.Argument(min=2000, max=2100, help="The year, e.g. 2026.")],
    language: Annotated[str, typer.Option(help="Holiday names in vi or en.")] = "en",
) -> None:
    """Print a year's working days per month and its exceptions (holidays, moved days)."""
    from reflections.timekeeping.calendar_year import year_overview

    with open_session() as session:
        overview = year_overview(session, year, language)
    zone = get_settings().time_zone
    # Two short lines rather than one that an 80-column terminal would wrap mid-figure.
    console.print(
        f"Working calendar {year}: {overview.working_days} working days, "
        f"{_hours(overview.working_minutes)} working hours"
    )
    console.print(f"({zone}; Monday–Friday 07:30–11:30, 13:30–17:00)")
    months = Table("month", "working days", "working hours", box=None)
    for month in overview.months:
        months.add_row(
            f"{month.month:02d}/{year}", str(month.working_days), _hours(month.working_minutes)
        )
    console.print(months)
    exceptions = Table("date", "", "is", "source", "name or note", box=None, title="Exceptions")
    for item in overview.exceptions:
        exceptions.add_row(
            f"{item.day:%d/%m/%Y}",
            WEEKDAYS[item.day.weekday()],
            "working day" if item.working else "day off",
            SOURCES[item.source],
            item.name or "",
        )
    console.print(exceptions)


def _hours(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return f"{hours}:{rest:02d}"
