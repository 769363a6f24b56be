"""Rows written on hot paths without the ORM's unit of work (issue 18), with what the flush
would have checked.

The unit of work's flush cost more CPU than the rest of a submission or an event; these write
the same rows with precompiled Core statements and leave the session as a flush would have.
"""

from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Insert, Table, TextualSelect, bindparam, insert, inspect, text
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session, SQLModel

from reflections.errors import InvalidInput
from reflections.models.types import table_of
from reflections.platform.db import execute, held

NUL = "\x00"
_Row = TypeVar("_Row", bound=SQLModel)


def get(session: Session, model: type[_Row], row_id: int) -> _Row | None:
    """``session.get(model, row_id)``, answered by :func:`held` without Session.get's argument
    handling when the session holds the object unexpired (some 27,000 instructions a call,
    issue 18): what Session.get returns then too. Anything else goes through Session.get."""
    return held(session, model, row_id) or session.get(model, row_id)


def nul_refused(field: str) -> InvalidInput:
    """The one refusal of a NUL in text, here and in the API's checks of the URL and of what
    the ORM flushes: PostgreSQL cannot store it, SQLite would, so both refuse it alike."""
    return InvalidInput(field, "holds a NUL character", "nul")


def refuse_nul(values: Mapping[str, Any]) -> None:
    """Refuse a NUL in any text among ``values``, naming its field."""
    for field, value in values.items():
        if isinstance(value, str) and NUL in value:
            raise nul_refused(field)


@cache
def _insert_returning_id(table: Table) -> Insert:
    """Built once per table: a statement reused is compiled and keyed once (built per call,
    SQLAlchemy walked it for its cache key every time)."""
    return insert(table).returning(table.c.id)


@cache
def _insert_unless_taken(table: Table, column: str) -> TextualSelect:
    """INSERT … ON CONFLICT (column) DO NOTHING RETURNING id, the same words on SQLite and
    PostgreSQL. Written as text: SQLAlchemy 2.0 compiles its dialects' ON CONFLICT anew on
    every call (they are not cacheable), which cost more than the statement's round trip."""
    columns = [c for c in table.c if c.key != "id"]
    names = ", ".join(c.name for c in columns)
    values = ", ".join(f":{c.key}" for c in columns)
    return (
        text(
            f"INSERT INTO {table.name} ({names}) VALUES ({values})"
            f" ON CONFLICT ({table.c[column].name}) DO NOTHING RETURNING id"
        )
        .bindparams(*(bindparam(c.key, type_=c.type) for c in columns))
        .columns(table.c.id)
    )


@cache
def _written_keys(table: Table) -> tuple[str, ...]:
    """The columns an INSERT of a new object writes (all but its id), named once per table
    (walking the table's column collection on every insert cost more than the lookups)."""
    return tuple(column.key for column in table.c if column.key != "id")


def insert_object(session: Session, row: SQLModel, *, unless_taken: str | None = None) -> bool:
    """INSERT a new object's columns (its defaults included) with RETURNING its id, then make
    it a persistent object of the session, clean, as after a flush. With ``unless_taken`` (a
    unique column), a value already taken writes nothing and returns False, the row left new:
    the check and the insert are one statement, so no other writer comes between them."""
    table = table_of(type(row))
    state = inspect(row)
    assert state is not None and state.transient, "a new object, not yet in a session"
    held = state.dict
    values = {key: held[key] for key in _written_keys(table)}
    refuse_nul(values)
    statement = (
        _insert_returning_id(table)
        if unless_taken is None
        else _insert_unless_taken(table, unless_taken)
    )
    row_id = execute(session.connection(), statement, values).scalar_one_or_none()
    if row_id is None:
        return False
    row.id = row_id
    make_transient_to_detached(row)
    session.add(row)
    return True
