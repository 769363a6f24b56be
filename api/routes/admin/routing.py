"""Routing rules: category × administrative unit → handling unit; the nearest area wins.

A rule is named by its category code and administrative unit code.
"""

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel
from sqlmodel import Session, select

from api.deps import SessionDep
from api.routes.admin.common import (
    Body,
    Code,
    IdCursor,
    Limit,
    by_code,
    codes,
    commit,
    id_of,
    id_page,
    one,
    refuse_duplicate,
)
from api.schemas import Page
from reflections.errors import InvalidInput
from reflections.models import AdministrativeUnit, Category, HandlingUnit, RoutingRule

router = APIRouter(prefix="/routing-rules", tags=["admin: routing rules"])
CodeFilter = Annotated[str | None, Query(max_length=64)]


class RuleOut(BaseModel):
    category: str
    administrative_unit: str
    handling_unit: str


class RuleIn(Body):
    category: Code
    administrative_unit: Code
    handling_unit: Code


class RulePatch(Body):
    """Only the target changes; category and area are the rule's identity."""

    handling_unit: Code


def _views(session: Session, rows: list[RoutingRule]) -> list[RuleOut]:
    categories = codes(session, Category, (row.category_id for row in rows))
    areas = codes(session, AdministrativeUnit, (row.administrative_unit_id for row in rows))
    units = codes(session, HandlingUnit, (row.handling_unit_id for row in rows))
    return [
        RuleOut(
            category=categories[row.category_id],
            administrative_unit=areas[row.administrative_unit_id],
            handling_unit=units[row.handling_unit_id],
        )
        for row in rows
    ]


def _active_unit(session: Session, code: str) -> int:
    """Routing to an inactive unit would strand every case the rule sends."""
    unit_id = id_of(session, HandlingUnit, code, "handling_unit")
    unit = session.get(HandlingUnit, unit_id)
    if unit is None or not unit.active:
        raise InvalidInput("handling_unit", f"handling unit {code} is inactive")
    return unit_id


def _one(session: Session, category: str, administrative_unit: str) -> RoutingRule:
    statement = (
        select(RoutingRule)
        .where(RoutingRule.category_id == by_code(session, Category, category).id)
        .where(
            RoutingRule.administrative_unit_id
            == by_code(session, AdministrativeUnit, administrative_unit).id
        )
    )
    return one(session, statement, f"no rule for {category} in {administrative_unit}")


@router.get("", response_model=Page[RuleOut])
def list_rules(
    session: SessionDep,
    limit: Limit = 50,
    cursor: IdCursor = None,
    category: CodeFilter = None,
    administrative_unit: CodeFilter = None,
    handling_unit: CodeFilter = None,
) -> Page[RuleOut]:
    statement = select(RoutingRule)
    if category:
        statement = statement.where(
            RoutingRule.category_id == id_of(session, Category, category, "category")
        )
    if administrative_unit:
        area_id = id_of(session, AdministrativeUnit, administrative_unit, "administrative_unit")
        statement = statement.where(RoutingRule.administrative_unit_id == area_id)
    if handling_unit:
        unit_id = id_of(session, HandlingUnit, handling_unit, "handling_unit")
        statement = statement.where(RoutingRule.handling_unit_id == unit_id)
    rows, next_cursor = id_page(session, statement, RoutingRule.id, limit, cursor)
    return Page(items=_views(session, rows), next_cursor=next_cursor)


@router.post("", status_code=201, response_model=RuleOut)
def create_rule(session: SessionDep, body: RuleIn) -> RuleOut:
    row = RoutingRule(
        category_id=id_of(session, Category, body.category, "category"),
        administrative_unit_id=id_of(
            session, AdministrativeUnit, body.administrative_unit, "administrative_unit"
        ),
        handling_unit_id=_active_unit(session, body.handling_unit),
    )
    conflict = f"a rule for {body.category} in {body.administrative_unit} exists already"
    refuse_duplicate(
        session,
        select(RoutingRule)
        .where(RoutingRule.category_id == row.category_id)
        .where(RoutingRule.administrative_unit_id == row.administrative_unit_id),
        conflict,
    )
    session.add(row)
    commit(session, conflict)
    return _views(session, [row])[0]


@router.get("/{category}/{administrative_unit}", response_model=RuleOut)
def read_rule(session: SessionDep, category: str, administrative_unit: str) -> RuleOut:
    return _views(session, [_one(session, category, administrative_unit)])[0]


@router.patch("/{category}/{administrative_unit}", response_model=RuleOut)
def update_rule(
    session: SessionDep, category: str, administrative_unit: str, body: RulePatch
) -> RuleOut:
    row = _one(session, category, administrative_unit)
    row.handling_unit_id = _active_unit(session, body.handling_unit)
    session.add(row)
    commit(session, f"the rule for {category} in {administrative_unit} changed meanwhile")
    return _views(session, [row])[0]


@router.delete("/{category}/{administrative_unit}", status_code=204, response_class=Response)
def delete_rule(session: SessionDep, category: str, administrative_unit: str) -> None:
    """Nothing refers to a rule; cases it routed keep their unit."""
    session.delete(_one(session, category, administrative_unit))
    commit(session, f"the rule for {category} in {administrative_unit} changed meanwhile")
