"""Response and request bodies of the native API."""

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from reflections.models.enums import (
    AssignmentStage,
    Channel,
    Language,
    LifecycleEvent,
    LifecycleState,
    Priority,
    Role,
)

T = TypeVar("T")


class UnitRef(BaseModel):
    code: str
    name: str
    name_en: str


class CategoryRef(BaseModel):
    code: str
    name_vi: str
    name_en: str


class Deadlines(BaseModel):
    step: str | None = Field(description="The running step: classify, accept or process.")
    remaining_minutes: int | None = Field(
        description="Working minutes left in the running step (wall-clock for emergencies); "
        "negative when overdue."
    )
    around_the_clock: bool = Field(
        default=False, description="The running step counts wall-clock time (emergencies)."
    )
    classify_due_at: datetime | None
    accept_due_at: datetime | None
    process_due_at: datetime | None
    confirm_due_at: datetime | None


class ReporterView(BaseModel):
    """Present only for coordinators and admins; masked for auditors; absent for others."""

    name: str | None
    phone: str | None
    email: str | None
    language: Language
    masked: bool


class ReflectionView(BaseModel):
    tracking_code: str
    state: LifecycleState
    assignment_stage: AssignmentStage | None
    description: str
    latitude: float | None
    longitude: float | None
    address: str | None
    administrative_unit: UnitRef | None
    category: CategoryRef | None
    category_hint: str | None
    priority: Priority | None
    handling_unit: UnitRef | None
    escalation_level: int
    escalated_to: UnitRef | None = Field(description="The area the latest escalation went to.")
    deadlines: Deadlines
    extension_pending: bool
    extension_requested_due_at: datetime | None
    result: str | None
    rating: int | None
    rating_comment: str | None
    rejection_reason: str | None
    reopen_count: int
    photos: list[str] = Field(description="SHA-256 names of the photos; fetch under /photos/.")
    result_photos: list[str] = Field(
        default_factory=list, description="Those of ``photos`` the unit took of its result."
    )
    version: int = Field(description="Send it back in If-Match to act on this version.")
    created_at: datetime
    updated_at: datetime
    allowed_events: list[LifecycleEvent] = Field(description="What the caller may do now.")
    reporter: ReporterView | None = Field(
        default=None, description="Only in coordinators', admins' and auditors' views."
    )
    assignee: str | None = Field(
        default=None,
        description="Staff views only: the username of the unit's handler who took the task.",
    )
    published: bool | None = Field(
        default=None,
        description="Staff views only: whether a coordinator published what the citizen wrote.",
    )
    public_summary: str | None = Field(
        default=None,
        description="Staff views only: the edited text published instead of the description.",
    )


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class HistoryView(BaseModel):
    seq: int
    event: LifecycleEvent
    from_state: LifecycleState | None
    from_stage: AssignmentStage | None
    to_state: LifecycleState
    to_stage: AssignmentStage | None
    actor_role: Role
    actor: str | None = Field(
        description="Staff username, in staff views only; citizens see the unit and the role."
    )
    actor_unit: UnitRef | None = Field(
        default=None,
        description="The staff member's unit (handling unit or area); none for citizens and "
        "the system, nor for staff with no unit.",
    )
    payload: dict[str, Any]
    reason: str | None
    occurred_at: datetime
    hash: str


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=32, examples=["0905 123 456"])
    email: str | None = Field(default=None, max_length=254)
    language: Language = Language.VI
    channels: list[Channel] = Field(default_factory=list, max_length=2)


class SubmissionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=1, max_length=5000)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    address: str | None = Field(default=None, max_length=300)
    administrative_unit: str | None = Field(
        default=None, max_length=64, description="Code of the ward/commune."
    )
    category_hint: str | None = Field(default=None, max_length=64)
    urgent: bool = Field(
        default=False,
        description="Dangerous or urgent (people or property at risk now): an emergency from "
        "the start, classified within 60 minutes at any hour. A coordinator may lower it.",
    )
    contact: ContactIn | None = None


class SubmittedOut(BaseModel):
    tracking_code: str
    citizen_key: str = Field(
        description="Keep it: it opens this and your later reflections (send X-Citizen-Key)."
    )
    hotline_pin: str | None = Field(
        default=None,
        description="Six digits for an operator to read to the caller with the tracking code "
        "(opens this reflection on the tracking page; a few wrong tries and it stops working).",
    )
    reflection: ReflectionView


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class MeOut(BaseModel):
    username: str
    full_name: str
    role: Role
    handling_units: list[str]
    areas: list[str]
