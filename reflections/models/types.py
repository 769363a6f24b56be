"""Column types shared by the tables."""

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import DateTime, Table
from sqlalchemy import Enum as SAEnum
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

# The text SQLite's DATETIME writes by default (sqlalchemy.dialects.sqlite.DATETIME).
_SQLITE_FORMAT = (
    "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
)


def utc_text(at: datetime, separator: str) -> str:
    """``at``'s wall time as ``YYYY-MM-DD<separator>HH:MM:SS.ffffff``, field by field: the text
    ``isoformat`` writes (without the zone) at a fraction of its cost, some 12,000 instructions
    a call on Python 3.11 for its argument parsing and general formatting (issue 18)."""
    return "%04d-%02d-%02d%s%02d:%02d:%02d.%06d" % (  # noqa: UP031 (cheaper here)
        at.year,
        at.month,
        at.day,
        separator,
        at.hour,
        at.minute,
        at.second,
        at.microsecond,
    )


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """The instant in UTC. SQLite's DATETIME then writes its fields as text, without the
        zone: the UTC wall time (the zone is not dropped here first: on Python 3.11 that
        ``replace`` cost 2% of a lifecycle's instructions, issue 18)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use reflections.platform.clock")
        return value.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """:meth:`process_bind_param` and the dialect's own processor as one call: on SQLite
        the text its DATETIME writes (``YYYY-MM-DD HH:MM:SS.ffffff``, the UTC wall time), and
        the instant bound last remembered with its text (an event binds its ``now`` several
        times; the one held is kept alive, so no other object can have its identity). The
        composed form SQLAlchemy builds made three Python calls and a dict per instant
        bound, some 40 a lifecycle (issue 18). Anything other than an aware ``datetime``,
        and other dialects' processors, go the composed way."""
        composed = super().bind_processor(dialect)
        assert composed is not None
        impl = self.impl_instance
        if dialect.name != "sqlite" or getattr(impl, "_storage_format", None) != _SQLITE_FORMAT:
            return composed

        last: list[tuple[object, str]] = [(object(), "")]  # the instant written last

        def process(value: Any) -> Any:
            held = last[0]
            if value is held[0]:  # an event binds its ``now`` several times
                return held[1]
            if type(value) is not datetime or value.tzinfo is None:
                return composed(value)  # None, a date, or refused as naive
            at = value if value.tzinfo is UTC else value.astimezone(UTC)
            written = utc_text(at, " ")
            last[0] = (value, written)  # replaced whole: a thread reads one pair or the other
            return written

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def str_enum(enum_class: type[StrEnum]) -> SAEnum:
    """Store an enum by its value as a plain VARCHAR, the same on SQLite and PostgreSQL."""
    return SAEnum(
        enum_class,
        native_enum=False,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


def table_of(model: type[SQLModel]) -> Table:
    """A model's table, for Core statements on hot paths (SQLModel does not type it)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]
