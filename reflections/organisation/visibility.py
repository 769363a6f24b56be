"""What each role may see (DESIGN.md §3): which reflections, and how much of the reporter."""

from enum import StrEnum

from sqlalchemy import ColumnElement, false, or_, true
from sqlmodel import Session, col, select

from reflections.actors import Actor
from reflections.models import HandlingUnit, Reflection
from reflections.models.enums import Role
from reflections.organisation.hierarchy import handling_unit_within

SEES_EVERYTHING = frozenset(
    {Role.COORDINATOR, Role.ADMIN, Role.AUDITOR, Role.OPERATOR, Role.SYSTEM}
)


class IdentityView(StrEnum):
    FULL = "full"  # coordinators and admins
    MASKED = "masked"  # auditors, unless they explicitly unmask (itself audited)
    NONE = "none"  # everyone else: the fields are not in the response at all


def identity_view(actor: Actor) -> IdentityView:
    if actor.role in (Role.COORDINATOR, Role.ADMIN):
        return IdentityView.FULL
    if actor.role is Role.AUDITOR:
        return IdentityView.MASKED
    return IdentityView.NONE


def units_in_scope(session: Session, actor: Actor) -> frozenset[int] | None:
    """Handling units whose reflections the actor sees; None means all of them."""
    if actor.role in SEES_EVERYTHING:
        return None
    if actor.role is Role.HANDLER:
        return actor.handling_unit_ids
    if actor.role is Role.SUPERVISOR:
        unit_ids = session.exec(select(HandlingUnit.id)).all()
        return frozenset(
            unit_id
            for unit_id in unit_ids
            if unit_id is not None
            and handling_unit_within(
                session, unit_id, actor.handling_unit_ids, actor.administrative_unit_ids
            )
        )
    return frozenset()


def visible_clause(session: Session, actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause keeping only the reflections the actor may list."""
    if actor.role is Role.CITIZEN:
        return col(Reflection.id) == actor.reflection_id if actor.reflection_id else false()
    units = units_in_scope(session, actor)
    if units is None:
        return true()
    in_units = col(Reflection.handling_unit_id).in_(units) if units else false()
    if actor.role is Role.SUPERVISOR:  # and whatever was escalated to them
        return or_(in_units, col(Reflection.escalated_to_id).in_(actor.administrative_unit_ids))
    return in_units


def can_see(session: Session, actor: Actor, reflection: Reflection) -> bool:
    if actor.role is Role.CITIZEN:
        return actor.reflection_id == reflection.id
    units = units_in_scope(session, actor)
    escalated_to_me = (
        actor.role is Role.SUPERVISOR
        and reflection.escalated_to_id in actor.administrative_unit_ids
    )
    return units is None or reflection.handling_unit_id in units or escalated_to_me


def mask_name(name: str | None) -> str | None:
    """Initials only: "Nguyễn Văn An" -> "N. V. A."."""
    return " ".join(f"{part[0]}." for part in name.split()) if name else name


def mask_contact(value: str | None) -> str | None:
    """Enough to tell two contacts apart: "+84905123456" -> "+84*******56"."""
    if not value:
        return value
    if "@" in value:
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    keep = 3 if value.startswith("+") else 1
    return value[:keep] + "*" * max(len(value) - keep - 2, 1) + value[-2:]
