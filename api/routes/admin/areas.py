"""Administrative units: the hierarchy is data (DESIGN.md §2), so admins edit it here."""

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
from reflections.errors import InvalidInput
from reflections.models import (
    AdministrativeUnit,
    HandlingUnit,
    Membership,
    Reflection,
    RoutingRule,
)
from reflections.organisation.hierarchy import lineage

router = APIRouter(prefix="/administrative-units", tags=["admin: administrative units"])
Level = Annotated[str, Field(min_length=1, max_length=32, examples=["commune"])]
Kind = Annotated[str, Field(min_length=1, max_length=64, examples=["phường"])]


class AreaOut(BaseModel):
    code: str
    name: str
    name_en: str
    level: str
    kind: str
    parent: str | None = Field(description="Code of the unit above; none for the root.")
    valid_from: date | None = Field(description="First day in force (local), inclusive.")
    valid_to: date | None = Field(description="Last day in force (local), inclusive.")
    successor: str | None = Field(
        description="Code of the unit that took its place; named in the 422 of a reflection "
        "that gives this unit after its valid_to."
    )


class AreaIn(Body):
    code: Code
    name: Name
    name_en: Name
    level: Level
    kind: Kind
    parent: Code | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    successor: Code | None = None


class AreaPatch(Patch):
    """Any subset; the code is the unit's identity and does not change."""

    clearable = frozenset({"parent", "valid_from", "valid_to", "successor"})

    name: Name | None = None
    name_en: Name | None = None
    level: Level | None = None
    kind: Kind | None = None
    parent: Code | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    successor: Code | None = None


def _views(session: Session, rows: list[AdministrativeUnit]) -> list[AreaOut]:
    ids = [row.parent_id for row in rows] + [row.successor_id for row in rows]
    named = codes(session, AdministrativeUnit, ids)
    return [
        AreaOut.model_validate(
            row.model_dump()
            | {
                "parent": named.get(row.parent_id or 0),
                "successor": named.get(row.successor_id or 0),
            }
        )
        for row in rows
    ]


def _set_successor(session: Session, row: AdministrativeUnit, successor: str | None) -> None:
    successor_id = id_of(session, AdministrativeUnit, successor, "successor") if successor else None
    if successor_id is not None and successor_id == row.id:
        raise InvalidInput("successor", "a unit cannot succeed itself")
    row.successor_id = successor_id


def _set_parent(session: Session, row: AdministrativeUnit, parent: str | None) -> None:
    """Refuse a parent under the unit itself: the ladder must end at a root."""
    parent_id = id_of(session, AdministrativeUnit, parent, "parent") if parent else None
    if parent_id is not None and row.id is not None and row.id in lineage(session, parent_id):
        raise InvalidInput("parent", f"{parent} lies under {row.code}: that would be a cycle")
    row.parent_id = parent_id


@router.get("", response_model=Page[AreaOut])
def list_areas(
    session: SessionDep,
    limit: Limit = 50,
    cursor: IdCursor = None,
    level: Annotated[str | None, Query(max_length=32)] = None,
    parent: Annotated[str | None, Query(max_length=64, description="Code of the parent.")] = None,
    q: Text = None,
) -> Page[AreaOut]:
    statement = select(AdministrativeUnit)
    if level:
        statement = statement.where(AdministrativeUnit.level == level)
    if parent:
        parent_id = id_of(session, AdministrativeUnit, parent, "parent")
        statement = statement.where(AdministrativeUnit.parent_id == parent_id)
    statement = matching(
        statement, q, AdministrativeUnit.code, AdministrativeUnit.name, AdministrativeUnit.name_en
    )
    rows, next_cursor = id_page(session, statement, AdministrativeUnit.id, limit, cursor)
    return Page(items=_views(session, rows), next_cursor=next_cursor)


@router.post("", status_code=201, response_model=AreaOut)
def create_area(session: SessionDep, body: AreaIn) -> AreaOut:
    check_validity(body.valid_from, body.valid_to)
    conflict = f"administrative unit {body.code} exists already"
    refuse_duplicate(
        session, select(AdministrativeUnit).where(AdministrativeUnit.code == body.code), conflict
    )
    row = AdministrativeUnit(**body.model_dump(exclude={"parent", "successor"}))
    _set_parent(session, row, body.parent)
    _set_successor(session, row, body.successor)
    session.add(row)
    commit(session, conflict)
    return _views(session, [row])[0]


@router.get("/{code}", response_model=AreaOut)
def read_area(session: SessionDep, code: str) -> AreaOut:
    return _views(session, [by_code(session, AdministrativeUnit, code)])[0]


@router.patch("/{code}", response_model=AreaOut)
def update_area(session: SessionDep, code: str, body: AreaPatch) -> AreaOut:
    row = by_code(session, AdministrativeUnit, code)
    changes = body.model_dump(exclude_unset=True)
    if "parent" in changes:
        _set_parent(session, row, changes.pop("parent"))
    if "successor" in changes:
        _set_successor(session, row, changes.pop("successor"))
    row.sqlmodel_update(changes)
    check_validity(row.valid_from, row.valid_to)
    session.add(row)
    commit(session, f"administrative unit {code} changed meanwhile")
    return _views(session, [row])[0]


@router.delete("/{code}", status_code=204, response_class=Response)
def delete_area(session: SessionDep, code: str) -> None:
    """Only an unused unit goes; a unit the map no longer has gets a ``valid_to`` instead."""
    row = by_code(session, AdministrativeUnit, code)
    what, remedy = f"administrative unit {code}", "set its valid_to instead"
    refuse_if_used(
        session,
        what,
        [
            ("child units", col(AdministrativeUnit.parent_id) == row.id),
            ("units it succeeds", col(AdministrativeUnit.successor_id) == row.id),
            ("handling units", col(HandlingUnit.administrative_unit_id) == row.id),
            ("routing rules", col(RoutingRule.administrative_unit_id) == row.id),
            ("memberships", col(Membership.administrative_unit_id) == row.id),
            ("reflections", col(Reflection.administrative_unit_id) == row.id),
            ("escalations", col(Reflection.escalated_to_id) == row.id),
        ],
        remedy,
    )
    delete(session, row, what, remedy)
