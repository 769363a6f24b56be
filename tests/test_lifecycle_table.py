"""Every (state, event) pair of DESIGN.md §4 through the domain service, from one table."""

import pytest
from sqlmodel import Session, func, select

from reflections.errors import EventNotAllowed, Forbidden
from reflections.lifecycle.history import timeline
from reflections.models import HistoryEvent
from reflections.models.enums import LifecycleEvent, Role
from tests.lifecycle_helpers import PATHS, E, actor_for, fire, machine_state, reflection_at, refs

STATES = list(PATHS)
EVENTS = [event for event in LifecycleEvent if event is not E.SUBMIT]

# (machine state, event) -> machine state after it. Anything absent must be refused.
ALLOWED: dict[tuple[str, LifecycleEvent], str] = {
    ("received", E.CLASSIFY): "classified",
    ("received", E.NOTE): "received",
    ("classified", E.NOTE): "classified",
    ("processed", E.NOTE): "processed",
    ("received", E.REJECT): "rejected",
    ("received", E.ESCALATE): "received",
    ("received", E.REMIND): "received",
    ("classified", E.REMIND): "classified",
    ("classified", E.REJECT): "rejected",
    ("classified", E.ASSIGN): "awaiting_acceptance",
    ("classified", E.ESCALATE): "classified",
    ("processed", E.SEND_BACK): "in_progress",
    ("processed", E.CONFIRM): "confirmed",
    ("processed", E.REOPEN): "in_progress",
    ("processed", E.ESCALATE): "processed",
}
for stage in ("awaiting_acceptance", "in_progress"):
    ALLOWED |= {
        (stage, E.RETURN): "classified",
        (stage, E.REASSIGN): "awaiting_acceptance",
        (stage, E.ESCALATE): stage,
        (stage, E.REMIND): stage,
        (stage, E.NOTE): stage,
        (stage, E.TAKE): stage,
        (stage, E.ADD_INFO): stage,
    }
# The citizen adds information or photos while it is open (issue 16).
ALLOWED |= {(state, E.ADD_INFO): state for state in ("received", "classified")}
# An extension is asked for, and decided, once the unit has accepted (the service's policy).
for event in (E.REQUEST_EXTENSION, E.GRANT_EXTENSION, E.DENY_EXTENSION):
    ALLOWED[("in_progress", event)] = "in_progress"
ALLOWED[("awaiting_acceptance", E.ACCEPT)] = "in_progress"
ALLOWED[("in_progress", E.PROCESS)] = "processed"

# Events that need an earlier event to be meaningful (a decision needs a request).
PREREQUISITE = {E.GRANT_EXTENSION: E.REQUEST_EXTENSION, E.DENY_EXTENSION: E.REQUEST_EXTENSION}


def _history_count(session: Session, reflection_id: int) -> int:
    statement = select(func.count()).where(HistoryEvent.reflection_id == reflection_id)
    return session.exec(statement).one()


@pytest.mark.parametrize("event", EVENTS, ids=str)
@pytest.mark.parametrize("state", STATES)
def test_state_event_pair(session: Session, state: str, event: LifecycleEvent) -> None:
    r = refs(session)
    reflection = reflection_at(session, state, r)
    if (state, event) in ALLOWED and event in PREREQUISITE:
        reflection = fire(session, reflection, PREREQUISITE[event], r)
    assert reflection.id is not None
    version = reflection.version

    if (state, event) in ALLOWED:
        after = fire(session, reflection, event, r)
        assert machine_state(after) == ALLOWED[(state, event)]
        assert after.version == version + 1
        last = timeline(session, reflection.id)[-1]
        assert (last.seq, last.event) == (version + 1, event)
        assert (last.to_state, last.to_stage) == (after.state, after.assignment_stage)
    elif actor_for(event, reflection).role is Role.HANDLER and reflection.handling_unit_id is None:
        # Scope comes before state: no handler may act on an unassigned reflection.
        with pytest.raises(Forbidden):
            fire(session, reflection, event, r)
        assert _history_count(session, reflection.id) == version
    else:
        with pytest.raises(EventNotAllowed) as refused:
            fire(session, reflection, event, r)
        assert refused.value.state == reflection.state
        assert f"'{event}' is not allowed in state {reflection.state}" in str(refused.value)
        allowed_here = {e for (s, e) in ALLOWED if s == state}
        assert set(refused.value.allowed) == allowed_here
        session.expire_all()
        assert _history_count(session, reflection.id) == version
        assert machine_state(reflection) == state
