"""Submission limits (issue 13): per client address and per contact, with the ``limits`` library.

The counters live where ``REFLECTIONS_RATE_LIMIT_STORAGE`` says: ``memory://`` (one process,
the embedded default), ``database://`` (the service's own database, so every API replica counts
together without another service) or ``redis://host:port``. Limits are fixed windows written
in ``limits``' notation (``10/hour;30/day``); a refused try names the longest wait in its
``Retry-After``.
"""

from __future__ import annotations

import math
import time
from functools import lru_cache

from limits import RateLimitItem, parse_many
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from reflections.errors import RateLimited
from reflections.models import RateLimitCounter
from reflections.platform.db import get_engine
from reflections.platform.settings import get_settings

_TABLE = RateLimitCounter.__table__  # type: ignore[attr-defined]


class DatabaseStorage(Storage):
    """Fixed-window counters in the ``rate_limit_counters`` table: one upsert per hit, in its
    own short transaction (a refused request's rollback keeps the count)."""

    STORAGE_SCHEME = ["database"]  # noqa: RUF012  (the registry reads a list)

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: object):
        super().__init__(uri, wrap_exceptions=wrap_exceptions)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        engine = get_engine()
        insert = (postgresql if engine.dialect.name == "postgresql" else sqlite).insert(_TABLE)
        expired = _TABLE.c.expires_at <= now
        statement = (
            insert.values(key=key, count=amount, expires_at=now + expiry)
            .on_conflict_do_update(
                index_elements=[_TABLE.c.key],
                set_={
                    "count": case((expired, amount), else_=_TABLE.c["count"] + amount),
                    "expires_at": case((expired, now + expiry), else_=_TABLE.c.expires_at),
                },
            )
            .returning(_TABLE.c["count"])
        )
        with engine.begin() as connection:
            return int(connection.execute(statement).scalar_one())

    def _row(self, key: str) -> tuple[int, float] | None:
        with get_engine().connect() as connection:
            row = connection.execute(
                select(_TABLE.c["count"], _TABLE.c.expires_at).where(_TABLE.c.key == key)
            ).first()
        if row is None or row[1] <= time.time():
            return None
        return int(row[0]), float(row[1])

    def get(self, key: str) -> int:
        row = self._row(key)
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return row[1] if row else time.time()

    def check(self) -> bool:
        with get_engine().connect() as connection:
            connection.execute(select(1))
        return True

    def reset(self) -> int | None:
        with get_engine().begin() as connection:
            return int(connection.execute(delete(_TABLE)).rowcount)

    def clear(self, key: str) -> None:
        with get_engine().begin() as connection:
            connection.execute(delete(_TABLE).where(_TABLE.c.key == key))


@lru_cache(maxsize=4)
def limiter_for(uri: str) -> FixedWindowRateLimiter:
    """One limiter (and storage connection) per storage URI, for the life of the process."""
    return FixedWindowRateLimiter(storage_from_string(uri))


def limiter() -> FixedWindowRateLimiter:
    return limiter_for(get_settings().rate_limit_storage)


def check_and_count(
    items: list[RateLimitItem], scope: str, subject: str, code: str, detail: str
) -> None:
    """Count one try against every limit, or refuse it (counting nothing) when one is spent."""
    active = limiter()
    spent = [item for item in items if not active.test(item, scope, subject)]
    if spent:
        reset = max(active.get_window_stats(item, scope, subject).reset_time for item in spent)
        raise RateLimited(detail, math.ceil(reset - time.time()), code)
    for item in items:
        active.hit(item, scope, subject)


@lru_cache(maxsize=16)
def parsed(text: str) -> list[RateLimitItem]:
    return list(parse_many(text)) if text.strip() else []
