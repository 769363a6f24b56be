"""A citizen's reflection, its attachments and its append-only history."""

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, Integer, Text, UniqueConstraint
from sqlalchemy.orm.attributes import set_attribute
from sqlmodel import JSON, Field, SQLModel

import reflections.models.metadata  # noqa: F401  (naming convention first)
from reflections.models.enums import (
    AssignmentStage,
    LifecycleEvent,
    LifecycleState,
    Priority,
    Role,
    SubmissionChannel,
)
from reflections.models.types import UTCDateTime, str_enum

# Number of history events of the reflection (1 after submit).
_version_column = Column("version", Integer, nullable=False)


class Reflection(SQLModel, table=True):
    __tablename__ = "reflections"
    __table_args__ = (
        # The sweeps of DESIGN.md §5 find due work by these, without scanning open cases.
        Index("ix_reflections_state_classify_due", "state", "classify_due_at"),
        Index("ix_reflections_state_accept_due", "state", "accept_due_at"),
        Index("ix_reflections_state_process_due", "state", "process_due_at"),
        Index("ix_reflections_state_confirm_due", "state", "confirm_due_at"),
        # A unit's inbox, soonest deadline first.
        Index("ix_reflections_unit_inbox", "handling_unit_id", "state", "process_due_at"),
        Index("ix_reflections_created_at", "created_at"),
        # Duplicate suggestions look for reports nearby in a latitude/longitude box.
        Index("ix_reflections_lat_long", "latitude", "longitude"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tracking_code: str = Field(max_length=16, unique=True)
    secret_hash: str = Field(
        max_length=128, index=True, description="Hash of the citizen's key (one per citizen)."
    )
    description: str = Field(sa_type=Text)
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = Field(default=None, max_length=300)
    submitted_via: SubmissionChannel = Field(sa_type=str_enum(SubmissionChannel))
    category_hint: str | None = Field(default=None, max_length=64)
    reporter_id: int | None = Field(default=None, foreign_key="reporters.id", index=True)

    administrative_unit_id: int | None = Field(
        default=None, foreign_key="administrative_units.id", index=True
    )
    category_id: int | None = Field(default=None, foreign_key="categories.id", index=True)
    priority: Priority | None = Field(default=None, sa_type=str_enum(Priority))
    handling_unit_id: int | None = Field(default=None, foreign_key="handling_units.id")

    state: LifecycleState = Field(sa_type=str_enum(LifecycleState))
    assignment_stage: AssignmentStage | None = Field(
        default=None, sa_type=str_enum(AssignmentStage)
    )
    escalation_level: int = 0
    escalated_to_id: int | None = Field(
        default=None,
        foreign_key="administrative_units.id",
        index=True,
        description="The area whose supervisors the latest escalation went to.",
    )
    escalated_at: datetime | None = Field(
        default=None,
        sa_type=UTCDateTime,
        description="When the latest escalation happened: it concerns the running step if it "
        "came after the step started.",
    )
    assignee_id: int | None = Field(
        default=None,
        foreign_key="users.id",
        index=True,
        description="The handler of the unit who took the task (personal assignment).",
    )
    extension_pending: bool = False
    extension_requested_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reopen_count: int = 0

    # The running step (classify, accept or process): when it started, its allowance, and how
    # far the sweep has acted on it. next_sla_at is when the sweep must look again.
    step_started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    step_allowance_minutes: int | None = None
    step_around_the_clock: bool = False
    step_reminded: bool = False
    step_escalations: int = 0
    next_sla_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)

    classify_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    accept_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    process_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    confirm_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    result_text: str | None = Field(default=None, sa_type=Text)
    rating: int | None = None
    rating_comment: str | None = Field(default=None, sa_type=Text)
    rejection_reason: str | None = Field(default=None, sa_type=Text)

    version: int = Field(default=1, sa_column=_version_column)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    chain_hash: str | None = Field(
        default=None,
        max_length=64,
        description="Hash of the history row numbered `version`, written with it by the "
        "lifecycle service, so an event needs no query for it; NULL: read it from the history.",
    )

    # SQLAlchemy adds "AND version = <loaded>" to every UPDATE and bumps it: the optimistic
    # lock of DESIGN.md §4. The loser of a race gets StaleDataError.
    __mapper_args__ = {"version_id_col": _version_column}

    def __setattr__(self, name: str, value: Any) -> None:
        """A column's value set as SQLModel sets it (SQLAlchemy's instrumented set, then the
        name marked as set for pydantic), without its per-call lookups: an event sets some
        seventy of them, which cost a tenth of its CPU (issue 18). A column set to the very
        object it holds is left as it is (an event sets the whole position and the step's
        marks, most of them unchanged: a quarter of the sets; the flush and the service's
        UPDATE write only changed values either way). Anything else: SQLModel."""
        if name in _COLUMNS:
            if self.__dict__.get(name, _UNSET) is value:
                return
            set_attribute(self, name, value)
            self.__pydantic_fields_set__.add(name)
        else:
            super().__setattr__(name, value)


# The instrumented column attributes (each field's name is its column's).
_COLUMNS = frozenset(Reflection.__table__.columns.keys())  # type: ignore[attr-defined]
_UNSET = object()  # a column not loaded or never set: holds nothing yet


class Attachment(SQLModel, table=True):
    """A photo stored content-addressed: the file's name is its SHA-256."""

    __tablename__ = "attachments"
    __table_args__ = (
        UniqueConstraint("reflection_id", "sha256", "purpose", name="uq_attachments_file"),
    )

    id: int | None = Field(default=None, primary_key=True)
    reflection_id: int = Field(foreign_key="reflections.id", index=True)
    purpose: str = Field(max_length=16, description="report (citizen) or result (unit)")
    sha256: str = Field(max_length=64, index=True)
    content_type: str = Field(max_length=64)
    size_bytes: int
    original_name: str | None = Field(default=None, max_length=255)
    thumbnail_sha256: str | None = Field(
        default=None, max_length=64, description="the small JPEG for lists, stored by its hash"
    )
    created_at: datetime = Field(sa_type=UTCDateTime)


class HistoryEvent(SQLModel, table=True):
    """One row per change, written in the same transaction as the change. Never updated."""

    __tablename__ = "history_events"
    __table_args__ = (UniqueConstraint("reflection_id", "seq", name="uq_history_events_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    reflection_id: int = Field(foreign_key="reflections.id")
    seq: int = Field(description="1 for submit; equals the reflection's version after it.")
    event: LifecycleEvent = Field(sa_type=str_enum(LifecycleEvent))
    from_state: LifecycleState | None = Field(default=None, sa_type=str_enum(LifecycleState))
    from_stage: AssignmentStage | None = Field(default=None, sa_type=str_enum(AssignmentStage))
    to_state: LifecycleState = Field(sa_type=str_enum(LifecycleState))
    to_stage: AssignmentStage | None = Field(default=None, sa_type=str_enum(AssignmentStage))
    actor_user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    actor_role: Role = Field(sa_type=str_enum(Role))
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    reason: str | None = Field(default=None, sa_type=Text)
    occurred_at: datetime = Field(sa_type=UTCDateTime, index=True)
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str = Field(default="", max_length=64, description="Set by lifecycle.history.append.")


def short_title(description: str, length: int = 80) -> str:
    """A reflection's description on one line, cut to ``length`` characters for lists."""
    title = " ".join(description.split())
    return title if len(title) <= length else title[: length - 1] + "…"
