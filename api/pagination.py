"""Keyset pagination: stable pages however many rows are added meanwhile."""

import base64
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query
from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col
from sqlmodel.sql.expression import SelectOfScalar

from reflections.errors import InvalidInput
from reflections.models import Reflection

LimitDep = Annotated[int, Query(ge=1, le=200, description="Items per page.")]
CursorDep = Annotated[
    str | None, Query(max_length=200, description="`next_cursor` of the previous page.")
]


def _decode(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
        instant, _, row_id = raw.rpartition("|")
        value = datetime.fromisoformat(instant)
        if value.tzinfo is None:
            raise ValueError("naive")
        return value, int(row_id)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput("cursor", "is not a cursor this API gave out") from error


def _encode(value: datetime, row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{value.isoformat()}|{row_id}".encode()).decode()


def page(
    session: Session,
    statement: SelectOfScalar[Reflection],
    sort: ColumnElement[datetime] | Mapped[datetime],
    limit: int,
    cursor: str | None,
    descending: bool = False,
) -> tuple[list[Reflection], str | None]:
    """One page of ``statement`` ordered by (sort, id); the cursor of the next, if any."""
    ident = col(Reflection.id)
    if cursor:
        value, last_id = _decode(cursor)
        after = (
            or_(sort < value, and_(sort == value, ident < last_id))
            if descending
            else or_(sort > value, and_(sort == value, ident > last_id))
        )
        statement = statement.where(after)
    order = (sort.desc(), ident.desc()) if descending else (sort.asc(), ident.asc())
    keyed = statement.add_columns(sort).order_by(*order).limit(limit + 1)
    rows = session.execute(keyed).all()  # (reflection, sort key) rows
    items: list[Reflection] = [row[0] for row in rows[:limit]]
    if len(rows) <= limit:
        return items, None
    last_sort: datetime = rows[limit - 1][1]
    last = items[-1]
    assert last.id is not None
    return items, _encode(_aware(last_sort), last.id)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The (sort key, id) a cursor of this API carries; a 422 naming ``cursor`` otherwise."""
    return _decode(cursor)


def encode_cursor(value: datetime, row_id: int) -> str:
    """The cursor of a keyset page that ended at (``value``, ``row_id``)."""
    return _encode(_aware(value), row_id)
