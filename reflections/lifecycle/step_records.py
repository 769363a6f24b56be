"""Finished steps, recorded for reports (DESIGN.md §5, §7): one :class:`StepRecord` per step.

The lifecycle service calls :func:`record_ended_step` for every event that ends or restarts a
step, in the event's transaction and before the step's fields are cleared or replaced. What
counts, and for whom:

* A step ends when an event moves the reflection out of it: ``assign`` and ``reject`` end
  *classify* (received or classified, until assigned); ``accept``, ``return`` and ``reassign``
  end *accept*; ``process``, ``return`` and ``reassign`` end *process*. Events that start a
  step while none runs (``send back`` and ``reopen``, from processed) end nothing; a confirm
  ends nothing either (no step runs once processed).
* Every ended step is recorded and counts in the reports, whatever ended it; ``ended_by``
  says which event did. A classify ended by a reject counts: the IOC decided the case.
* ``handling_unit_id`` is the unit that held the reflection during the step, read before the
  event moves it: none for *classify* (the IOC's step); for *accept* and *process* the unit
  it was assigned to, so a step ended by ``return`` counts for the unit that returned it and
  one ended by ``reassign`` for the unit it was taken from (late if it already was: moving a
  case does not hide lateness).
* ``working_seconds``: whole seconds (rounded down) on the calendar that set the step's
  deadline: working time, or wall-clock time for around-the-clock (emergency) policies
  (:func:`reflections.timekeeping.deadlines.working_time`).
* ``on_time``: ended at or before the step's due date as it stands when the step ends, so a
  granted extension counts; a step without a due date is on time.
"""

from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Connection, insert
from sqlalchemy.orm import NO_VALUE
from sqlalchemy.orm.attributes import instance_state
from sqlmodel import Session

from reflections.models import Reflection, StepRecord
from reflections.models.enums import LifecycleEvent
from reflections.models.types import table_of
from reflections.platform.db import execute
from reflections.timekeeping import deadlines

_INSERT = insert(table_of(StepRecord))


def record_ended_step(
    session: Session,
    connection: Connection,
    event: LifecycleEvent,
    reflection: Reflection,
    now: datetime,
) -> None:
    """Record the running step, if one runs, as ended by ``event`` at ``now`` (one INSERT
    through the session's ``connection``, in the event's transaction, without an ORM object:
    issue 18)."""
    step = deadlines.step_of(reflection)
    started = reflection.step_started_at
    if step is None or started is None:
        return
    assert reflection.id is not None
    due = deadlines.due_of(reflection, step)
    spent = deadlines.working_time(session, reflection.step_around_the_clock, started, now)
    execute(
        connection,
        _INSERT,
        {
            "reflection_id": reflection.id,
            "step": step.value,
            "started_at": started,
            "ended_at": now,
            "due_at": due,
            "working_seconds": spent // timedelta(seconds=1),
            "on_time": due is None or now <= due,
            "handling_unit_id": _unit_before_event(reflection),
            "ended_by": event.value,
        },
    )


def _unit_before_event(reflection: Reflection) -> int | None:
    """The handling unit as loaded, before this event's effects (assign, reassign and return
    change it before the step is recorded): the ORM keeps the loaded value of a column set since
    the last write (its attribute history answers the same from the same entry, at several
    times the cost: issue 18)."""
    state = instance_state(reflection)  # what inspect() finds, without its dispatch
    current = reflection.handling_unit_id
    loaded = state.committed_state.get("handling_unit_id", current)
    return current if loaded is NO_VALUE else cast(int | None, loaded)
