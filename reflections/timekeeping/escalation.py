"""The escalation ladder: the administrative levels above the unit that holds a reflection.

The hierarchy is data of any depth, so the ladder is too: commune → province today, commune →
district → province for the 2025 three-tier map. A unit at the top (a city department or
company) escalates to its own level's leadership. Only levels in force on the reflection's day
are on its ladder: a case reported after 1 July 2025 never escalates to an abolished district.
"""

from sqlmodel import Session, col, select

from reflections.models import AdministrativeUnit, HandlingUnit, Reflection
from reflections.organisation.hierarchy import lineage
from reflections.organisation.validity import reflection_day, valid_on


def ladder(session: Session, reflection: Reflection) -> list[int]:
    """Administrative unit ids to escalate to, lowest first."""
    base: int | None = None
    if reflection.handling_unit_id is not None:
        unit = session.get(HandlingUnit, reflection.handling_unit_id)
        base = unit.administrative_unit_id if unit else None
    if base is None:
        base = reflection.administrative_unit_id
    if base is None:  # nowhere yet: the IOC at the top of the map
        roots = session.exec(
            select(AdministrativeUnit.id)
            .where(col(AdministrativeUnit.parent_id).is_(None))
            .order_by(col(AdministrativeUnit.id))
        ).all()
        return [roots[0]] if roots and roots[0] is not None else []
    day = reflection_day(reflection)
    chain = lineage(session, base)
    above = [
        area_id
        for area_id in chain[1:]
        if (area := session.get(AdministrativeUnit, area_id)) is not None and valid_on(area, day)
    ]
    return above or chain[:1]


def next_area(session: Session, reflection: Reflection) -> int | None:
    """Where a supervisor's escalation goes: one level above the last one, or the first."""
    areas = ladder(session, reflection)
    if not areas:
        return None
    if reflection.escalated_to_id in areas:
        return areas[min(areas.index(reflection.escalated_to_id) + 1, len(areas) - 1)]
    return areas[0]
