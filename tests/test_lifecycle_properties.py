"""Random event sequences through the domain service keep the lifecycle's invariants."""

from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from reflections.errors import DomainError, EventNotAllowed, Forbidden, GuardFailed
from reflections.lifecycle.history import replay, timeline
from reflections.models import Reflection
from reflections.models.enums import LifecycleEvent
from statemachines import FINAL_STATES
from tests.lifecycle_helpers import E, fire, new_reflection, refs

EVENTS = [event for event in LifecycleEvent if event is not E.SUBMIT]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(events=st.lists(st.sampled_from(EVENTS), min_size=1, max_size=25))
def test_random_sequences_keep_invariants(session: Session, events: list[LifecycleEvent]) -> None:
    r = refs(session)
    reflection = new_reflection(session)
    reflection_id = reflection.id
    assert reflection_id is not None
    applied = 1
    for event in events:
        was_final = reflection.state in FINAL_STATES
        try:
            reflection = fire(session, reflection, event, r)
            applied += 1
            assert not was_final, "nothing leaves a final state"
        except (EventNotAllowed, GuardFailed):
            pass
        except Forbidden:
            # Handlers act only on their unit's reflections: none is assigned yet.
            assert reflection.handling_unit_id is None
        except DomainError as error:
            raise AssertionError(f"unexpected refusal of {event}: {error}") from error
        session.expire_all()
        stored = session.get(Reflection, reflection_id)
        assert stored is not None
        rows = timeline(session, reflection_id)
        assert stored.version == len(rows) == applied
        position = replay(rows)
        assert (position.state, position.stage) == (stored.state, stored.assignment_stage)
        assert position.reopen_count == stored.reopen_count
        assert position.extension_pending == stored.extension_pending
        assert [row.seq for row in rows] == list(range(1, applied + 1))
        assert all(later.prev_hash == earlier.hash for earlier, later in pairwise(rows))
        reflection = stored
