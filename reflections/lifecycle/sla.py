"""The deadline sweep, auto-confirmation and the handlers' digest (DESIGN.md §5).

Flows call these in batches; they are idempotent and safe on several workers at once: the
sweep leases the reflections it claims (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), and every
change goes through the one lifecycle service with the version it read, so a reflection that
changed meanwhile is skipped, never acted on twice.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from reflections.actors import Actor
from reflections.errors import Conflict, EventNotAllowed
from reflections.lifecycle import drill_guard
from reflections.lifecycle.service import EventInput, apply_event
from reflections.models import (
    AdministrativeUnit,
    Reflection,
)
from reflections.models.enums import LifecycleEvent, LifecycleState
from reflections.platform import leases
from reflections.platform.settings import get_settings
from reflections.timekeeping import deadlines, escalation


@dataclass(frozen=True)
class Reminder:
    tracking_code: str
    reflection_id: int
    step: str
    due_at: datetime


@dataclass(frozen=True)
class Escalation:
    tracking_code: str
    reflection_id: int
    level: int
    area_code: str
    step: str


@dataclass(frozen=True)
class SweepReport:
    reminders: list[Reminder]
    escalations: list[Escalation]
    claimed: int = 0  # due reflections this batch took (some may need nothing yet)


def _claim(session: Session, now: datetime, batch_size: int) -> list[tuple[int, int]]:
    """Lease due reflections to this sweep: (id, version) pairs nobody else will take now."""
    lease_until = now + timedelta(seconds=get_settings().sla_lease_seconds)
    claimed = leases.claim(
        session,
        Reflection,
        col(Reflection.id),
        due=[col(Reflection.next_sla_at) <= now],
        order_by=[col(Reflection.next_sla_at)],
        batch_size=batch_size,
        lease={"next_sla_at": lease_until},
        returning=[col(Reflection.id), col(Reflection.version)],
    )
    return [(row[0], row[1]) for row in claimed]


def sweep(session: Session, now: datetime, batch_size: int = 200) -> SweepReport:
    """Remind at 75% of a step, escalate at 100% and every further 50%, each exactly once;
    one batch. An instant in the future runs only on a drill copy."""
    drill_guard.refuse_future_on_live(session, now)
    claimed = _claim(session, now, batch_size)
    report = SweepReport([], [], len(claimed))
    for reflection_id, version in claimed:
        _sweep_one(session, reflection_id, version, now, report)
    return report


def _sweep_one(
    session: Session, reflection_id: int, version: int, now: datetime, report: SweepReport
) -> None:
    session.expire_all()
    reflection = session.get(Reflection, reflection_id)
    if reflection is None or reflection.version != version:
        return  # someone acted on it meanwhile; its new marks are already set
    try:
        _act_on(session, reflection, now, report)
    except (Conflict, EventNotAllowed):
        session.rollback()  # changed under us: the next sweep looks again


def _act_on(session: Session, reflection: Reflection, now: datetime, report: SweepReport) -> None:
    assert reflection.id is not None
    step = deadlines.step_of(reflection)
    if step is None or reflection.step_started_at is None:
        _release(session, reflection, None)
        return
    acted = False
    if not reflection.step_reminded and now >= deadlines.reminder_at(session, reflection):
        reflection = _fire(session, reflection, LifecycleEvent.REMIND, EventInput())
        report.reminders.append(
            Reminder(
                reflection.tracking_code,
                reflection.id or 0,
                step.value,
                deadlines.due_of(reflection, step) or now,
            )
        )
        acted = True
    areas = escalation.ladder(session, reflection)
    while (
        reflection.step_reminded
        and reflection.step_escalations < len(areas)
        and now >= deadlines.escalation_at(session, reflection, reflection.step_escalations + 1)
    ):
        area_id = areas[reflection.step_escalations]
        reflection = _fire(
            session,
            reflection,
            LifecycleEvent.ESCALATE,
            EventInput(administrative_unit_id=area_id, reason=f"{step.value} deadline passed"),
        )
        area = session.get(AdministrativeUnit, area_id)
        report.escalations.append(
            Escalation(
                reflection.tracking_code,
                reflection.id or 0,
                reflection.escalation_level,
                area.code if area else str(area_id),
                step.value,
            )
        )
        acted = True
    if not acted:  # woken early or by a lease that ran out: put the true mark back
        _release(session, reflection, deadlines.next_mark(session, reflection, len(areas)))


def _fire(
    session: Session, reflection: Reflection, event: LifecycleEvent, data: EventInput
) -> Reflection:
    assert reflection.id is not None
    return apply_event(session, reflection.id, event, Actor.system(), data, reflection.version)


def _release(session: Session, reflection: Reflection, mark: datetime | None) -> None:
    session.execute(
        update(Reflection)
        .where(col(Reflection.id) == reflection.id, col(Reflection.version) == reflection.version)
        .values(next_sla_at=mark)
        .execution_options(synchronize_session=False)
    )
    session.commit()


@dataclass
class DrainReport:
    reminders: list[Reminder] = field(default_factory=list)
    escalations: list[Escalation] = field(default_factory=list)
    batches: int = 0
    complete: bool = True  # False: stopped by the time bound with work still due


def due_count(session: Session, now: datetime) -> int:
    """How many reflections the sweep would look at now (the index on next_sla_at)."""
    statement = select(func.count()).where(col(Reflection.next_sla_at) <= now)
    return int(session.exec(statement).one())


def drain(
    session: Session,
    now: datetime,
    batch_size: int = 200,
    max_seconds: float | None = None,
    on_batch: Callable[[SweepReport], None] | None = None,
) -> DrainReport:
    """Sweep batch after batch until nothing is due as of ``now`` (what a batch claimed but
    could not act on stays leased past ``now``), or until ``max_seconds`` have passed."""
    report = DrainReport()
    started = time.monotonic()
    while True:
        batch = sweep(session, now, batch_size)
        report.batches += 1
        report.reminders += batch.reminders
        report.escalations += batch.escalations
        if on_batch is not None:
            on_batch(batch)
        if batch.claimed == 0:
            return report
        if max_seconds is not None and time.monotonic() - started >= max_seconds:
            report.complete = due_count(session, now) == 0
            return report


def auto_confirm(session: Session, now: datetime, batch_size: int = 200) -> list[str]:
    """Confirm, as the system, the processed reflections whose confirmation window closed.
    An instant in the future runs only on a drill copy."""
    drill_guard.refuse_future_on_live(session, now)
    due = session.execute(
        select(Reflection.id, Reflection.version, Reflection.tracking_code)
        .where(
            Reflection.state == LifecycleState.PROCESSED,
            col(Reflection.confirm_due_at) <= now,
        )
        .order_by(col(Reflection.confirm_due_at))
        .limit(batch_size)
    ).all()
    confirmed = []
    for reflection_id, version, code in due:
        try:
            apply_event(
                session,
                reflection_id,
                LifecycleEvent.CONFIRM,
                Actor.system(),
                EventInput(reason="confirmation window closed"),
                version,
            )
        except (Conflict, EventNotAllowed):
            continue  # the citizen (or another worker) got there first
        confirmed.append(code)
    return confirmed
