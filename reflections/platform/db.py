"""Engine and session factories. Nothing connects until a session is asked for."""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine

from reflections.platform.settings import get_settings


def _enable_sqlite_integrity(dbapi_connection: Any, _record: Any) -> None:
    # SQLite leaves foreign keys off unless asked, per connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def get_engine(url: str | None = None) -> Engine:
    """One engine per URL (the configured one by default), created lazily. The default is
    resolved on every call, so a changed setting is never answered with an older engine."""
    return _engine(url or get_settings().database_url)


@lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
    settings = get_settings()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=settings.sql_echo, connect_args={"check_same_thread": False}
        )
        event.listen(engine, "connect", _enable_sqlite_integrity)
        return engine
    return create_engine(url, echo=settings.sql_echo, pool_pre_ping=True)


def is_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that rolls back on error; callers commit explicitly."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise


def reset_engines() -> None:
    """Forget every engine (tests that point the settings elsewhere, or drop a database)."""
    _engine.cache_clear()
