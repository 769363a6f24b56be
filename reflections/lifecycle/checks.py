"""What the lifecycle service checks in an event's data before anything is written: ids that
point somewhere, who may be given a task, and the reason a merged duplicate's citizen is told.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Connection, Label, Row, Select, Table, bindparam
from sqlalchemy import select as sa_select
from sqlmodel import Session, select

from reflections.actors import Actor
from reflections.errors import InvalidInput
from reflections.lifecycle import history
from reflections.models import (
    AdministrativeUnit,
    Category,
    HandlingUnit,
    Membership,
    Reflection,
    User,
)
from reflections.models.enums import LifecycleEvent, LifecycleState, Role
from reflections.models.types import table_of
from reflections.organisation import validity
from reflections.platform.db import execute

if TYPE_CHECKING:
    from reflections.lifecycle.service import EventInput

NOTIFY_COORDINATORS = "coordinators"
# What a merged citizen is told, in the service's language (their message names the original
# in their own language too).
DUPLICATE_REASON = "Trùng với phản ánh {code}"
DUPLICATE_NOTE = "trùng với phản ánh {code}"


_CATEGORIES, _AREAS = table_of(Category), table_of(AdministrativeUnit)
_UNITS = table_of(HandlingUnit)

# The API's names for what the service checks, so a refusal names the field the caller sent.
_UNIT_FIELDS = {"handling_unit_id": "handling_unit", "suggested_unit_id": "suggested_unit"}


def _span_of(table: Table, name: str, *where: ColumnElement[bool]) -> list[Label[Any]]:
    """A unit's id and validity span as columns of the one read (NULL when none matches)."""
    match = (table.c.id == bindparam(name), *where)
    return [
        sa_select(table.c[column]).where(*match).scalar_subquery().label(f"{name}_{column}")
        for column in ("id", "valid_from", "valid_to")
    ]


# What an event's data names, each as columns of one SELECT (issue 18: a round trip each cost
# more than the check): whether the category is active, the spans of the units (valid_on
# decides, as validity's own checks do), and the chain head when the row has none yet.
_PARTS: dict[str, list[Label[Any]]] = {
    "category_id": [
        sa_select(_CATEGORIES.c.active)
        .where(_CATEGORIES.c.id == bindparam("category_id"))
        .scalar_subquery()
        .label("category_id_active")
    ],
    "administrative_unit_id": _span_of(_AREAS, "administrative_unit_id"),
    "handling_unit_id": _span_of(_UNITS, "handling_unit_id", _UNITS.c.active.is_(True)),
    "suggested_unit_id": _span_of(_UNITS, "suggested_unit_id", _UNITS.c.active.is_(True)),
    "chain_head": [history.LAST_HASH.scalar_subquery().label("chain_head")],
}
_READS: dict[tuple[str, ...], Select[Any]] = {}


@dataclass(slots=True)
class _Span:
    valid_from: date | None
    valid_to: date | None


def _read(
    connection: Connection, parts: tuple[str, ...], parameters: dict[str, Any]
) -> Row[Any] | None:
    """The one SELECT of these parts (none when there is nothing to read)."""
    if not parts:
        return None
    statement = _READS.get(parts)
    if statement is None:
        statement = _READS[parts] = sa_select(
            *[column for part in parts for column in _PARTS[part]]
        )
    return execute(connection, statement, parameters).one()


def _in_force(read: Row[Any], name: str, day: date) -> bool:
    values = read._mapping
    span = _Span(values[f"{name}_valid_from"], values[f"{name}_valid_to"])
    return values[f"{name}_id"] is not None and validity.valid_on(span, day)


def check_references(
    session: Session,
    connection: Connection,
    event: LifecycleEvent,
    reflection: Reflection,
    data: EventInput,
    actor: Actor,
    *,
    chain_head: bool = False,
) -> str | None:
    """Refuse ids that point nowhere, or to units not in force on the reflection's day (the
    map it was reported on), before anything is written. With ``chain_head``, the same read
    returns the newest history row's hash (a row whose head is not kept yet: the first event
    after its submission)."""
    named = {
        name: value
        for name in ("category_id", "administrative_unit_id", *_UNIT_FIELDS)
        if (value := getattr(data, name)) is not None
    }
    parts = (*named, "chain_head") if chain_head else tuple(named)
    read = _read(connection, parts, named | {"reflection_id": reflection.id})
    if data.category_id is not None:
        assert read is not None
        if not read.category_id_active:
            raise InvalidInput(
                "category_id", f"no active category {data.category_id}", "unknown_choice"
            )
    if named.keys() - {"category_id"}:  # units, checked on the reflection's day
        assert read is not None
        _check_units_in_force(session, read, data, validity.reflection_day(reflection))
    if event is LifecycleEvent.TAKE:
        check_assignee(session, reflection, data.assignee_user_id)
    if data.notify not in (None, NOTIFY_COORDINATORS):
        raise InvalidInput("notify", f"is {NOTIFY_COORDINATORS!r} or nothing")
    if event is LifecycleEvent.REASSIGN and data.handling_unit_id == reflection.handling_unit_id:
        raise InvalidInput("handling_unit", "is already the handling unit", "same_unit")
    if event is LifecycleEvent.CONFIRM and actor.role is Role.CITIZEN and data.rating is None:
        raise InvalidInput("rating", "is required when a citizen confirms")
    return read.chain_head if chain_head and read is not None else None


def _check_units_in_force(session: Session, read: Row[Any], data: EventInput, day: date) -> None:
    """Refuse a named unit not in force on ``day``; validity words the refusal."""
    if data.administrative_unit_id is not None and not _in_force(
        read, "administrative_unit_id", day
    ):
        validity.require_area(session, data.administrative_unit_id, day, "administrative_unit")
    for name, field in _UNIT_FIELDS.items():
        unit_id = getattr(data, name)
        if unit_id is not None and not _in_force(read, name, day):
            validity.require_handling_unit(session, unit_id, day, field)


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
