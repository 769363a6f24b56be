"""The administrators' working calendar (DESIGN.md §2, §10): days off and working days that
the government announces each year and the ``holidays`` package does not know."""

from datetime import date, datetime

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel

import reflections.models.metadata  # noqa: F401  (naming convention first)
from reflections.models.enums import CalendarDayKind
from reflections.models.types import UTCDateTime, str_enum


class CalendarDay(SQLModel, table=True):
    """One decision about one date. Rows are never deleted or rewritten: a change retires the
    current row and adds a new one, so the table is also the audit trail (who set what, when,
    who removed it). A row counts for the steps that start within
    [``effective_from``, ``effective_to``): a running step keeps the calendar it started with."""

    __tablename__ = "calendar_days"
    __table_args__ = (
        # One current decision per date; retired rows stay beside it.
        Index(
            "uq_calendar_days_current_day",
            "day",
            unique=True,
            sqlite_where=text("retired_at IS NULL"),
            postgresql_where=text("retired_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    day: date = Field(index=True)
    kind: CalendarDayKind = Field(sa_type=str_enum(CalendarDayKind))
    note: str | None = Field(default=None, max_length=300)
    effective_from: datetime = Field(sa_type=UTCDateTime)
    effective_to: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by_id: int | None = Field(default=None, foreign_key="users.id")
    retired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    retired_by_id: int | None = Field(default=None, foreign_key="users.id")
