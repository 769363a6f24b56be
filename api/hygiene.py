"""Input no database should see: NUL characters, refused alike on SQLite and PostgreSQL.

PostgreSQL cannot store or compare a NUL in text (psycopg raises DataError), SQLite stores it
silently: the same request would be a 422 on one and a row on the other. So the API refuses
it before either sees it, naming the field:

- in the path or any query parameter (``q``, filters, cursors): a request dependency;
- in anything written (JSON, forms, multipart text fields, whatever the route built from them):
  a ``before_flush`` check of every new or changed text attribute.

Both raise :class:`InvalidInput` (``error.nul``): a 422 problem in the API, a page with the
sentence at the field in the console.
"""

from typing import Any

from fastapi import Request
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import UOWTransaction

from reflections.lifecycle.rows import NUL
from reflections.lifecycle.rows import nul_refused as _refuse


async def no_nul_in_url(request: Request) -> None:
    """An app-wide dependency: the path and every query parameter, names included. Async, as
    it does no I/O: a sync one would cost every request a trip to the thread pool."""
    if NUL in request.scope["path"]:
        raise _refuse("path")
    raw = request.scope["query_string"]
    if b"\0" not in raw and b"%00" not in raw:  # nothing decodes to NUL: nothing to parse
        return
    for name, value in request.query_params.multi_items():
        if NUL in name or NUL in value:
            raise _refuse(name.replace(NUL, ""))


def _before_flush(session: OrmSession, _context: UOWTransaction, _instances: Any) -> None:
    for row in (*session.new, *session.dirty):
        state = inspect(row)
        for attribute in state.mapper.column_attrs:
            value = getattr(row, attribute.key, None)
            if isinstance(value, str) and NUL in value:
                raise _refuse(attribute.key)


def install() -> None:
    """Check every session's writes (idempotent: SQLAlchemy keeps one listener per function)."""
    if not event.contains(OrmSession, "before_flush", _before_flush):
        event.listen(OrmSession, "before_flush", _before_flush)
