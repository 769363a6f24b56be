"""Engine and session factories. Nothing connects until a session is asked for."""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, CursorResult, Dialect, Engine, Executable, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.sql.compiler import Compiled
from sqlmodel import Session, create_engine

from reflections.platform.settings import get_settings


def _enable_sqlite_integrity(dbapi_connection: Any, _record: Any) -> None:
    # SQLite leaves foreign keys off unless asked, per connection. A writer waits for another
    # one's lock only so long: past it the request is a 503, not a hang.
    busy_ms = int(get_settings().sqlite_busy_timeout_seconds * 1000)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
    cursor.close()


def _postgresql_connect_args() -> dict[str, Any]:
    """libpq options that bound a stalled network: connecting, and a connection whose packets
    go unanswered (TCP keep-alives, and the kernel's limit on unacknowledged data)."""
    settings = get_settings()
    return {
        "connect_timeout": max(2, round(settings.database_connect_timeout_seconds)),
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        "tcp_user_timeout": int(settings.database_connect_timeout_seconds * 4000),
    }


def get_engine(url: str | None = None) -> Engine:
    """One engine per URL (the configured one by default), created lazily. The default is
    resolved on every call, so a changed setting is never answered with an older engine."""
    return _engine(url or get_settings().database_url)


@lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
    settings = get_settings()
    parsed = make_url(url)
    pool = {
        "pool_timeout": settings.database_pool_timeout_seconds,
        "pool_size": settings.database_pool_size,
        "max_overflow": settings.database_max_overflow,
    }
    # Errors and logs never carry a citizen's data: statement parameters are left out.
    if parsed.get_backend_name() == "sqlite":
        file = bool(parsed.database) and parsed.database != ":memory:"
        if file:
            Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=settings.sql_echo,
            hide_parameters=True,
            connect_args={"check_same_thread": False},
            **(pool if file else {}),
        )
        event.listen(engine, "connect", _enable_sqlite_integrity)
        return engine
    return create_engine(
        url,
        echo=settings.sql_echo,
        hide_parameters=True,
        pool_pre_ping=True,
        connect_args=_postgresql_connect_args(),
        **pool,
    )


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


_Row = TypeVar("_Row")


def keep(session: OrmSession, row: object) -> None:
    """Keep ``row`` in the session for as long as the session lives (its identity map holds
    rows only while someone does), for :func:`held` to find: a row read beside another, in the
    same statement, for a later step of the request."""
    session.info.setdefault("kept rows", []).append(row)


def held(session: OrmSession, model: type[_Row], row_id: int | None) -> _Row | None:
    """The row of ``model`` with this id that the session already holds (someone keeps it),
    or None, without a query: a caller that has it spares the read (issue 18). Expired rows
    (after a commit) do not count: reading one would load it again."""
    if row_id is None:
        return None
    # The key ``identity_key(model, row_id)`` builds for a table without mapped inheritance
    # (all of ours), without its mapper lookups: an event asks this on its hot path (issue 18).
    row = session.identity_map.get((model, (row_id,), None))
    if type(row) is not model or instance_state(row).expired_attributes:
        return None
    return row


# Each hot path's statement compiled once per dialect and set of parameter names (see execute).
_COMPILED: dict[tuple[Executable, Dialect, tuple[str, ...]], Compiled] = {}
_COMPILED_LIMIT = 1_000  # the reflection's UPDATE has a form per set of changed columns


def execute(
    connection: Connection, statement: Executable, parameters: Mapping[str, Any]
) -> CursorResult[Any]:
    """``connection.execute(statement, parameters)`` for a statement built once (a module's
    constant) and one row of parameters, with its compiled form kept here: SQLAlchemy finds
    it in its cache by a key describing the whole statement, hashed again on every call (some
    tens of thousands of instructions for an event's wider statements; issue 18). Compiled
    as SQLAlchemy compiles it for these parameters (their names, sorted, as the columns an
    INSERT or UPDATE names); run through the same connection, so its events and logging see
    the same statement."""
    dialect = connection.dialect
    key = (statement, dialect, tuple(parameters))
    compiled = _COMPILED.get(key)
    if compiled is None:
        if len(_COMPILED) >= _COMPILED_LIMIT:
            _COMPILED.clear()
        compiled = statement.compile(dialect=dialect, column_keys=sorted(parameters))  # type: ignore[attr-defined]
        _COMPILED[key] = compiled
    return connection.execute(compiled, parameters)  # type: ignore[arg-type]


def masked_url(url: str | None = None) -> str:
    """The database URL as an operator may see it: the password hidden."""
    return make_url(url or get_settings().database_url).render_as_string(hide_password=True)


# A database that cannot answer now: refused, reset or terminated connections, timeouts
# (connecting, a statement, a lock), no pooled connection free, SQLite's lock held too long.
DATABASE_FAULTS: tuple[type[Exception], ...] = (
    exc.OperationalError,
    exc.InterfaceError,
    exc.TimeoutError,
    exc.DisconnectionError,
)


def describe_failure(error: BaseException) -> str:
    """The driver's own words, first line only: no SQL, no parameters, no personal data."""
    cause = getattr(error, "orig", None) or error
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    return f"{type(cause).__name__}: {text}"[:300]


def reset_engines() -> None:
    """Forget every engine (tests that point the settings elsewhere, or drop a database)."""
    _engine.cache_clear()


_RENDERED: WeakKeyDictionary[Engine, str] = WeakKeyDictionary()


def database_key(session: OrmSession) -> str:
    """Which database a session talks to, as a key for per-process caches: the engine's URL,
    rendered once per engine (a cache keyed by the URL itself hashed it by rendering it, on
    every call: issue 18)."""
    engine = session.get_bind().engine
    key = _RENDERED.get(engine)
    if key is None:
        key = _RENDERED[engine] = engine.url.render_as_string(hide_password=False)
    return key
