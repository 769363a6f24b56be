"""What should have reached a person and did not: kept for the administrators' digest."""

from datetime import datetime
from typing import Any

from sqlmodel import JSON, Field, SQLModel

import reflections.models.metadata  # noqa: F401  (naming convention first)
from reflections.models.types import UTCDateTime


class AdminWarning(SQLModel, table=True):
    """An escalation (or an emergency) with nobody to notify: instead of vanishing it waits
    here for the next admin digest, which marks it ``digested_at``."""

    __tablename__ = "admin_warnings"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32, description="escalation_unheard or emergency_unheard.")
    reflection_id: int | None = Field(default=None, foreign_key="reflections.id", index=True)
    administrative_unit_id: int | None = Field(
        default=None, foreign_key="administrative_units.id", description="Where nobody heard."
    )
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = Field(sa_type=UTCDateTime)
    digested_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
