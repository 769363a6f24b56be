"""What auditors rely on beyond the per-reflection hash chain (DESIGN.md §7): periodic anchors
over the whole history table, and the log of who looked at a reporter's personal data."""

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

import reflections.models.metadata  # noqa: F401  (naming convention first)
from reflections.models.enums import Role
from reflections.models.types import UTCDateTime, str_enum


class AuditAnchor(SQLModel, table=True):
    """A digest of every history row with an id in [first_history_id, last_history_id], in id
    order, chained to the previous anchor: deleting or changing any covered row, even a whole
    reflection's history, no longer matches."""

    __tablename__ = "audit_anchors"

    id: int | None = Field(default=None, primary_key=True)
    first_history_id: int
    last_history_id: int = Field(index=True)
    row_count: int
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)


class PersonalDataAccess(SQLModel, table=True):
    """One look at a reporter's identity or contact: who, when, how, and why."""

    __tablename__ = "personal_data_access"

    id: int | None = Field(default=None, primary_key=True)
    reflection_id: int = Field(foreign_key="reflections.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    actor_role: Role = Field(sa_type=str_enum(Role))
    action: str = Field(max_length=16, description="reveal, read or export")
    reason: str | None = Field(default=None, sa_type=Text)
    occurred_at: datetime = Field(sa_type=UTCDateTime, index=True)
