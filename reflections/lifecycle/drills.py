"""Drills and training run on a copy of the database, never on live data (DESIGN.md §10).

:func:`make_copy` copies the database (``reflections.platform.copies``) and marks the copy, so
the sweeps accept future instants there (``drill_guard``); :func:`run_drill` and :func:`replay`
run the sweeps on the copy as of the drill's instants, reporting what happened and what
messages would have gone out (they stay in the copy's outbox: nothing is delivered).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select

from reflections.lifecycle import sla
from reflections.models import DrillCopy, OutboxMessage
from reflections.platform import clock, copies, migrate
from reflections.platform.db import get_engine


def make_copy(source_url: str, purpose: str) -> copies.DatabaseCopy:
    """A copy of the (migrated) database, marked as a drill copy; none is left on failure."""
    copy = copies.copy_database(source_url)
    try:
        engine = get_engine(copy.url)
        migrate.ensure_migrated(engine)
        with Session(engine) as session:
            source = make_url(source_url).render_as_string(hide_password=True)
            session.add(DrillCopy(made_at=clock.wall_now(), source=source[:500], purpose=purpose))
            session.commit()
    except BaseException:
        copies.drop_copy(copy.url)
        raise
    return copy


@contextmanager
def session_on(copy: copies.DatabaseCopy) -> Iterator[Session]:
    with Session(get_engine(copy.url), expire_on_commit=False) as session:
        yield session


@dataclass
class DrillReport:
    """What the sweeps did on the copy, and the messages they queued there (never sent)."""

    copy: copies.DatabaseCopy
    reminders: list[sla.Reminder] = field(default_factory=list)
    escalations: list[sla.Escalation] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)
    messages: Counter[str] = field(default_factory=Counter)  # kind -> rows queued


def _queued_since(session: Session, last_id: int) -> Counter[str]:
    rows = session.exec(
        select(OutboxMessage.kind, func.count())
        .where(col(OutboxMessage.id) > last_id)
        .group_by(col(OutboxMessage.kind))
    ).all()
    return Counter({kind: int(count) for kind, count in rows})


def _last_message_id(session: Session) -> int:
    return session.exec(select(func.max(OutboxMessage.id))).one() or 0


def run_drill(
    copy: copies.DatabaseCopy,
    at: datetime,
    batch_size: int = 200,
    on_batch: Callable[[sla.SweepReport], None] | None = None,
) -> DrillReport:
    """Sweep the copy as of ``at`` until nothing is due there, and auto-confirm."""
    report = DrillReport(copy)
    with session_on(copy) as session, clock.frozen_at(at):
        first = _last_message_id(session)
        drained = sla.drain(session, at, batch_size, on_batch=on_batch)
        report.reminders += drained.reminders
        report.escalations += drained.escalations
        report.confirmed += sla.auto_confirm(session, at, batch_size=10_000)
        report.messages = _queued_since(session, first)
    return report


def replay(
    copy: copies.DatabaseCopy,
    start: datetime,
    end: datetime,
    step: timedelta,
    on_step: Callable[[datetime, DrillReport], None] | None = None,
) -> DrillReport:
    """Training: run the sweeps on the copy every ``step`` from ``start`` to ``end``, as the
    scheduled flows would have (or will), and report each step and the total."""
    total = DrillReport(copy)
    at = start
    while at <= end:
        done = run_drill(copy, at)
        total.reminders += done.reminders
        total.escalations += done.escalations
        total.confirmed += done.confirmed
        total.messages += done.messages
        if on_step is not None:
            on_step(at, done)
        at += step
    return total
