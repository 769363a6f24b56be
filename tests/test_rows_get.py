"""rows.get (issue 18): answers as Session.get does, from the identity map when the session
holds the object and it is not expired, through Session.get otherwise."""

from sqlalchemy import Engine, text
from sqlmodel import Session

from reflections.lifecycle import rows
from reflections.models import Reflection
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
