"""Shared pieces of the pages' forms: the choices they offer and the action they perform."""

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from api.deps import Caller
from api.lookup import open_reflection
from reflections.lifecycle.service import EventInput, apply_event
from reflections.models import AdministrativeUnit, Category, Reflection
from reflections.models.enums import LifecycleEvent
from reflections.organisation.names import collation_key, proper_name
from reflections.organisation.validity import local_date, valid_clause
from reflections.platform import clock


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    group: str = ""


# Communes and wards grouped by kind, in this order; English names the groups itself.
_WARD_KINDS = {"phường": (0, "Wards"), "xã": (1, "Communes"), "thị trấn": (2, "Townships")}


def wards(session: Session, english: bool, day: date | None = None) -> list[Choice]:
    """The communes and wards in force on ``day`` (today by default; the lowest level: the
    place a citizen knows), grouped by kind and sorted by their proper names in Vietnamese
    order ("Đan Điền" after "Dương Nỗ")."""
    day = day or local_date(clock.now())
    units = session.exec(
        select(AdministrativeUnit).where(valid_clause(AdministrativeUnit, day))
    ).all()
    parents = {unit.parent_id for unit in units}
    found = []
    for unit in units:
        if unit.id in parents:
            continue
        rank, group_en = _WARD_KINDS.get(unit.kind.lower(), (9, unit.kind))
        group = group_en if english else unit.kind.capitalize()
        label = unit.name_en if english else unit.name
        found.append((rank, collation_key(proper_name(label)), Choice(unit.code, label, group)))
    return [choice for *_, choice in sorted(found, key=lambda item: item[:2])]


def categories(session: Session, english: bool) -> list[Choice]:
    rows = session.exec(select(Category).where(col(Category.active)))
    choices = [Choice(c.code, c.name_en if english else c.name_vi, c.group) for c in rows]
    return sorted(choices, key=lambda choice: collation_key(choice.label))


MAX_VERSION_DIGITS = 9  # a reflection has far fewer history events than 10**9


def version(value: str | None) -> int | None:
    """The version the page showed, so a change made meanwhile by someone else is a conflict."""
    if value and value.isascii() and value.isdigit() and len(value) <= MAX_VERSION_DIGITS:
        return int(value)
    return None


def act(
    session: Session,
    caller: Caller,
    tracking_code: str,
    event: LifecycleEvent,
    data: EventInput,
    shown_version: str | None,
) -> Reflection:
    """Apply a lifecycle event from a page, exactly as the API does."""
    reflection, actor = open_reflection(session, caller, tracking_code)
    assert reflection.id is not None
    return apply_event(session, reflection.id, event, actor, data, version(shown_version))
