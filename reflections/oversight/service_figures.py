"""Figures about the running service, for ``/metrics`` and ``/readyz``.

They are read from the database, not counted in a process: every API process and replica
reports the same city, and what the flows did on other hosts is included. Each figure is one
grouped statement, over indexed columns where the table is large (open states, the next SLA mark,
outbox status and due time); the transition counts scan the history (about 0.2 s a million rows
on PostgreSQL), so callers cache the figures for a while.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from reflections.lifecycle.queries import OPEN_STATES, current_due_at
from reflections.models import HistoryEvent, OutboxMessage, OutboxStatus, Reflection

UNDELIVERED = (OutboxStatus.PENDING, OutboxStatus.SENDING)
DEAD_LETTERS = (OutboxStatus.DEAD, OutboxStatus.FAILED_PERMANENT)


@dataclass(frozen=True)
class ServiceFigures:
    open_reflections: dict[tuple[str, int], int]  # (state, escalation level) -> count
    overdue: int  # open, the running step past its deadline
    escalated: int  # open, escalated at least once
    outbox_messages: dict[tuple[str, str], int]  # (channel, outcome) -> rows
    outbox_depth: dict[str, int]  # channel -> undelivered rows
    outbox_oldest_due_seconds: dict[str, float]  # channel -> how long the oldest due one waits
    dead_letters: dict[str, int]  # channel -> dead or permanently failed rows
    sweep_lag_seconds: float  # how long the oldest due SLA mark has waited for the sweep
    transitions: dict[str, int]  # event -> history rows ever written


def service_figures(session: Session, now: datetime) -> ServiceFigures:
    is_open = col(Reflection.state).in_(OPEN_STATES)
    open_rows = session.exec(
        select(Reflection.state, Reflection.escalation_level, func.count())
        .where(is_open)
        .group_by(col(Reflection.state), col(Reflection.escalation_level))
    ).all()
    overdue = session.exec(select(func.count()).where(is_open, current_due_at() < now)).one()
    escalated = session.exec(
        select(func.count()).where(is_open, col(Reflection.escalation_level) > 0)
    ).one()
    outcome = case(
        (
            (col(OutboxMessage.status) == OutboxStatus.PENDING) & (col(OutboxMessage.attempts) > 0),
            "retrying",
        ),
        else_=col(OutboxMessage.status),
    )
    outbox_rows = session.exec(
        select(OutboxMessage.channel, outcome, func.count()).group_by(
            col(OutboxMessage.channel), outcome
        )
    ).all()
    messages = {(channel, str(kind)): n for channel, kind, n in outbox_rows}
    oldest_due = session.exec(
        select(OutboxMessage.channel, func.min(OutboxMessage.next_attempt_at))
        .where(
            col(OutboxMessage.status).in_(UNDELIVERED), col(OutboxMessage.next_attempt_at) <= now
        )
        .group_by(col(OutboxMessage.channel))
    ).all()
    oldest_mark = session.exec(
        select(func.min(Reflection.next_sla_at)).where(col(Reflection.next_sla_at) <= now)
    ).one()
    return ServiceFigures(
        open_reflections={(str(state), level): n for state, level, n in open_rows},
        overdue=overdue,
        escalated=escalated,
        outbox_messages=messages,
        outbox_depth=_sum_by_channel(messages, ("pending", "retrying", "sending")),
        outbox_oldest_due_seconds={
            channel: _seconds(now, due) for channel, due in oldest_due if due is not None
        },
        dead_letters=_sum_by_channel(messages, tuple(s.value for s in DEAD_LETTERS)),
        sweep_lag_seconds=_seconds(now, oldest_mark) if oldest_mark is not None else 0.0,
        transitions=transitions(session),
    )


def oldest_due_message_seconds(session: Session, now: datetime) -> float:
    """How long the oldest message due for delivery has waited (0 when none waits)."""
    due = session.exec(
        select(func.min(OutboxMessage.next_attempt_at)).where(
            col(OutboxMessage.status).in_(UNDELIVERED), col(OutboxMessage.next_attempt_at) <= now
        )
    ).one()
    return _seconds(now, due) if due is not None else 0.0


def transitions(session: Session) -> dict[str, int]:
    """History rows by event: every transition ever made, a counter that only grows."""
    rows = session.exec(
        select(HistoryEvent.event, func.count()).group_by(col(HistoryEvent.event))
    ).all()
    return {str(event): n for event, n in rows}


def _sum_by_channel(messages: dict[tuple[str, str], int], kinds: tuple[str, ...]) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for (channel, kind), n in messages.items():
        totals[channel] += n if kind in kinds else 0
    return dict(totals)


def _seconds(now: datetime, then: datetime) -> float:
    return max(0.0, (now - then).total_seconds())
