"""Facts recorded for reports (DESIGN.md §7), so reports are SQL aggregates, not replays."""

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

import reflections.models.metadata  # noqa: F401  (naming convention first)
from reflections.models.types import UTCDateTime


class StepRecord(SQLModel, table=True):
    """A finished step (classify, accept, process) of one reflection: written by the lifecycle
    service in the transaction of the event that ended it, with its working time measured on
    the calendar that set its deadline."""

    __tablename__ = "step_records"
    __table_args__ = (Index("ix_step_records_ended_at", "ended_at"),)

    id: int | None = Field(default=None, primary_key=True)
    reflection_id: int = Field(foreign_key="reflections.id", index=True)
    step: str = Field(max_length=16)
    started_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime = Field(sa_type=UTCDateTime)
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    working_seconds: int = Field(description="Working time spent (wall time if around the clock).")
    on_time: bool
    handling_unit_id: int | None = Field(default=None, foreign_key="handling_units.id", index=True)
    ended_by: str = Field(max_length=32, description="The lifecycle event that ended the step.")
