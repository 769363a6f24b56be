"""One date a citizen can hold on to (issue 16): when the result is expected, not the four
internal step deadlines.

While the process step runs it is that step's deadline. Before, the steps still to come are
added to the running step's deadline (or to now, when that has passed: a late classification
does not make the promise earlier than what can still happen), each with its policy's
allowance in its calendar. Reading only: nothing is stored.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from reflections.models import Reflection
from reflections.models.enums import LifecycleState
from reflections.timekeeping import deadlines
from reflections.timekeeping.deadlines import Step

_AFTER = {Step.CLASSIFY: (Step.ACCEPT, Step.PROCESS), Step.ACCEPT: (Step.PROCESS,)}


@dataclass(frozen=True)
class Promise:
    expected_by: datetime
    minutes_left: int  # working minutes (clock minutes around the clock); negative: late
    around_the_clock: bool


def expected_result(session: Session, reflection: Reflection, now: datetime) -> Promise | None:
    """When the result is expected, and how much time that leaves; None once there is a
    result or the reflection was closed without one."""
    if reflection.state not in (
        LifecycleState.RECEIVED,
        LifecycleState.CLASSIFIED,
        LifecycleState.ASSIGNED,
    ):
        return None
    step = deadlines.step_of(reflection)
    due = deadlines.due_of(reflection, step) if step is not None else None
    if step is None or due is None:
        return None
    around = reflection.step_around_the_clock
    expected = due
    for later in _AFTER.get(step, ()):
        minutes, around = deadlines.allowance(
            session, later, reflection.category_id, reflection.priority
        )
        expected = deadlines.calendar(session, around, now).add(max(expected, now), minutes)
    cal = deadlines.calendar(session, around, now)
    left = cal.elapsed(now, expected) if expected >= now else -cal.elapsed(expected, now)
    return Promise(expected, left, around)
