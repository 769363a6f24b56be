"""Reflection's own __setattr__ (issue 18) sets a column as SQLModel's does: the ORM sees the
change (history, dirty), pydantic counts the field as set, and a flush writes it."""

import pytest
from sqlalchemy import inspect
from sqlmodel import Session

from reflections.models import Reflection
from reflections.models.enums import LifecycleState, SubmissionChannel
from reflections.platform import clock
from tests.lifecycle_helpers import new_reflection


def test_a_column_set_is_seen_by_the_orm_and_pydantic_and_written(session: Session) -> None:
    reflection = new_reflection(session)
    state = inspect(reflection)
    assert state is not None and not state.modified
    reflection.rating_comment = "đã xử lý"
    assert state.attrs.rating_comment.history.added == ["đã xử lý"]
    assert state.modified and reflection in session.dirty
    assert "rating_comment" in reflection.__pydantic_fields_set__
    session.commit()
    session.expire(reflection)
    assert reflection.rating_comment == "đã xử lý"  # read back from the row


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
