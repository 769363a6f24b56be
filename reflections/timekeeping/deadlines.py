"""Step deadlines (DESIGN.md §5): when a step starts, when it is due, and the sweep's marks.

A reflection runs one step at a time: classify (received and classified, until assigned),
accept (awaiting acceptance) and process (in progress). Its allowance comes from the policy
table and counts working time, or wall-clock time for around-the-clock (emergency) policies.
The sweep acts at 75% of the allowance (a reminder), at 100% (overdue: first escalation) and at
every further 50% (one more level up).
"""

import math
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlmodel import Session

from reflections.models import Reflection
from reflections.models.enums import AssignmentStage, LifecycleState, Priority
from reflections.timekeeping import calendar_days
from reflections.timekeeping.calendar import Calendar, calendar_for
from reflections.timekeeping.policies import policy_for

REMINDER_SHARE = 0.75
FURTHER_ESCALATION_SHARE = 0.5


class Step(StrEnum):
    CLASSIFY = "classify"
    ACCEPT = "accept"
    PROCESS = "process"


# Used when no policy row matches: DESIGN.md §5's normal defaults.
DEFAULT_ALLOWANCE = {Step.CLASSIFY: 4 * 60, Step.ACCEPT: 8 * 60, Step.PROCESS: 5 * 450}


def step_of(reflection: Reflection) -> Step | None:
    if reflection.state in (LifecycleState.RECEIVED, LifecycleState.CLASSIFIED):
        return Step.CLASSIFY
    if reflection.assignment_stage is AssignmentStage.AWAITING_ACCEPTANCE:
        return Step.ACCEPT
    if reflection.assignment_stage is AssignmentStage.IN_PROGRESS:
        return Step.PROCESS
    return None


def calendar(session: Session, around_the_clock: bool, as_of: datetime) -> Calendar:
    """The calendar a step that started at ``as_of`` counts in: wall-clock time, or working
    time with the administrators' days off and working days in force then."""
    if around_the_clock:
        return calendar_for(around_the_clock=True)
    config = calendar_days.config_as_of(session, as_of)
    return calendar_for(around_the_clock=False, config=config)  # cached per config


def step_calendar(session: Session, reflection: Reflection) -> Calendar:
    """The calendar the running step counts in (the one in force when it started)."""
    started = reflection.step_started_at or reflection.created_at
    return calendar(session, reflection.step_around_the_clock, started)


def allowance(
    session: Session, step: Step, category_id: int | None, priority: Priority | None
) -> tuple[int, bool]:
    """(minutes, around the clock) for a step of this category and priority."""
    policy = policy_for(session, category_id, priority or Priority.NORMAL)
    if policy is None:
        return DEFAULT_ALLOWANCE[step], False
    minutes = {
        Step.CLASSIFY: policy.classify_minutes,
        Step.ACCEPT: policy.accept_minutes,
        Step.PROCESS: policy.process_minutes,
    }[step]
    return minutes, policy.around_the_clock


def _set_due(reflection: Reflection, step: Step, due: datetime | None) -> None:
    if step is Step.CLASSIFY:
        reflection.classify_due_at = due
    elif step is Step.ACCEPT:
        reflection.accept_due_at = due
    else:
        reflection.process_due_at = due


# Each step's deadline column: read alone (a column read on the model costs a Python call).
_DUE_COLUMN = {
    Step.CLASSIFY: "classify_due_at",
    Step.ACCEPT: "accept_due_at",
    Step.PROCESS: "process_due_at",
}


def due_of(reflection: Reflection, step: Step) -> datetime | None:
    due: datetime | None = getattr(reflection, _DUE_COLUMN[step])
    return due


def start_step(session: Session, reflection: Reflection, step: Step, now: datetime) -> None:
    """Start ``step`` now: its deadline from the policy, and the sweep's first mark."""
    minutes, around = allowance(session, step, reflection.category_id, reflection.priority)
    reflection.step_started_at = now
    reflection.step_allowance_minutes = minutes
    reflection.step_around_the_clock = around
    reflection.step_reminded = False
    reflection.step_escalations = 0
    _set_due(reflection, step, calendar(session, around, now).add(now, minutes))
    reflection.next_sla_at = next_mark(session, reflection)


