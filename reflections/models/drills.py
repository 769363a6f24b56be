"""The mark a drill leaves in its copy of the database (DESIGN.md §10: drills run on a copy)."""

from datetime import datetime

from sqlmodel import Field, SQLModel

import reflections.models.metadata  # noqa: F401  (naming convention first)
from reflections.models.types import UTCDateTime


class DrillCopy(SQLModel, table=True):
    """Present only in a copy made for a drill or training: a sweep as of a future instant
    runs only where this table has a row. Empty in the live database."""

    __tablename__ = "drill_copies"

    id: int | None = Field(default=None, primary_key=True)
    made_at: datetime = Field(sa_type=UTCDateTime)
    source: str = Field(max_length=500, description="The database copied (no password).")
    purpose: str = Field(max_length=200)
