"""What every admin resource shares: bodies, id-keyset pages, lookups by code, 409s."""

import base64
import binascii
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Annotated, Any, ClassVar, Protocol, TypeVar

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy import ColumnElement, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from api.problems import problem_responses
from reflections.errors import Conflict, InvalidInput, NotFound
from reflections.models import AdministrativeUnit, Category, HandlingUnit

# Codes travel in URLs, CLIs and seeds: keep them to characters that need no escaping.
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
Code = Annotated[str, Field(min_length=1, max_length=64, pattern=CODE_PATTERN)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str | None, Query(max_length=100, description="Text the code or name contains.")]
IdCursor = Annotated[
    str | None, Query(max_length=100, description="`next_cursor` of the previous page.")
]
Limit = Annotated[int, Query(ge=1, le=200, description="Items per page.")]

PROBLEM_RESPONSES = problem_responses(
    403,
    "The caller is not an admin.",
    404,
    "Nothing has that code or name.",
    409,
    "A duplicate, or a row still in use (deactivate it instead).",
)


class Body(BaseModel):
    """Request bodies refuse unknown fields, so a typo is a 422, not a silently ignored change."""

    model_config = ConfigDict(extra="forbid")


class Patch(Body):
    """PATCH bodies: a field left out stays as it is; null clears only the ``clearable`` ones."""

    clearable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _null_only_if_clearable(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.clearable:
            raise ValueError("may be left out but not null")
        return value


class Identified(Protocol):
    id: int | None


RowT = TypeVar("RowT", bound=Identified)
CodedT = TypeVar("CodedT", AdministrativeUnit, HandlingUnit, Category)

LABELS: dict[type[object], str] = {
    AdministrativeUnit: "administrative unit",
    HandlingUnit: "handling unit",
    Category: "category",
}


def _decode(cursor: str) -> int:
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind != "id":
            raise ValueError(kind)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidInput("cursor", "is not a cursor this API gave out") from error


def _encode(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{row_id}".encode()).decode()


def id_page(
    session: Session,
    statement: SelectOfScalar[RowT],
    id_column: ColumnElement[int] | int | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[RowT], str | None]:
    """One page ordered by id (stable, index-backed), and the cursor of the next if any."""
    ident = col(id_column)
    if cursor:
        statement = statement.where(ident > _decode(cursor))
    rows = list(session.exec(statement.order_by(ident).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1].id
    assert last is not None
    return rows[:limit], _encode(last)


def matching(
    statement: SelectOfScalar[RowT], text: str | None, *columns: str | None
) -> SelectOfScalar[RowT]:
    """Rows where any of the columns contains the text, case-insensitively."""
    if not text:
        return statement
    return statement.where(or_(*(col(c).icontains(text, autoescape=True) for c in columns)))


def one(session: Session, statement: SelectOfScalar[RowT], missing: str) -> RowT:
    """The row the statement finds, or a 404 saying what is missing."""
    row = session.exec(statement).first()
    if row is None:
        raise NotFound(missing)
    return row


def by_code(session: Session, model: type[CodedT], code: str) -> CodedT:
    return one(session, select(model).where(model.code == code), f"no {LABELS[model]} {code!r}")


def id_of(session: Session, model: type[CodedT], code: str, field: str) -> int:
    """The id of a row a body or filter names by code; a 422 naming the field if unknown."""
    row = session.exec(select(model).where(model.code == code)).first()
    if row is None or row.id is None:
        raise InvalidInput(field, f"no {LABELS[model]} {code!r}")
    return row.id


def codes(session: Session, model: type[CodedT], ids: Iterable[int | None]) -> dict[int, str]:
    """Codes of the rows with these ids, in one query: views show codes, never ids."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    found = session.exec(select(model.id, model.code).where(col(model.id).in_(wanted))).all()
    return {row_id: code for row_id, code in found if row_id is not None}


def refuse_duplicate(session: Session, statement: SelectOfScalar[RowT], conflict: str) -> None:
    if session.exec(statement).first() is not None:
        raise Conflict(conflict)


def refuse_if_used(
    session: Session, what: str, uses: Sequence[tuple[str, ColumnElement[bool]]], remedy: str
) -> None:
    """A 409 listing what still refers to a row, so the admin knows what to change first."""
    counts = [
        (label, session.exec(select(func.count()).where(clause)).one()) for label, clause in uses
    ]
    named = ", ".join(f"{label} ({n})" for label, n in counts if n)
    if named:
        raise Conflict(f"{what} is still referenced by {named}; {remedy}")


def commit(session: Session, conflict: str) -> None:
    """Commit; a constraint the checks above could not foresee (a race) is a 409, not a 500."""
    try:
        session.commit()
    except IntegrityError as error:
        session.rollback()
        raise Conflict(conflict) from error


def delete(session: Session, row: object, what: str, remedy: str) -> None:
    session.delete(row)
    commit(session, f"{what} is still referenced; {remedy}")


def check_validity(valid_from: date | None, valid_to: date | None) -> None:
    if valid_from and valid_to and valid_to < valid_from:
        raise InvalidInput("valid_to", "is before valid_from")
