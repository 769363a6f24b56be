"""Two people acting on one reflection at once: exactly one wins, the other gets a conflict."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session

from reflections.errors import Conflict
from reflections.lifecycle.history import timeline
from reflections.lifecycle.service import EventInput, apply_event
from reflections.models import Reflection
from reflections.models.types import table_of
from tests.lifecycle_helpers import E, handler_of, reflection_at, refs


def test_stale_copy_loses_to_a_committed_change(engine: Engine, session: Session) -> None:
    reflection = reflection_at(session, "awaiting_acceptance", refs(session))
    assert reflection.id is not None
    with Session(engine) as first, Session(engine) as second:
        stale = first.get(Reflection, reflection.id)  # held: first keeps version 3
        assert stale is not None
        assert stale.version == 3
        apply_event(second, reflection.id, E.ACCEPT, handler_of(reflection))
        with pytest.raises(Conflict):
            apply_event(
                first,
                reflection.id,
                E.RETURN,
                handler_of(reflection),
                EventInput(reason="không đúng đơn vị"),
            )
    assert [row.event for row in timeline(session, reflection.id)][-1] is E.ACCEPT


def test_if_match_with_an_old_version_is_a_conflict(session: Session) -> None:
    reflection = reflection_at(session, "awaiting_acceptance", refs(session))
    assert reflection.id is not None
    with pytest.raises(Conflict, match="version 3, not 2"):
        apply_event(session, reflection.id, E.ACCEPT, handler_of(reflection), expected_version=2)
    assert len(timeline(session, reflection.id)) == 3


@pytest.mark.postgres
def test_parallel_sessions_on_postgresql(engine: Engine, session: Session) -> None:
    """Real parallel transactions: for each reflection, accept and return race."""
    r = refs(session)
    reflections = [reflection_at(session, "awaiting_acceptance", r) for _ in range(15)]

    def act(reflection: Reflection, event: E, barrier: threading.Barrier) -> str:
        assert reflection.id is not None
        with Session(engine) as own:
            held = own.get(Reflection, reflection.id)  # both read the same version
            assert held is not None
            barrier.wait()
            try:
                apply_event(
                    own,
                    reflection.id,
                    event,
                    handler_of(reflection),
                    EventInput(reason="không đúng đơn vị"),
                )
            except Conflict:
                return "conflict"
            return "won"

    with ThreadPoolExecutor(max_workers=2) as pool:
        for reflection in reflections:
            barrier = threading.Barrier(2)
            outcomes = list(pool.map(act, [reflection] * 2, [E.ACCEPT, E.RETURN], [barrier] * 2))
            assert sorted(outcomes) == ["conflict", "won"]
            assert reflection.id is not None
            rows = timeline(session, reflection.id)
            assert len(rows) == 4
            session.expire_all()
            stored = session.get(Reflection, reflection.id)
            assert stored is not None and stored.version == 4


def test_a_version_moved_by_another_writer_is_a_conflict_and_writes_nothing(
    engine: Engine, session: Session
) -> None:
    """The event's UPDATE carries the version it read: a row whose version moved meanwhile
    without a history row of the same number (another writer) is refused there, and the
    history row already inserted goes back with the rollback."""
    reflection = reflection_at(session, "awaiting_acceptance", refs(session))
    assert reflection.id is not None
    row = table_of(Reflection)
    try:
        with Session(engine) as first:
            stale = first.get(Reflection, reflection.id)
            assert stale is not None and stale.version == 3
            with engine.begin() as other:  # moves the version, writes no history
                other.execute(update(row).where(row.c.id == reflection.id).values(version=9))
            with pytest.raises(Conflict, match="changed by someone else"):
                apply_event(first, reflection.id, E.ACCEPT, handler_of(reflection))
        session.expire_all()
        assert [event.event for event in timeline(session, reflection.id)][-1] is E.ASSIGN
        stored = session.get(Reflection, reflection.id)
        assert stored is not None and (stored.version, stored.assignment_stage) == (
            9,
            "awaiting_acceptance",
        )
    finally:
        # The other writer's version undone: the audit of the whole history, later in the
        # session, would find a version its history does not reach.
        with engine.begin() as other:
            other.execute(update(row).where(row.c.id == reflection.id).values(version=3))
