"""Categories of reflections, with the keywords auto-classification matches on."""

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from sqlmodel import col, select

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
    commit,
    delete,
    id_page,
    matching,
    refuse_duplicate,
    refuse_if_used,
)
from api.schemas import Page
from reflections.models import Category, Reflection, RoutingRule, StepPolicy
from reflections.models.enums import Priority

router = APIRouter(prefix="/categories", tags=["admin: categories"])
Group = Annotated[str, Field(min_length=1, max_length=64, examples=["environment"])]
Keywords = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=100)]], Field(max_length=200)
]


class CategoryOut(BaseModel):
    code: str
    name_vi: str
    name_en: str
    group: str
    keywords: list[str]
    default_priority: Priority
    active: bool


class CategoryIn(Body):
    code: Code
    name_vi: Name
    name_en: Name
    group: Group
    keywords: Keywords = Field(default_factory=list)
    default_priority: Priority = Priority.NORMAL
    active: bool = True


class CategoryPatch(Patch):
    """Any subset; the code is the category's identity and does not change."""

    name_vi: Name | None = None
    name_en: Name | None = None
    group: Group | None = None
    keywords: Keywords | None = None
    default_priority: Priority | None = None
    active: bool | None = None


def _view(row: Category) -> CategoryOut:
    return CategoryOut.model_validate(row.model_dump())


@router.get("", response_model=Page[CategoryOut])
def list_categories(
    session: SessionDep,
    limit: Limit = 50,
    cursor: IdCursor = None,
    group: Annotated[str | None, Query(max_length=64)] = None,
    active: bool | None = None,
    q: Text = None,
) -> Page[CategoryOut]:
    statement = select(Category)
    if group:
        statement = statement.where(Category.group == group)
    if active is not None:
        statement = statement.where(Category.active == active)
    statement = matching(statement, q, Category.code, Category.name_vi, Category.name_en)
    rows, next_cursor = id_page(session, statement, Category.id, limit, cursor)
    return Page(items=[_view(row) for row in rows], next_cursor=next_cursor)


@router.post("", status_code=201, response_model=CategoryOut)
def create_category(session: SessionDep, body: CategoryIn) -> CategoryOut:
    conflict = f"category {body.code} exists already"
    refuse_duplicate(session, select(Category).where(Category.code == body.code), conflict)
    row = Category(**body.model_dump())
    session.add(row)
    commit(session, conflict)
    return _view(row)


@router.get("/{code}", response_model=CategoryOut)
def read_category(session: SessionDep, code: str) -> CategoryOut:
    return _view(by_code(session, Category, code))


@router.patch("/{code}", response_model=CategoryOut)
def update_category(session: SessionDep, code: str, body: CategoryPatch) -> CategoryOut:
    """Deactivating is always allowed: classification refuses it, old cases keep it."""
    row = by_code(session, Category, code)
    row.sqlmodel_update(body.model_dump(exclude_unset=True))
    session.add(row)
    commit(session, f"category {code} changed meanwhile")
    return _view(row)


@router.delete("/{code}", status_code=204, response_class=Response)
def delete_category(session: SessionDep, code: str) -> None:
    row = by_code(session, Category, code)
    what, remedy = f"category {code}", "deactivate it instead"
    refuse_if_used(
        session,
        what,
        [
            ("reflections", col(Reflection.category_id) == row.id),
            ("routing rules", col(RoutingRule.category_id) == row.id),
            ("step policies", col(StepPolicy.category_id) == row.id),
        ],
        remedy,
    )
    delete(session, row, what, remedy)
