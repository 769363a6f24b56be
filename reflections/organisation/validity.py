"""Which units exist on a given day (DESIGN.md §2: units valid from/to a date).

Hue's map changed on 1 July 2025: the district level was abolished and 134 communes became 40.
A reflection keeps the units of its own instant (when it was submitted): intake, routing and
escalation use only units valid on that local date. ``valid_from`` and ``valid_to`` are both
inclusive local dates (the three-tier units are valid to 30 June 2025); none means open.
"""

from datetime import date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, bindparam, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from reflections.errors import InvalidInput
from reflections.models import AdministrativeUnit, HandlingUnit, Reflection
from reflections.models.types import table_of
from reflections.platform.db import execute, held
from reflections.platform.settings import get_settings

Unit = AdministrativeUnit | HandlingUnit


def local_date(instant: datetime) -> date:
    """The day in Hue at ``instant``: validity dates are local calendar dates."""
    return instant.astimezone(ZoneInfo(get_settings().time_zone)).date()


def reflection_day(reflection: Reflection) -> date:
    """The day whose map a reflection uses: the day it was submitted."""
    return local_date(reflection.created_at)


class _Span(Protocol):
    valid_from: date | None
    valid_to: date | None


def valid_on(unit: _Span, day: date) -> bool:
    return (unit.valid_from is None or unit.valid_from <= day) and (
        unit.valid_to is None or day <= unit.valid_to
    )


def valid_clause(
    table: type[AdministrativeUnit] | type[HandlingUnit], day: date
) -> ColumnElement[bool]:
    """The same test as :func:`valid_on`, as SQL."""
    return and_(
        or_(col(table.valid_from).is_(None), col(table.valid_from) <= day),
        or_(col(table.valid_to).is_(None), col(table.valid_to) >= day),
    )


class UnitNotInForce(InvalidInput):
    """A unit named for a day it did not exist on; ``successor`` is the code of the unit that
    took its place, when the data knows it."""

    def __init__(
        self, field: str, reason: str, name: str, successor: AdministrativeUnit | None = None
    ) -> None:
        self.successor = successor.code if successor else None
        if successor is None:
            super().__init__(field, reason, "not_in_force", name=name)
        else:
            super().__init__(
                field, reason, "not_in_force_successor", name=name, successor=successor.name
            )


def _span(unit: Unit) -> str:
    start = f"{unit.valid_from:%d/%m/%Y}" if unit.valid_from else "…"
    end = f"{unit.valid_to:%d/%m/%Y}" if unit.valid_to else "…"
    return f"{start}–{end}"


# What a check needs of a unit, read as columns: an ORM load costs several times the query, and
# every event naming a unit runs one (issue 18).
_AREAS, _UNITS = table_of(AdministrativeUnit), table_of(HandlingUnit)
_AREA_SPAN = sa_select(_AREAS.c.valid_from, _AREAS.c.valid_to).where(
    _AREAS.c.id == bindparam("unit_id")
)
_UNIT_SPAN = sa_select(_UNITS.c.valid_from, _UNITS.c.valid_to).where(
    _UNITS.c.id == bindparam("unit_id"), _UNITS.c.active.is_(True)
)


def _in_force(session: Session, statement: Select[Any], unit_id: int, day: date) -> bool:
    span = execute(session.connection(), statement, {"unit_id": unit_id}).first()
    return span is not None and valid_on(span, day)


def _area_in_force(session: Session, area_id: int, day: date) -> bool:
    # The API has looked the area up by its code: the session still holds it.
    area = held(session, AdministrativeUnit, area_id)
    return valid_on(area, day) if area is not None else _in_force(session, _AREA_SPAN, area_id, day)


def require_area(session: Session, area_id: int, day: date, field: str) -> None:
    """Refuse an administrative unit that does not exist on ``day``: a 422 naming the field
    and, where the data knows it, the unit that took its place."""
    if _area_in_force(session, area_id, day):
        return
    unit = session.get(AdministrativeUnit, area_id)
    if unit is None:
        raise InvalidInput(field, f"no administrative unit {area_id}", "unknown_choice")
    successor = session.get(AdministrativeUnit, unit.successor_id) if unit.successor_id else None
    reason = f"{unit.name} ({unit.code}) is not in force on {day:%d/%m/%Y} (valid {_span(unit)})"
    if successor is not None:
        reason += f"; it is now part of {successor.name} ({successor.code})"
    raise UnitNotInForce(field, reason, unit.name, successor)


def require_handling_unit(session: Session, unit_id: int, day: date, field: str) -> None:
    """Refuse a handling unit that is inactive or does not exist on ``day``: a 422 naming the
    field."""
    if _in_force(session, _UNIT_SPAN, unit_id, day):
        return
    unit = session.get(HandlingUnit, unit_id)
    if unit is None or not unit.active:
        raise InvalidInput(field, f"no active handling unit {unit_id}", "unknown_choice")
    raise UnitNotInForce(
        field,
        f"{unit.name} ({unit.code}) is not in force on {day:%d/%m/%Y} (valid {_span(unit)})",
        unit.name,
    )
