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
    return _decode_ranked(cursor, ranked=False)[1:]


MAX_ID = 2**63 - 1  # the largest id a database column holds (a forged one overflows the query)
MAX_RANK = 2**31 - 1


def _parse(raw: str) -> tuple[datetime, int]:
    """A cursor is not signed, so everything in it is range-checked: a forged one is a 422."""
    instant, _, row_id = raw.rpartition("|")
    value = datetime.fromisoformat(instant)
    if value.tzinfo is None:
        raise ValueError("naive")
    number = _bounded(row_id, MAX_ID)
    return value, number


def _bounded(text: str, largest: int) -> int:
    """A plain decimal number from 0 to ``largest``; ValueError for anything else."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(largest)):
        raise ValueError("not a number in range")
    number = int(text)
    if number > largest:
        raise ValueError("out of range")
    return number


def _encode(value: datetime, row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{value.isoformat()}|{row_id}".encode()).decode()


def page(
    session: Session,
    statement: SelectOfScalar[Reflection],
    sort: ColumnElement[datetime] | Mapped[datetime],
    limit: int,
    cursor: str | None,
    descending: bool = False,
    rank: ColumnElement[int] | None = None,
) -> tuple[list[Reflection], str | None]:
    """One page of ``statement`` ordered by (rank, sort, id), ``rank`` ascending (0 first:
    emergencies before the rest) when given; the cursor of the next page, if any."""
    ident = col(Reflection.id)
    if cursor:
        rank_value, value, last_id = _decode_ranked(cursor, ranked=rank is not None)
        after = (
            or_(sort < value, and_(sort == value, ident < last_id))
            if descending
            else or_(sort > value, and_(sort == value, ident > last_id))
        )
        if rank is not None:
            after = or_(rank > rank_value, and_(rank == rank_value, after))
        statement = statement.where(after)
    order = (sort.desc(), ident.desc()) if descending else (sort.asc(), ident.asc())
    keys = (sort,) if rank is None else (sort, rank)
    ordered = order if rank is None else (rank.asc(), *order)
    keyed = statement.add_columns(*keys).order_by(*ordered).limit(limit + 1)
    rows = session.execute(keyed).all()  # (reflection, sort key[, rank]) rows
    items: list[Reflection] = [row[0] for row in rows[:limit]]
    if len(rows) <= limit:
        return items, None
    last_row = rows[limit - 1]
    last = items[-1]
    assert last.id is not None
    value = _aware(last_row[1])
    if rank is None:
        return items, _encode(value, last.id)
    return items, _encode_ranked(int(last_row[2]), value, last.id)


def _encode_ranked(rank: int, value: datetime, row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{rank}#{value.isoformat()}|{row_id}".encode()).decode()


def _decode_ranked(cursor: str, ranked: bool) -> tuple[int, datetime, int]:
    """(rank, sort key, id); a ranked page's cursor carries ``rank#`` in front, a plain one
    must not."""
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
        rank, sep, rest = raw.partition("#") if ranked else ("0", "#", raw)
        if not sep:
            raise ValueError("no rank")
        return (_bounded(rank, MAX_RANK), *_parse(rest))
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput("cursor", "is not a cursor this API gave out") from error


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The (sort key, id) a cursor of this API carries; a 422 naming ``cursor`` otherwise."""
    return _decode(cursor)


def encode_cursor(value: datetime, row_id: int) -> str:
    """The cursor of a keyset page that ended at (``value``, ``row_id``)."""
    return _encode(_aware(value), row_id)
