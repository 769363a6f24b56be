"""The hot paths' shortcuts (issue 18). ``rows.get`` answers as Session.get does, from the
identity map when the session holds the object and it is not expired, through Session.get
otherwise; ``platform.db.execute`` sends the statement connection.execute would send, with
the same parameters, seen by the engine's events, and answers the same."""

from typing import Any

from sqlalchemy import Engine, event, text
from sqlmodel import Session

from reflections.lifecycle import checks, reflection_row, rows
from reflections.models import Reflection
from reflections.platform.db import execute
from tests.lifecycle_helpers import new_reflection


def test_a_held_object_is_the_one_session_get_returns(session: Session) -> None:
    reflection = new_reflection(session)
    assert reflection.id is not None
    assert rows.get(session, Reflection, reflection.id) is session.get(Reflection, reflection.id)
    assert rows.get(session, Reflection, reflection.id) is reflection


def test_an_expired_object_is_loaded_again(engine: Engine, session: Session) -> None:
    reflection = new_reflection(session)
    assert reflection.id is not None
    with engine.begin() as elsewhere:  # another writer changes a column (not the version)
        elsewhere.execute(
            text("UPDATE reflections SET description = :text WHERE id = :id"),
            {"text": "Đã sửa ở nơi khác", "id": reflection.id},
        )
    session.expire(reflection)
    got = rows.get(session, Reflection, reflection.id)
    assert got is reflection
    assert got.description == "Đã sửa ở nơi khác"
    session.rollback()


def test_a_row_the_session_does_not_hold_is_read_and_none_is_none(
    engine: Engine, session: Session
) -> None:
    reflection = new_reflection(session)
    assert reflection.id is not None
    with Session(engine) as fresh:
        got = rows.get(fresh, Reflection, reflection.id)
        assert got is not None and got.tracking_code == reflection.tracking_code
        assert rows.get(fresh, Reflection, 10**9) is None


def _sent(engine: Engine, run: Any) -> tuple[list[tuple[str, Any]], Any]:
    seen: list[tuple[str, Any]] = []

    def note(_conn: object, _cursor: object, statement: str, parameters: Any, *_: object) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", note)
    try:
        answer = run()
    finally:
        event.remove(engine, "before_cursor_execute", note)
    return seen, answer


def test_execute_sends_what_connection_execute_sends(engine: Engine, session: Session) -> None:
    reflection = new_reflection(session)
    assert reflection.id is not None
    connection = session.connection()
    read = checks._read(connection, ("chain_head",), {"reflection_id": reflection.id})
    statement = checks._READS[("chain_head",)]
    parameters = {"reflection_id": reflection.id}
    ours = _sent(engine, lambda: execute(connection, statement, parameters).all())
    theirs = _sent(engine, lambda: connection.execute(statement, parameters).all())
    assert ours == theirs and len(ours[0]) == 1
    assert read is not None and ours[1] == [tuple(read)]
    # An UPDATE naming some columns: the same words and values, one row changed either way.
    update = reflection_row._UPDATE
    for changed in ({"description": "Một"}, {"address": "Hai", "description": "Ba"}):
        values = changed | {
            "version": reflection.version,
            "where_id": reflection.id,
            "where_version": reflection.version,
        }
        ours_sent, _ = _sent(engine, lambda: execute(connection, update, values))  # noqa: B023
        theirs_sent, _ = _sent(engine, lambda: connection.execute(update, values))  # noqa: B023
        assert ours_sent == theirs_sent
    session.rollback()
