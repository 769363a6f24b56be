"""A coordinator's decisions to publish what a citizen wrote (DESIGN.md §10), append-only.

Publication is not a lifecycle state: it changes what the public sees, not who works on the
reflection. It lives in its own table so that the reflection's version keeps counting its
history events (the optimistic lock and the hash chain rely on it). The latest decision of a
reflection is its publication state; the earlier ones are the audit trail.
"""

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

import reflections.models.metadata  # noqa: F401  (naming convention first)
from reflections.models.enums import Role
from reflections.models.types import UTCDateTime, str_enum


class PublicationDecision(SQLModel, table=True):
    """One publish or unpublish: who, when, and the public summary it published."""

    __tablename__ = "publication_decisions"

    id: int | None = Field(default=None, primary_key=True)
    reflection_id: int = Field(foreign_key="reflections.id", index=True)
    published: bool = Field(description="True: published; False: taken off public view.")
    public_summary: str | None = Field(
        default=None, sa_type=Text, description="Edited text to publish instead of the description."
    )
    actor_user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    actor_role: Role = Field(sa_type=str_enum(Role))
    occurred_at: datetime = Field(sa_type=UTCDateTime)
