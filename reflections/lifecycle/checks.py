"""What the lifecycle service checks in an event's data before anything is written: ids that
point somewhere, who may be given a task, and the reason a merged duplicate's citizen is told.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlmodel import Session, select

from reflections.actors import Actor
from reflections.errors import InvalidInput
from reflections.models import (
    Category,
    Membership,
    Reflection,
    User,
)
from reflections.models.enums import LifecycleEvent, LifecycleState, Role
from reflections.models.types import table_of
from reflections.organisation import validity

if TYPE_CHECKING:
    from reflections.lifecycle.service import EventInput

NOTIFY_COORDINATORS = "coordinators"
# What a merged citizen is told, in the service's language (their message names the original
# in their own language too).
DUPLICATE_REASON = "Trùng với phản ánh {code}"
DUPLICATE_NOTE = "trùng với phản ánh {code}"


_CATEGORIES = table_of(Category)
_CATEGORY_ACTIVE = sa_select(_CATEGORIES.c.active).where(_CATEGORIES.c.id == bindparam("id"))

# The API's names for what the service checks, so a refusal names the field the caller sent.
_UNIT_FIELDS = {"handling_unit_id": "handling_unit", "suggested_unit_id": "suggested_unit"}


def check_references(
    session: Session, event: LifecycleEvent, reflection: Reflection, data: EventInput, actor: Actor
) -> None:
    """Refuse ids that point nowhere, or to units not in force on the reflection's day (the
    map it was reported on), before anything is written."""
    if data.category_id is not None:
        active = session.connection().execute(_CATEGORY_ACTIVE, {"id": data.category_id}).first()
        if active is None or not active[0]:
            raise InvalidInput(
                "category_id", f"no active category {data.category_id}", "unknown_choice"
            )
    day = validity.reflection_day(reflection)
    if data.administrative_unit_id is not None:
        validity.require_area(session, data.administrative_unit_id, day, "administrative_unit")
    for name, field in _UNIT_FIELDS.items():
        unit_id = getattr(data, name)
        if unit_id is not None:
            validity.require_handling_unit(session, unit_id, day, field)
    if event is LifecycleEvent.TAKE:
        check_assignee(session, reflection, data.assignee_user_id)
    if data.notify not in (None, NOTIFY_COORDINATORS):
        raise InvalidInput("notify", f"is {NOTIFY_COORDINATORS!r} or nothing")
    if event is LifecycleEvent.REASSIGN and data.handling_unit_id == reflection.handling_unit_id:
        raise InvalidInput("handling_unit", "is already the handling unit", "same_unit")
    if event is LifecycleEvent.CONFIRM and actor.role is Role.CITIZEN and data.rating is None:
        raise InvalidInput("rating", "is required when a citizen confirms")


def check_assignee(session: Session, reflection: Reflection, user_id: int | None) -> None:
    """Who takes a task must be an active handler of the unit holding it."""
    if user_id is None:
        return  # the machine's guard names the missing field
    user = session.get(User, user_id)
    member = session.exec(
        select(Membership.id).where(
            Membership.user_id == user_id,
            Membership.handling_unit_id == reflection.handling_unit_id,
        )
    ).first()
    if user is None or user.disabled or user.role is not Role.HANDLER or member is None:
        raise InvalidInput("assignee_user_id", "is not a handler of the unit holding the task")


def with_duplicate_reason(
    session: Session, event: LifecycleEvent, reflection: Reflection, data: EventInput
) -> EventInput:
    """A merge is a reject naming the original (DESIGN.md §4, "duplicate of X"): check the
    original, and make sure the reason the citizen is told names its tracking code."""
    if data.duplicate_of_id is None:
        return data
    if event is not LifecycleEvent.REJECT:
        raise InvalidInput("duplicate_of_id", f"comes only with {LifecycleEvent.REJECT}")
    original = session.get(Reflection, data.duplicate_of_id)
    if original is None:
        raise InvalidInput("duplicate_of_id", f"no reflection {data.duplicate_of_id}")
    if original.id == reflection.id:
        raise InvalidInput("duplicate_of_id", "a reflection cannot duplicate itself")
    if original.state is LifecycleState.REJECTED:
        raise InvalidInput(
            "duplicate_of_id",
            f"{original.tracking_code} is rejected; merge into the reflection it stands for",
        )
    code = original.tracking_code
    reason = (data.reason or "").strip()
    if not reason:
        reason = DUPLICATE_REASON.format(code=code)
    elif code not in reason:  # the citizen must learn where to follow their report
        reason = f"{reason} ({DUPLICATE_NOTE.format(code=code)})"
    return replace(data, reason=reason)
