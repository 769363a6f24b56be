"""Walking the administrative hierarchy, whatever its depth."""

from sqlmodel import Session

from reflections.models import AdministrativeUnit, HandlingUnit


def lineage(session: Session, administrative_unit_id: int) -> list[int]:
    """The unit itself, then its parent, up to the root."""
    chain: list[int] = []
    current: int | None = administrative_unit_id
    while current is not None and current not in chain:
        chain.append(current)
        unit = session.get(AdministrativeUnit, current)
        current = unit.parent_id if unit else None
    return chain


def handling_unit_within(
    session: Session,
    handling_unit_id: int,
    handling_unit_ids: frozenset[int],
    administrative_unit_ids: frozenset[int],
) -> bool:
    """Whether a handling unit is one of the given units or lies under one of the areas."""
    if handling_unit_id in handling_unit_ids:
        return True
    unit = session.get(HandlingUnit, handling_unit_id)
    if unit is None:
        return False
    return not administrative_unit_ids.isdisjoint(lineage(session, unit.administrative_unit_id))
