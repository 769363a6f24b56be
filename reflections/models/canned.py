"""Canned texts: the results and reasons staff write again and again, kept by admins."""

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

import reflections.models.metadata  # noqa: F401  (naming convention first)
from reflections.models.enums import LifecycleEvent
from reflections.models.types import UTCDateTime, str_enum


class CannedText(SQLModel, table=True):
    """A text offered in the free-text field of an action (``event``: process, reject, ...),
    for one category or (no category) for all. Rows are never rewritten or deleted: an edit
    retires the row and adds its successor, so the table is also the audit trail of who wrote,
    changed or withdrew what, and when."""

    __tablename__ = "canned_texts"

    id: int | None = Field(default=None, primary_key=True)
    event: LifecycleEvent = Field(sa_type=str_enum(LifecycleEvent), index=True)
    category_id: int | None = Field(default=None, foreign_key="categories.id", index=True)
    title: str = Field(max_length=100)
    text: str = Field(sa_type=Text)
    replaces_id: int | None = Field(default=None, foreign_key="canned_texts.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by_id: int | None = Field(default=None, foreign_key="users.id")
    retired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    retired_by_id: int | None = Field(default=None, foreign_key="users.id")
