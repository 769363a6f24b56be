"""UTCDateTime (issue 18: on SQLite the instant is bound in UTC, zone and all, and SQLite's
DATETIME writes its fields): what is stored is the UTC wall time to the microsecond, and what
is read back the same instant, aware, on both databases. Written without a history row, so
each test rolls back (the audit of the whole test database must find every chain whole)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import StatementError
from sqlmodel import Session, col, select

from reflections.models import Reflection
from tests.lifecycle_helpers import new_reflection

_HUE = timezone(timedelta(hours=7))
_INSTANT = datetime(2026, 12, 7, 16, 30, 5, 123456, tzinfo=_HUE)  # 09:30:05.123456 UTC


def test_an_instant_in_another_zone_is_stored_and_read_as_utc(
    engine: Engine, session: Session
) -> None:
    reflection = new_reflection(session)
    reflection.escalated_at = _INSTANT
    session.flush()
    stored = (
        session.connection()
        .execute(text("SELECT escalated_at FROM reflections WHERE id = :id"), {"id": reflection.id})
        .scalar_one()
    )
    if engine.dialect.name == "sqlite":  # text: the UTC fields, microseconds always written
        assert stored == "2026-12-07 09:30:05.123456"
    else:
        assert stored == _INSTANT
    session.expire(reflection)
    assert reflection.escalated_at == _INSTANT
    assert reflection.escalated_at.tzinfo is UTC
    session.rollback()


def test_an_instant_compared_in_sql_matches_the_stored_one(session: Session) -> None:
    reflection = new_reflection(session)
    reflection.escalated_at = _INSTANT.astimezone(UTC)
    session.flush()
    same = session.exec(
        select(Reflection.id).where(
            Reflection.id == reflection.id, col(Reflection.escalated_at) == _INSTANT
        )
    ).all()
    assert same == [reflection.id]
    session.rollback()


def test_a_naive_datetime_is_refused(session: Session) -> None:
    reflection = new_reflection(session)
    reflection.escalated_at = datetime(2026, 12, 7, 9, 30)
    with pytest.raises(StatementError, match="naive datetimes are not stored"):
        session.flush()
    session.rollback()
