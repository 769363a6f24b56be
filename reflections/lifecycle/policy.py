"""What may be done now: the events the lifecycle chart allows in a reflection's position,
narrowed by the current policy, and by the actor's role, scope and the state's guards."""

from sqlmodel import Session

from reflections.actors import Actor
from reflections.errors import Forbidden
from reflections.lifecycle.permissions import check_may_fire
from reflections.models import Reflection
from reflections.models.enums import AssignmentStage, LifecycleEvent
from reflections.platform import clock
from reflections.platform.settings import get_settings
from statemachines import Position, allowed_events


def position_of(reflection: Reflection) -> Position:
    return Position(
        state=reflection.state,
        stage=reflection.assignment_stage,
        extension_pending=reflection.extension_pending,
        reopen_count=reflection.reopen_count,
        confirm_due_at=reflection.confirm_due_at,
    )


def available_events(
    session: Session, actor: Actor, reflection: Reflection
) -> list[LifecycleEvent]:
    """The events this actor could fire now: allowed in the state, by the role and scope, and
    with their state-dependent guards open (pending extension, reopen allowance)."""
    position = position_of(reflection)
    events = []
    for event in allowed_now(position):
        try:
            check_may_fire(session, actor, event, reflection)
        except Forbidden:
            continue
        deciding = event in (LifecycleEvent.GRANT_EXTENSION, LifecycleEvent.DENY_EXTENSION)
        if deciding and not position.extension_pending:
            continue
        if event is LifecycleEvent.REQUEST_EXTENSION and position.extension_pending:
            continue
        if event is LifecycleEvent.REOPEN and not _reopen_open(position):
            continue
        events.append(event)
    return events


def allowed_now(position: Position) -> list[LifecycleEvent]:
    """The events the machine allows in this position, less those the current policy holds
    back. The machine also replays stored histories, which may hold what policy now refuses,
    so such rules live here rather than in the chart: an extension is requested (and so
    decided) only once the unit has accepted the task; before that the acceptance deadline runs,
    not the work's."""
    events = allowed_events(position)
    if position.stage is AssignmentStage.AWAITING_ACCEPTANCE:
        events = [e for e in events if e not in _EXTENSION_EVENTS]
    return events


_EXTENSION_EVENTS = frozenset(
    {
        LifecycleEvent.REQUEST_EXTENSION,
        LifecycleEvent.GRANT_EXTENSION,
        LifecycleEvent.DENY_EXTENSION,
    }
)


def _reopen_open(position: Position) -> bool:
    due = position.confirm_due_at
    within_window = due is None or clock.now() <= due
    return within_window and position.reopen_count < get_settings().max_reopens
