"""Step policies: each step's allowance per category and priority (DESIGN.md §5).

A policy is named by its category code and priority; ``*`` in place of the code names the
priority's default, which applies to every category without a policy of its own.
"""

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from api.deps import SessionDep
from api.routes.admin.common import (
    Body,
    Code,
    IdCursor,
    Limit,
    Patch,
    by_code,
    codes,
    commit,
    id_of,
    id_page,
    one,
    refuse_duplicate,
)
from api.schemas import Page
from reflections.errors import Conflict
from reflections.models import Category, StepPolicy
from reflections.models.enums import Priority

router = APIRouter(prefix="/step-policies", tags=["admin: step policies"])
DEFAULT = "*"
YEAR_MINUTES = 366 * 24 * 60
Minutes = Annotated[int, Field(gt=0, le=YEAR_MINUTES, description="Allowance in minutes.")]


class PolicyOut(BaseModel):
    category: str | None = Field(description="Category code; none for the priority's default.")
    priority: Priority
    classify_minutes: int
    accept_minutes: int
    process_minutes: int
    confirm_window_minutes: int
    around_the_clock: bool


class PolicyIn(Body):
    category: Code | None = Field(default=None, description="None: the priority's default.")
    priority: Priority
    classify_minutes: Minutes
    accept_minutes: Minutes
    process_minutes: Minutes
    confirm_window_minutes: Minutes
    around_the_clock: bool = False


class PolicyPatch(Patch):
    """Any subset of the allowances; category and priority are the policy's identity."""

    classify_minutes: Minutes | None = None
    accept_minutes: Minutes | None = None
    process_minutes: Minutes | None = None
    confirm_window_minutes: Minutes | None = None
    around_the_clock: bool | None = None


def _views(session: Session, rows: list[StepPolicy]) -> list[PolicyOut]:
    categories = codes(session, Category, (row.category_id for row in rows))
    return [
        PolicyOut.model_validate(
            row.model_dump() | {"category": categories.get(row.category_id or 0)}
        )
        for row in rows
    ]


def _of_category(
    statement: SelectOfScalar[StepPolicy], category_id: int | None
) -> SelectOfScalar[StepPolicy]:
    """NULL needs IS NULL (and no unique constraint sees two NULLs, so we check in code)."""
    if category_id is None:
        return statement.where(col(StepPolicy.category_id).is_(None))
    return statement.where(StepPolicy.category_id == category_id)


def _keyed(category_id: int | None, priority: Priority) -> SelectOfScalar[StepPolicy]:
    return _of_category(select(StepPolicy).where(StepPolicy.priority == priority), category_id)


def _one(session: Session, category: str, priority: Priority) -> StepPolicy:
    category_id = None if category == DEFAULT else by_code(session, Category, category).id
    return one(session, _keyed(category_id, priority), f"no {priority} policy for {category}")


@router.get("", response_model=Page[PolicyOut])
def list_policies(
    session: SessionDep,
    limit: Limit = 50,
    cursor: IdCursor = None,
    category: Annotated[str | None, Query(max_length=64, description="Code, or `*`.")] = None,
    priority: Priority | None = None,
) -> Page[PolicyOut]:
    statement = select(StepPolicy)
    if category:
        category_id = (
            None if category == DEFAULT else id_of(session, Category, category, "category")
        )
        statement = _of_category(statement, category_id)
    if priority:
        statement = statement.where(StepPolicy.priority == priority)
    rows, next_cursor = id_page(session, statement, StepPolicy.id, limit, cursor)
    return Page(items=_views(session, rows), next_cursor=next_cursor)


@router.post("", status_code=201, response_model=PolicyOut)
def create_policy(session: SessionDep, body: PolicyIn) -> PolicyOut:
    conflict = f"a {body.priority} policy for {body.category or DEFAULT} exists already"
    category_id = id_of(session, Category, body.category, "category") if body.category else None
    refuse_duplicate(session, _keyed(category_id, body.priority), conflict)
    row = StepPolicy(**body.model_dump(exclude={"category"}), category_id=category_id)
    session.add(row)
    commit(session, conflict)
    return _views(session, [row])[0]


@router.get("/{category}/{priority}", response_model=PolicyOut)
def read_policy(session: SessionDep, category: str, priority: Priority) -> PolicyOut:
    return _views(session, [_one(session, category, priority)])[0]


@router.patch("/{category}/{priority}", response_model=PolicyOut)
def update_policy(
    session: SessionDep, category: str, priority: Priority, body: PolicyPatch
) -> PolicyOut:
    row = _one(session, category, priority)
    row.sqlmodel_update(body.model_dump(exclude_unset=True))
    session.add(row)
    commit(session, f"the {priority} policy for {category} changed meanwhile")
    return _views(session, [row])[0]


@router.delete("/{category}/{priority}", status_code=204, response_class=Response)
def delete_policy(session: SessionDep, category: str, priority: Priority) -> None:
    """A category's own policy may go (the default applies again); a default may not."""
    row = _one(session, category, priority)
    if row.category_id is None:
        raise Conflict(
            f"the default {priority} policy is what every category falls back to; "
            "change its allowances instead"
        )
    session.delete(row)
    commit(session, f"the {priority} policy for {category} changed meanwhile")
