"""Report summary tables (issue 18): each local month's figures per handling unit and category,
so a report over years reads thousands of rows instead of millions. Rebuilt a month at a time by
:mod:`reflections.oversight.report_summary`; a month is used only while its fingerprint still
matches the reflections (see :class:`ReportMonth`)."""

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, String
from sqlmodel import Field, SQLModel, col

import reflections.models.metadata  # noqa: F401  (naming convention first)
from reflections.models.reflection import Reflection
from reflections.models.types import UTCDateTime

# The months' fingerprints (count and sum of versions by ``created_at`` range) read this index
# alone on PostgreSQL (an index-only scan), not the reflections: a report checks its months
# before every use of the summaries.
Index("ix_reflections_created_at_version", col(Reflection.created_at), col(Reflection.version))


def _bytewise(length: int) -> String:
    """Text compared byte by byte on PostgreSQL (collation "C"): the percentiles sort a
    period's step counts by month and step, and a locale's collation made that sort the
    report's main cost. SQLite compares bytes anyway."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


class ReportMonth(SQLModel, table=True):
    """A summarised month and the fingerprint of the reflections it was built from: how many
    were received in it and the sum of their versions. Every event moves a version, every
    submission the count, so a month whose fingerprint differs has changed since."""

    __tablename__ = "report_months"

    month: str = Field(primary_key=True, max_length=7, description="Local month, YYYY-MM.")
    reflections: int
    versions: int = Field(sa_column=Column(BigInteger, nullable=False))
    refreshed_at: datetime = Field(sa_type=UTCDateTime)


class ReportCell(SQLModel, table=True):
    """The reflection figures of one month, handling unit (now) and category."""

    __tablename__ = "report_cells"
    __table_args__ = (Index("ix_report_cells_month", "month"),)

    id: int | None = Field(default=None, primary_key=True)
    month: str = Field(sa_column=Column(_bytewise(7), nullable=False))
    unit_id: int | None = None
    category_id: int | None = None
    received: int
    rejected: int
    processed: int
    escalations: int
    extensions_requested: int
    extensions_granted: int
    reopened: int
    rated: int
    satisfied: int
    rating_sum: int


class ReportStepCell(SQLModel, table=True):
    """How many finished steps of one month, unit (of the step) and category took
    ``working_seconds`` (to the tenth of an hour a report shows, in seconds), and how many of
    them on time: enough for the percentiles as shown (rounding keeps the order of values)."""

    __tablename__ = "report_step_cells"
    __table_args__ = (Index("ix_report_step_cells_month", "month"),)

    id: int | None = Field(default=None, primary_key=True)
    month: str = Field(sa_column=Column(_bytewise(7), nullable=False))
    unit_id: int | None = None
    category_id: int | None = None
    step: str = Field(sa_column=Column(_bytewise(16), nullable=False))
    working_seconds: int
    finished: int
    on_time: int


class ReportStepMonth(SQLModel, table=True):
    """The step cells of a month summed over units and categories: the histogram the total and
    the months of an unfiltered report rank (a few thousand rows a month, not one per step)."""

    __tablename__ = "report_step_months"
    __table_args__ = (Index("ix_report_step_months_month", "month"),)

    id: int | None = Field(default=None, primary_key=True)
    month: str = Field(sa_column=Column(_bytewise(7), nullable=False))
    step: str = Field(sa_column=Column(_bytewise(16), nullable=False))
    working_seconds: int
    finished: int
    on_time: int


class ReportStepFigure(SQLModel, table=True):
    """The step figures of one month, unit and category, percentiles included: a report grouped
    by unit, category and month (the finest grouping) reads them as they are."""

    __tablename__ = "report_step_figures"
    __table_args__ = (Index("ix_report_step_figures_month", "month"),)

    id: int | None = Field(default=None, primary_key=True)
    month: str = Field(sa_column=Column(_bytewise(7), nullable=False))
    unit_id: int | None = None
    category_id: int | None = None
    step: str = Field(sa_column=Column(_bytewise(16), nullable=False))
    finished: int
    on_time: int
    median_seconds: int
    p90_seconds: int
