"""UTCDateTime (issue 18: on SQLite the instant is bound in UTC, zone and all, and SQLite's
DATETIME writes its fields): what is stored is the UTC wall time to the microsecond, and what
is read back the same instant, aware, on both databases. Written without a history row, so
each test rolls back (the audit of the whole test database must find every chain whole)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import StatementError
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, col, select

from reflections.models import Reflection
from reflections.models.types import UTCDateTime
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


@pytest.mark.parametrize(
    "instant",
    [
        _INSTANT,
        datetime(2026, 1, 1, tzinfo=UTC),  # no microseconds: still written, as zeros
        datetime(5, 3, 4, 5, 6, 7, 8, tzinfo=UTC),  # a year of one digit: four written
        datetime(2026, 6, 30, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_the_one_call_bind_on_sqlite_writes_what_the_composed_one_did(instant: datetime) -> None:
    """UTCDateTime's own bind processor (one call, issue 18) against SQLAlchemy's composed
    one (process_bind_param, then SQLite's DATETIME): the same text for every instant."""
    dialect = sqlite.dialect()
    kind = UTCDateTime().dialect_impl(dialect)
    assert isinstance(kind, UTCDateTime)
    fused = kind.bind_processor(dialect)
    composed = TypeDecorator[datetime].bind_processor(kind, dialect)
    assert fused is not None and composed is not None
    assert fused(instant) == composed(instant)
    assert fused(None) is None
    with pytest.raises(ValueError, match="naive datetimes are not stored"):
        fused(instant.replace(tzinfo=None))
