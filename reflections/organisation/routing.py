"""Which handling unit a category of reflection goes to, for a place.

Rules are data: a rule on a commune overrides one on its district, which overrides one on the
province, so a city-wide default needs one row and a local exception one more. Only rules
naming a unit in force on the reflection's day count (a district's committee no longer
handles a case reported after 1 July 2025).
"""

from datetime import date

from sqlmodel import Session, col, select

from reflections.models import HandlingUnit, RoutingRule
from reflections.organisation.hierarchy import lineage
from reflections.organisation.validity import valid_clause


def route(
    session: Session, category_id: int, administrative_unit_id: int, day: date
) -> HandlingUnit | None:
    """The unit named by the rule of the nearest administrative unit at or above the given one,
    among units active and in force on ``day``."""
    chain = lineage(session, administrative_unit_id)
    rules = session.exec(
        select(RoutingRule.administrative_unit_id, RoutingRule.handling_unit_id)
        .join(HandlingUnit, col(HandlingUnit.id) == RoutingRule.handling_unit_id)
        .where(RoutingRule.category_id == category_id)
        .where(col(RoutingRule.administrative_unit_id).in_(chain))
        .where(col(HandlingUnit.active), valid_clause(HandlingUnit, day))
    ).all()
    by_area = dict(rules)
    for area in chain:
        if area in by_area:
            return session.get(HandlingUnit, by_area[area])
    return None