def follow_policy(session: Session, reflection: Reflection) -> dict[str, Any]:
    """Classification changed the category or priority: if that changes the running step's
    policy, recompute its deadline from the step's start under the new one (DESIGN.md §10: an
    emergency found at classification is due 60 minutes around the clock from submission).
    Marks the sweep already acted on stay acted on. Returns what the history row should say."""
    step = step_of(reflection)
    started = reflection.step_started_at
    if step is None or started is None:
        return {}
    minutes, around = allowance(session, step, reflection.category_id, reflection.priority)
    if (minutes, around) == (reflection.step_allowance_minutes, reflection.step_around_the_clock):
        return {}
    previous = due_of(reflection, step)
    new_due = calendar(session, around, started).add(started, minutes)
    reflection.step_allowance_minutes = minutes
    reflection.step_around_the_clock = around
    _set_due(reflection, step, new_due)
    reflection.next_sla_at = next_mark(session, reflection)
    return {
        "deadline_recomputed": step.value,
        "step_started_at": started,
        "allowance_minutes": minutes,
        "around_the_clock": around,
        "previous_due_at": previous,
        "new_due_at": new_due,
    }


def end_step(reflection: Reflection) -> None:
    """No step runs (processed or closed): nothing for the sweep to watch."""
    reflection.step_started_at = None
    reflection.step_allowance_minutes = None
    reflection.step_reminded = False
    reflection.step_escalations = 0
    reflection.next_sla_at = None


def move_due(session: Session, reflection: Reflection, step: Step, new_due: datetime) -> None:
    """An extension was granted: the allowance now ends at ``new_due``; marks follow it."""
    _set_due(reflection, step, new_due)
    if reflection.step_started_at is not None:
        cal = step_calendar(session, reflection)
        reflection.step_allowance_minutes = max(cal.elapsed(reflection.step_started_at, new_due), 1)
        reflection.next_sla_at = next_mark(session, reflection)


def reminder_at(session: Session, reflection: Reflection) -> datetime:
    return _after_share(session, reflection, REMINDER_SHARE)


def escalation_at(session: Session, reflection: Reflection, level: int) -> datetime:
    """When the step's ``level``-th escalation is due: 100%, 150%, 200%, ... of the allowance."""
    return _after_share(session, reflection, 1 + FURTHER_ESCALATION_SHARE * (level - 1))


def _after_share(session: Session, reflection: Reflection, share: float) -> datetime:
    started, allowance = reflection.step_started_at, reflection.step_allowance_minutes
    assert started is not None and allowance
    cal = calendar(session, reflection.step_around_the_clock, started)  # as step_calendar
    return cal.add(started, math.ceil(allowance * share))


def next_mark(
    session: Session, reflection: Reflection, ladder_length: int | None = None
) -> datetime | None:
    """When the sweep must look at this reflection next; None once the ladder's top is reached."""
    if reflection.step_started_at is None or not reflection.step_allowance_minutes:
        return None
    if not reflection.step_reminded:
        return reminder_at(session, reflection)
    level = reflection.step_escalations + 1
    if ladder_length is not None and level > ladder_length:
        return None
    return escalation_at(session, reflection, level)


def working_time(
    session: Session, around_the_clock: bool, start: datetime, end: datetime
) -> timedelta:
    """Time spent on a step from ``start`` to ``end``, exact to the microsecond, on the calendar
    that set its deadline: working time, or wall-clock time around the clock; zero if
    ``end <= start``.

    :meth:`Calendar.elapsed` counts whole minutes on an odometer (both ends truncated to the
    minute); the seconds of the two partial minutes are added back when those minutes are
    working time (periods are whole minutes). Hence it is additive over consecutive intervals
    and ``working_time(x, False, s, calendar(x, False, s).add(s, n)) == timedelta(minutes=n)``.
    The calendar is the one in force at ``start`` (when the step began).
    """
    if end <= start:
        return timedelta(0)
    if around_the_clock:
        return end - start
    cal = calendar(session, False, start)
    whole = timedelta(minutes=cal.elapsed(start, end))
    return whole + _into_working_minute(cal, end) - _into_working_minute(cal, start)


def _into_working_minute(cal: Calendar, at: datetime) -> timedelta:
    """How far ``at`` is into its minute, if that minute is working time (else zero).

    The minute is cut in UTC, the same as in local time for a zone whose offset is whole
    minutes (Asia/Ho_Chi_Minh: +07:00).
    """
    into = timedelta(seconds=at.second, microseconds=at.microsecond)
    return into if cal.is_working_time(at - into) else timedelta(0)


def remaining_minutes(session: Session, reflection: Reflection, now: datetime) -> int | None:
    """Working (or wall-clock) minutes left in the running step; negative when overdue."""
    step = step_of(reflection)
    due = due_of(reflection, step) if step else None
    if due is None:
        return None
    cal = step_calendar(session, reflection)
    return cal.elapsed(now, due) if now <= due else -cal.elapsed(due, now)
