"""Deadlines: the sweeps by hand, drills and training on a copy of the database."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated
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

if TYPE_CHECKING:  # imported when a command runs, so that `reflections --help` stays quick
    from reflections.lifecycle.drills import DrillReport
    from reflections.lifecycle.sla import Escalation, Reminder
    from reflections.platform.copies import DatabaseCopy

sla_app = typer.Typer(
    help="Deadlines: the sweeps by hand, drills and training on a copy.", no_args_is_help=True
)
LISTED = 50  # reminders and escalations printed one by one; more are summed up

DrillOption = Annotated[
    bool,
    typer.Option("--drill", help="Run on a copy of the database (always so for a future --at)."),
]
BatchOption = Annotated[int, typer.Option(min=1, max=10_000, help="Reflections per batch.")]


def _local(instant: datetime) -> str:
    return f"{instant.astimezone(ZoneInfo(get_settings().time_zone)):%Y-%m-%d %H:%M %Z}"


def _print_actions(reminders: Sequence[Reminder], escalations: Sequence[Escalation]) -> None:
    if len(reminders) + len(escalations) > LISTED:
        steps = Counter(f"{item.step} to level {item.level}" for item in escalations)
        console.print(f"  escalations by step and level: {dict(sorted(steps.items()))}")
        return
    zone = ZoneInfo(get_settings().time_zone)
    for reminder in reminders:
        due = reminder.due_at.astimezone(zone)
        console.print(
            f"  reminded  {reminder.tracking_code}  {reminder.step} due {due:%Y-%m-%d %H:%M}"
        )
    for item in escalations:
        where = f"level {item.level} ({item.area_code})"
        console.print(f"  escalated {item.tracking_code}  {item.step} to {where}")


@sla_app.command("sweep")
def sla_sweep(
    at: AtOption = None,
    drill: DrillOption = False,
    batch_size: BatchOption = 200,
    max_seconds: Annotated[
        float, typer.Option(min=1, help="Stop after this long, even with work still due.")
    ] = 300,
    progress: ProgressOption = None,
) -> None:
    """Remind and escalate everything due, batch after batch, as of now. As of a future --at
    (or with --drill) it runs on a copy of the database and says where the copy is."""
    from reflections.lifecycle import drill_guard, sla

    instant = instant_or_now(at)
    if drill or drill_guard.is_future(instant):
        _sweep_drill(instant, batch_size, progress)
        return
    started = clock.wall_now()
    with open_session() as session, clock.frozen_at(instant):
        due = sla.due_count(session, instant)
        done = 0

        def advance(claimed: int) -> None:
            nonlocal done
            done += claimed
            tell(done, due)

        with progress_bar("Sweeping due reflections", progress) as tell:
            report = sla.drain(
                session,
                instant,
                batch_size,
                max_seconds,
                on_batch=lambda batch: advance(batch.claimed),
            )
    console.print(f"sweep as of {_local(instant)}")
    _print_actions(report.reminders, report.escalations)
    seconds = (clock.wall_now() - started).total_seconds()
    console.print(
        f"{len(report.reminders)} reminded, {len(report.escalations)} escalated: "
        f"{due} due, {report.batches} batch(es) of up to {batch_size}, {seconds:.1f} s"
    )
    if not report.complete:
        console.print(
            f"[yellow]stopped after {max_seconds:.0f} s with reflections still due; "
            "run it again (or let the every-minute flow finish)[/yellow]"
        )
        raise typer.Exit(1)


def _copy(purpose: str) -> DatabaseCopy:
    from reflections.lifecycle.drills import make_copy
    from reflections.platform.copies import CopyFailed
    from reflections.platform.migrate import DatabaseNotMigrated

    try:
        copy = make_copy(get_settings().database_url, purpose)
    except (CopyFailed, DatabaseNotMigrated) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    console.print(f"drill on a copy of the database: [bold]{copy.where}[/bold]")
    console.print("the live database is not touched; nothing queued on the copy is sent")
    return copy


def _print_messages(messages: Counter[str]) -> None:
    queued = ", ".join(f"{kind} {n}" for kind, n in sorted(messages.items())) or "none"
    console.print(f"messages that would go out (queued on the copy only): {queued}")


def _sweep_drill(instant: datetime, batch_size: int, progress: bool | None) -> None:
    from reflections.lifecycle.drills import run_drill

    copy = _copy(f"sla sweep as of {instant.isoformat()}")
    done = 0
    with progress_bar("Sweeping due reflections", progress) as tell:

        def advance(claimed: int) -> None:
            nonlocal done
            done += claimed
            tell(done, done)  # a drill does not count what is due on the copy first

        report = run_drill(copy, instant, batch_size, on_batch=lambda b: advance(b.claimed))
    console.print(f"drill: sweep as of {_local(instant)}")
    _print_actions(report.reminders, report.escalations)
    console.print(
        f"{len(report.reminders)} reminded, {len(report.escalations)} escalated, "
        f"{len(report.confirmed)} auto-confirmed"
    )
    _print_messages(report.messages)
    console.print(f"the copy stays for inspection: {copy.where} (reflections sla copies --drop)")


@sla_app.command("replay")
def sla_replay(
    start: Annotated[str, typer.Option("--from", help="First instant, e.g. 2026-02-13T07:00.")],
    days: Annotated[int, typer.Option(min=1, max=62, help="How many days to replay.")] = 7,
    every: Annotated[int, typer.Option(min=1, max=1440, help="Minutes between sweeps.")] = 60,
) -> None:
    """Training: replay the sweeps every --every minutes for --days days from --from, on a
    copy of the database, and print what happened when."""
    from reflections.lifecycle.drills import replay

    first = instant_or_now(start)
    copy = _copy(f"training replay of {days} day(s) from {first.isoformat()}")

    def step(at: datetime, done: DrillReport) -> None:
        if done.reminders or done.escalations or done.confirmed:
            console.print(
                f"{_local(at)}  {len(done.reminders)} reminded, {len(done.escalations)} "
                f"escalated, {len(done.confirmed)} auto-confirmed"
            )

    last = first + timedelta(days=days)
    total = replay(copy, first, last, timedelta(minutes=every), on_step=step)
    console.print(
        f"replayed {_local(first)} to {_local(last)} every {every} min: "
        f"{len(total.reminders)} reminded, {len(total.escalations)} escalated, "
        f"{len(total.confirmed)} auto-confirmed"
    )
    _print_messages(total.messages)
    console.print(f"the copy stays for inspection: {copy.where} (reflections sla copies --drop)")


@sla_app.command("copies")
def sla_copies(
    drop: Annotated[bool, typer.Option("--drop", help="Remove every drill copy.")] = False,
) -> None:
    """List the drill copies made of the configured database (or remove them)."""
    from reflections.platform.copies import copies_of, drop_copy

    found = copies_of(get_settings().database_url)
    for url in found:
        if drop:
            drop_copy(url)
        console.print(f"{'dropped ' if drop else ''}{url}")
    console.print(f"{len(found)} drill cop{'y' if len(found) == 1 else 'ies'}")


@sla_app.command("auto-confirm")
def sla_auto_confirm(at: AtOption = None) -> None:
    """Confirm processed reflections whose confirmation window closed (a future --at: on a
    copy)."""
    from reflections.lifecycle import drill_guard
    from reflections.lifecycle.sla import auto_confirm

    instant = instant_or_now(at)
    if drill_guard.is_future(instant):
        _sweep_drill(instant, 200, None)
        return
    with open_session() as session, clock.frozen_at(instant):
        confirmed = auto_confirm(session, instant)
    console.print(f"{len(confirmed)} auto-confirmed: {', '.join(confirmed) or '-'}")
