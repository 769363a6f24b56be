"""Shared pieces of the pages' forms: the choices they offer and the action they perform."""

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from api.deps import Caller
from api.lookup import open_reflection
from reflections.lifecycle.service import EventInput, apply_event
from reflections.models import AdministrativeUnit, Category, Reflection
from reflections.models.enums import LifecycleEvent
from reflections.organisation.validity import local_date, valid_clause
from reflections.platform import clock


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    group: str = ""


def wards(session: Session, english: bool, day: date | None = None) -> list[Choice]:
    """The communes and wards in force on ``day`` (today by default), grouped by the unit
    above them, for the ward picker."""
    day = day or local_date(clock.now())
    units = session.exec(
        select(AdministrativeUnit).where(valid_clause(AdministrativeUnit, day))
    ).all()
    by_id = {unit.id: unit for unit in units}
    parents = {unit.parent_id for unit in units}
    choices = []
    for unit in units:
        if unit.id in parents:
            continue  # only the lowest level: the place a citizen knows
        parent = by_id.get(unit.parent_id)
        group = (parent.name_en if english else parent.name) if parent else ""
        choices.append(Choice(unit.code, unit.name_en if english else unit.name, group))
    return sorted(choices, key=lambda c: (c.group, c.label))


def categories(session: Session, english: bool) -> list[Choice]:
    rows = session.exec(select(Category).where(col(Category.active)).order_by(col(Category.code)))
    return [Choice(c.code, c.name_en if english else c.name_vi, c.group) for c in rows]


def version(value: str | None) -> int | None:
    """The version the page showed, so a change made meanwhile by someone else is a conflict."""
    return int(value) if value and value.isdigit() else None


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
