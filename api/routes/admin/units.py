"""Handling units: departments, People's Committees, teams and companies that resolve cases."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from api.deps import SessionDep
from api.routes.admin.common import (
    Body,
    Code,
    IdCursor,
    Limit,
    Name,
    Patch,
    Text,
    by_code,
    check_validity,
    codes,
    commit,
    delete,
    id_of,
    id_page,
    matching,
    refuse_duplicate,
    refuse_if_used,
)
from api.schemas import Page
from reflections.models import (
    AdministrativeUnit,
    HandlingUnit,
    Membership,
    Reflection,
    RoutingRule,
)
from reflections.models.enums import HandlingUnitKind
from statemachines import FINAL_STATES

router = APIRouter(prefix="/handling-units", tags=["admin: handling units"])


class UnitOut(BaseModel):
    code: str
    name: str
    name_en: str
    kind: HandlingUnitKind
    administrative_unit: str = Field(description="Code of the area the unit belongs to.")
    valid_from: date | None
    valid_to: date | None
    active: bool


class UnitIn(Body):
    code: Code
    name: Name
    name_en: Name
    kind: HandlingUnitKind
    administrative_unit: Code
    valid_from: date | None = None
    valid_to: date | None = None
    active: bool = True


class UnitPatch(Patch):
    """Any subset; the code is the unit's identity and does not change."""

    clearable = frozenset({"valid_from", "valid_to"})

    name: Name | None = None
    name_en: Name | None = None
    kind: HandlingUnitKind | None = None
    administrative_unit: Code | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    active: bool | None = None


def _views(session: Session, rows: list[HandlingUnit]) -> list[UnitOut]:
    areas = codes(session, AdministrativeUnit, (row.administrative_unit_id for row in rows))
    return [
        UnitOut.model_validate(
            row.model_dump() | {"administrative_unit": areas[row.administrative_unit_id]}
        )
        for row in rows
    ]


def _refuse_deactivation(session: Session, row: HandlingUnit) -> None:
    """An inactive unit can take no work: nothing may still send it work or wait on it."""
    refuse_if_used(
        session,
        f"handling unit {row.code}",
        [
            ("routing rules", col(RoutingRule.handling_unit_id) == row.id),
            (
                "open reflections",
                (col(Reflection.handling_unit_id) == row.id)
                & col(Reflection.state).not_in(FINAL_STATES),
            ),
        ],
        "point the rules at another unit and reassign its open reflections first",
    )


@router.get("", response_model=Page[UnitOut])
def list_units(
    session: SessionDep,
    limit: Limit = 50,
    cursor: IdCursor = None,
    kind: HandlingUnitKind | None = None,
    administrative_unit: Annotated[str | None, Query(max_length=64)] = None,
    active: bool | None = None,
    q: Text = None,
) -> Page[UnitOut]:
    statement = select(HandlingUnit)
    if kind:
        statement = statement.where(HandlingUnit.kind == kind)
    if administrative_unit:
        area_id = id_of(session, AdministrativeUnit, administrative_unit, "administrative_unit")
        statement = statement.where(HandlingUnit.administrative_unit_id == area_id)
    if active is not None:
        statement = statement.where(HandlingUnit.active == active)
    statement = matching(statement, q, HandlingUnit.code, HandlingUnit.name, HandlingUnit.name_en)
    rows, next_cursor = id_page(session, statement, HandlingUnit.id, limit, cursor)
    return Page(items=_views(session, rows), next_cursor=next_cursor)


@router.post("", status_code=201, response_model=UnitOut)
def create_unit(session: SessionDep, body: UnitIn) -> UnitOut:
    check_validity(body.valid_from, body.valid_to)
    conflict = f"handling unit {body.code} exists already"
    refuse_duplicate(session, select(HandlingUnit).where(HandlingUnit.code == body.code), conflict)
    area_id = id_of(session, AdministrativeUnit, body.administrative_unit, "administrative_unit")
    row = HandlingUnit(
        **body.model_dump(exclude={"administrative_unit"}), administrative_unit_id=area_id
    )
    session.add(row)
    commit(session, conflict)
    return _views(session, [row])[0]


@router.get("/{code}", response_model=UnitOut)
def read_unit(session: SessionDep, code: str) -> UnitOut:
    return _views(session, [by_code(session, HandlingUnit, code)])[0]


@router.patch("/{code}", response_model=UnitOut)
def update_unit(session: SessionDep, code: str, body: UnitPatch) -> UnitOut:
    row = by_code(session, HandlingUnit, code)
    changes = body.model_dump(exclude_unset=True)
    if "administrative_unit" in changes:
        row.administrative_unit_id = id_of(
            session, AdministrativeUnit, changes.pop("administrative_unit"), "administrative_unit"
        )
    if changes.get("active") is False and row.active:
        _refuse_deactivation(session, row)
    row.sqlmodel_update(changes)
    check_validity(row.valid_from, row.valid_to)
    session.add(row)
    commit(session, f"handling unit {code} changed meanwhile")
    return _views(session, [row])[0]


@router.delete("/{code}", status_code=204, response_class=Response)
def delete_unit(session: SessionDep, code: str) -> None:
    """Only a unit nothing refers to goes; one with a past is deactivated instead."""
    row = by_code(session, HandlingUnit, code)
    what, remedy = f"handling unit {code}", "deactivate it instead"
    refuse_if_used(
        session,
        what,
        [
            ("reflections", col(Reflection.handling_unit_id) == row.id),
            ("routing rules", col(RoutingRule.handling_unit_id) == row.id),
            ("memberships", col(Membership.handling_unit_id) == row.id),
        ],
        remedy,
    )
    delete(session, row, what, remedy)
