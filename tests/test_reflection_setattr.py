"""Reflection's own __setattr__ (issue 18) sets a column as SQLModel's does: the ORM sees the
change (history, dirty), pydantic counts the field as set, and a flush writes it. A column set
to the very object it holds is left alone: the object stays clean and nothing is written."""

from datetime import timedelta

import pytest
from sqlalchemy import Engine, inspect
from sqlmodel import Session

from reflections.models import Reflection
from reflections.models.enums import LifecycleState, SubmissionChannel
from reflections.platform import clock
from tests.lifecycle_helpers import new_reflection
from tests.test_lifecycle_statements import statements


def test_a_column_set_is_seen_by_the_orm_and_pydantic_and_written(session: Session) -> None:
    reflection = new_reflection(session)
    state = inspect(reflection)
    assert state is not None and not state.modified
    reflection.rating_comment = "đã xử lý"
    assert state.attrs.rating_comment.history.added == ["đã xử lý"]
    assert state.modified and reflection in session.dirty
    assert "rating_comment" in reflection.__pydantic_fields_set__
    session.flush()
    session.expire(reflection)
    assert reflection.rating_comment == "đã xử lý"  # read back from the row
    session.rollback()  # written without a history row: not left for the audit of them all


def test_other_names_still_go_through_sqlmodel() -> None:
    now = clock.now()
    reflection = Reflection(
        tracking_code="T",
        secret_hash="h",
        description="d",
        submitted_via=SubmissionChannel.APP,
        state=LifecycleState.RECEIVED,
        created_at=now,
        updated_at=now,
    )
    reflection.rating = 4  # a column, on an object of no session
    state = inspect(reflection)
    assert state is not None and state.attrs.rating.history.added == [4]
    with pytest.raises(ValueError, match="no_such_field"):  # pydantic refuses, as before
        reflection.no_such_field = 1


def test_a_column_set_to_the_object_it_holds_leaves_the_object_clean(
    engine: Engine, session: Session
) -> None:
    reflection = new_reflection(session)
    state = inspect(reflection)
    assert state is not None and not state.modified
    reflection.state = reflection.state  # the service sets the whole position every event
    reflection.extension_pending = reflection.extension_pending
    reflection.escalated_at = None  # not set since it was loaded: holds None already
    assert not state.modified and reflection not in session.dirty
    assert "state" not in state.committed_state and not state.attrs.state.history.has_changes()
    with statements(engine) as sent:
        session.flush()
    assert sent == []  # nothing to write, as the flush decided before


def test_an_equal_value_that_is_another_object_is_set_as_before(session: Session) -> None:
    reflection = new_reflection(session)
    state = inspect(reflection)
    assert state is not None
    now = reflection.updated_at
    again = now + timedelta(0)  # equal, not the same object
    assert again == now and again is not now
    reflection.updated_at = again
    assert state.modified and state.attrs.updated_at.history.unchanged == [again]
    reflection.rating_comment = "khác"  # and a change is a change
    assert state.attrs.rating_comment.history.added == ["khác"]
    session.flush()
    session.expire(reflection)
    assert reflection.rating_comment == "khác"
    session.rollback()  # written without a history row: not left for the audit of them all
