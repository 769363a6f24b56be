"""What the staff pages offer to choose: handling units (within a supervisor's scope), and
the classification the routing rules suggest.

No router here: the console's page modules share these.
"""

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from api.schemas import ReflectionView
from reflections.actors import Actor
from reflections.lifecycle.service import EventInput
from reflections.models import AdministrativeUnit, Category, HandlingUnit, Reflection
from reflections.models.enums import HandlingUnitKind, Priority, Role
from reflections.organisation.names import collation_key, proper_name, short_name
from reflections.organisation.routing import route
from reflections.organisation.validity import local_date, reflection_day, valid_clause
from reflections.organisation.visibility import units_in_scope
from reflections.platform import clock
from web.forms import Choice
from web.i18n import Translator

# The order of the groups of units in a list, and how each is named (by kind and level).
_UNIT_GROUPS = (
    (HandlingUnitKind.DEPARTMENT, "province"),
    (HandlingUnitKind.PEOPLES_COMMITTEE, "commune"),
    (HandlingUnitKind.PEOPLES_COMMITTEE, "district"),
    (HandlingUnitKind.TEAM, "district"),
    (HandlingUnitKind.COMPANY, "province"),
)


def handling_units(
    session: Session, t: Translator, within: frozenset[int] | None = None, day: date | None = None
) -> list[Choice]:
    """Active units in force on ``day`` (today by default; a reflection's own day for its
    forms), "UBND phường Phú Xuân", grouped by kind and level and sorted by their proper names
    in Vietnamese order; ``within`` narrows them to a scope."""
    day = day or local_date(clock.now())
    statement = (
        select(HandlingUnit, AdministrativeUnit.level)
        .join(AdministrativeUnit, col(AdministrativeUnit.id) == HandlingUnit.administrative_unit_id)
        .where(col(HandlingUnit.active), valid_clause(HandlingUnit, day))
    )
    english = t.language.value == "en"
    found = []
    for unit, level in session.exec(statement):
        if within is not None and unit.id not in within:
            continue
        key = (unit.kind, level)
        rank = _UNIT_GROUPS.index(key) if key in _UNIT_GROUPS else len(_UNIT_GROUPS)
        group = t(f"console.unit_group.{unit.kind.value}.{level}")
        if group.startswith("console.unit_group."):
            group = t(f"console.unit_kind.{unit.kind.value}")
        label = unit.name_en if english else short_name(unit.name)
        found.append((rank, group, label, Choice(unit.code, label, group)))
    found.sort(key=lambda item: (item[0], item[1], collation_key(proper_name(item[2]))))
    return [choice for *_, choice in found]


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
    rules for that category and ward (so classify and assign can be one form)."""
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
    if category is not None and category.id and reflection.administrative_unit_id is not None:
        day = reflection_day(reflection)
        unit = route(session, category.id, reflection.administrative_unit_id, day)
    return Suggestion(
        category=category.code if category else "",
        priority=(priority or Priority.NORMAL).value,
        ward=view.administrative_unit.code if view.administrative_unit else "",
        unit=unit.code if unit else "",
    )


def classification_of(
    session: Session, reflection: Reflection, category_code: str = ""
) -> EventInput | None:
    """What "assign to this unit" classifies a reflection still received with: the category
    given, else its suggestion; the priority it carries or the category's default; its ward.
    None when a category or the ward is not known."""
    category: Category | None = None
    if category_code:
        category = session.exec(select(Category).where(Category.code == category_code)).first()
    elif reflection.category_id is not None:
        category = session.get(Category, reflection.category_id)
    elif reflection.category_hint:
        category = session.exec(
            select(Category).where(Category.code == reflection.category_hint, col(Category.active))
        ).first()
    if category is None or category.id is None or reflection.administrative_unit_id is None:
        return None
    return EventInput(
        category_id=category.id,
        priority=reflection.priority or category.default_priority,
        administrative_unit_id=reflection.administrative_unit_id,
    )
