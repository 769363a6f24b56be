"""Deadlines: drills and manual runs of the sweeps."""

from zoneinfo import ZoneInfo

import typer

from reflections.cli.common import (
    AtOption,
    ProgressOption,
    console,
    instant_or_now,
    open_session,
    progress_bar,
)
from reflections.platform import clock
from reflections.platform.settings import get_settings

sla_app = typer.Typer(help="Deadlines: drills and manual runs of the sweeps.", no_args_is_help=True)


@sla_app.command("sweep")
def sla_sweep(at: AtOption = None, progress: ProgressOption = None) -> None:
    """Remind and escalate what is due, as of now or of --at (a drill)."""
    from reflections.lifecycle.sla import sweep

    instant = instant_or_now(at)
    with (
        open_session() as session,
        clock.frozen_at(instant),
        progress_bar("Sweeping due reflections", progress) as tell,
    ):
        report = sweep(session, instant, progress=tell)
    local = ZoneInfo(get_settings().time_zone)
    console.print(f"sweep as of {instant.astimezone(local):%Y-%m-%d %H:%M %Z}")
    for reminder in report.reminders:
        due = reminder.due_at.astimezone(local)
        console.print(
            f"  reminded  {reminder.tracking_code}  {reminder.step} due {due:%Y-%m-%d %H:%M}"
        )
    for item in report.escalations:
        where = f"level {item.level} ({item.area_code})"
        console.print(f"  escalated {item.tracking_code}  {item.step} to {where}")
    console.print(f"{len(report.reminders)} reminded, {len(report.escalations)} escalated")


@sla_app.command("auto-confirm")
def sla_auto_confirm(at: AtOption = None) -> None:
    """Confirm processed reflections whose confirmation window closed."""
    from reflections.lifecycle.sla import auto_confirm

    instant = instant_or_now(at)
    with open_session() as session, clock.frozen_at(instant):
        confirmed = auto_confirm(session, instant)
    console.print(f"{len(confirmed)} auto-confirmed: {', '.join(confirmed) or '-'}")
