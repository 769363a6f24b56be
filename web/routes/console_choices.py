"""What the staff pages offer to choose: handling units (within a supervisor's scope), and
the classification the routing rules suggest.

No router here: the console's page modules share these.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from fastapi import Request
from sqlmodel import Session, col, select

from api.schemas import ReflectionView
from reflections.actors import Actor
from reflections.errors import InvalidInput
from reflections.models import Category, HandlingUnit, Reflection
from reflections.models.enums import LifecycleEvent, Priority, Role
from reflections.organisation.routing import route
from reflections.organisation.validity import local_date, reflection_day, valid_clause
from reflections.organisation.visibility import units_in_scope
from reflections.platform import clock
from reflections.platform.settings import get_settings
from web.forms import Choice
from web.i18n import Translator


def handling_units(
    session: Session, t: Translator, within: frozenset[int] | None = None, day: date | None = None
) -> list[Choice]:
    """Active units in force on ``day`` (today by default; a reflection's own day for its
    forms), grouped by kind; ``within`` narrows them to a scope."""
    day = day or local_date(clock.now())
    statement = select(HandlingUnit).where(
        col(HandlingUnit.active), valid_clause(HandlingUnit, day)
    )
    english = t.language.value == "en"
    choices = [
        Choice(
            unit.code,
            unit.name_en if english else unit.name,
            t(f"console.unit_kind.{unit.kind.value}"),
        )
        for unit in session.exec(statement)
        if within is None or unit.id in within
    ]
    return sorted(choices, key=lambda c: (c.group, c.label))


def reassign_units(
    session: Session, actor: Actor, t: Translator, day: date | None = None
) -> list[Choice]:
    """The units the actor may hand a reflection to: any for a coordinator, only those in
    the supervisor's scope for a supervisor (the service checks the same with
    ``handling_unit_within``)."""
    scope = units_in_scope(session, actor) if actor.role is Role.SUPERVISOR else None
    return handling_units(session, t, scope, day)


def without(choices: list[Choice], code: str | None) -> list[Choice]:
    return [c for c in choices if c.value != code]


@dataclass(frozen=True)
class Suggestion:
    """The classification and unit the form starts from (the coordinator may change them)."""

    category: str = ""
    priority: str = Priority.NORMAL.value
    ward: str = ""
    unit: str = ""


def suggestion(session: Session, reflection: Reflection, view: ReflectionView) -> Suggestion:
    """Category from the classification, else the citizen's hint when it names a category;
    priority from that category's default; ward from the reflection; unit from the routing
    rules once classified."""
    category: Category | None = None
    if reflection.category_id is not None:
        category = session.get(Category, reflection.category_id)
    elif reflection.category_hint:
        category = session.exec(
            select(Category).where(
                Category.code == reflection.category_hint.strip(), col(Category.active)
            )
        ).first()
    priority = reflection.priority or (category.default_priority if category else None)
    unit = None
    if reflection.category_id is not None and reflection.administrative_unit_id is not None:
        day = reflection_day(reflection)
        unit = route(session, reflection.category_id, reflection.administrative_unit_id, day)
    return Suggestion(
        category=category.code if category else "",
        priority=(priority or Priority.NORMAL).value,
        ward=view.administrative_unit.code if view.administrative_unit else "",
        unit=unit.code if unit else "",
    )


def local_instant(day: date, at: time | None, field: str) -> datetime:
    """A date and time as the city reads them (Asia/Ho_Chi_Minh) → an aware UTC instant.

    No time means the end of the working day."""
    zone = ZoneInfo(get_settings().time_zone)
    try:
        return datetime.combine(day, at or time(17, 0), tzinfo=zone).astimezone(UTC)
    except OverflowError:
        raise InvalidInput(field, "is out of range") from None


DONE = frozenset({*(event.value for event in LifecycleEvent), "merge"})


def done_of(request: Request) -> str | None:
    """The action just done (``?done=``), if it names one: the page says it succeeded."""
    done = request.query_params.get("done")
    return done if done in DONE else None
