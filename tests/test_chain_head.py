"""The history chain's head kept on the reflection row (issue 18): every event leaves it equal
to the newest history row's hash, and a row written before the column existed (NULL) reads the
head from the history once, so the chain still links."""

from sqlalchemy import update
from sqlmodel import Session, col, select

from reflections.lifecycle import history
from reflections.models import HistoryEvent, Reflection
from reflections.oversight.audit import verify_reflection
from tests.lifecycle_helpers import E, fire, new_reflection, refs


def _newest_hash(session: Session, reflection_id: int) -> str:
    row = session.exec(
        select(HistoryEvent)
        .where(HistoryEvent.reflection_id == reflection_id)
        .order_by(col(HistoryEvent.seq).desc())
    ).first()
    assert row is not None
    return row.hash


def test_the_head_follows_every_event_and_survives_a_missing_one(session: Session) -> None:
    r = refs(session)
    reflection = new_reflection(session)
    reflection_id = reflection.id
    assert reflection_id is not None
    for event in (E.CLASSIFY, E.ASSIGN):
        reflection = fire(session, reflection, event, r)
        session.refresh(reflection)
        assert reflection.chain_hash == _newest_hash(session, reflection_id)
    # As a row migrated from before the column: no head on it.
    session.execute(
        update(Reflection).where(col(Reflection.id) == reflection_id).values(chain_hash=None)
    )
    session.commit()
    session.refresh(reflection)
    for event in (E.ACCEPT, E.PROCESS):
        reflection = fire(session, reflection, event, r)
        session.refresh(reflection)
        assert reflection.chain_hash == _newest_hash(session, reflection_id)
    rows = history.timeline(session, reflection_id)
    assert [row.prev_hash for row in rows[1:]] == [row.hash for row in rows[:-1]]
    assert verify_reflection(session, reflection_id).intact
