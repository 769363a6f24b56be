"""Copies of the database for drills and training (DESIGN.md §10), made without writing to it.

* SQLite: the online backup API, reading the live file through a read-only connection, into
  ``drills/<name>-<instant>.db`` beside it; a consistent snapshot even while others write.
* PostgreSQL: ``pg_dump`` of the live database piped into ``pg_restore`` in a new scratch
  database ``<name>_drill_<instant>`` on the same server (``CREATE DATABASE … TEMPLATE`` would
  need every other session of the live database closed, which a running service never has).

Copies are kept (they are the trainer's to inspect) until :func:`drop_copy`.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from reflections.platform.db import get_engine

DRILL_MARK = "_drill_"


class CopyFailed(RuntimeError):
    """The copy could not be made; the live database is untouched either way."""


@dataclass(frozen=True)
class DatabaseCopy:
    url: str  # SQLAlchemy URL of the copy, to connect to it
    where: str  # what to tell a person: a file path, or a database on a server


def copy_database(source_url: str) -> DatabaseCopy:
    url = make_url(source_url)
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(2)
    if url.get_backend_name() == "sqlite":
        return _copy_sqlite(url, stamp)
    if url.get_backend_name() == "postgresql":
        return _copy_postgresql(url, stamp)
    raise CopyFailed(f"cannot copy a {url.get_backend_name()} database")


def _copy_sqlite(url: URL, stamp: str) -> DatabaseCopy:
    if not url.database or url.database == ":memory:":
        raise CopyFailed("an in-memory database has no file to copy")
    source = Path(url.database).resolve()
    if not source.exists():
        raise CopyFailed(f"{source} does not exist")
    target = source.parent / "drills" / f"{source.stem}{DRILL_MARK}{stamp}.db"
    target.parent.mkdir(parents=True, exist_ok=True)
    live = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)
    try:
        copy = sqlite3.connect(target)
        try:
            live.backup(copy)
        finally:
            copy.close()
    finally:
        live.close()
    return DatabaseCopy(
        url=url.set(database=str(target)).render_as_string(False), where=str(target)
    )


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string for the command-line tools, the password in the
    environment rather than on the command line (where `ps` shows it)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _pg_prefix(database: str | None) -> str:
    """The start of every copy's name: the live name, or for a name too long to keep whole
    (identifiers end at 63 bytes) its first 21 characters and a hash of all of it, so two
    databases that begin alike never see each other's copies as their own."""
    name = database or "reflections"
    if len(name) > 30:
        name = f"{name[:21]}{hashlib.sha256(name.encode()).hexdigest()[:9]}"
    return f"{name}{DRILL_MARK}"


def _copy_postgresql(url: URL, stamp: str) -> DatabaseCopy:
    name = f"{_pg_prefix(url.database)}{stamp}"
    target = url.set(database=name)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    source_dsn, env = _libpq(url)
    target_dsn, _ = _libpq(target)
    try:
        dump = subprocess.Popen(
            [
                "pg_dump",
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--dbname={source_dsn}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        restore = subprocess.run(
            [
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                f"--dbname={target_dsn}",
            ],
            stdin=dump.stdout,
            capture_output=True,
            env=env,
            check=False,
        )
        assert dump.stdout is not None
        dump.stdout.close()
        dumped = dump.wait()
    except FileNotFoundError as error:  # no postgresql-client on this machine
        drop_copy(target.render_as_string(False))
        raise CopyFailed(f"{error.filename} is needed to copy a PostgreSQL database") from None
    if dumped != 0 or restore.returncode != 0:
        drop_copy(target.render_as_string(False))
        detail = (dump.stderr.read() if dump.stderr else b"") + restore.stderr
        raise CopyFailed(f"pg_dump | pg_restore failed: {detail.decode(errors='replace')[-500:]}")
    host = f"{url.host or 'localhost'}:{url.port or 5432}"
    return DatabaseCopy(url=target.render_as_string(False), where=f"database {name} on {host}")


def drop_copy(copy_url: str) -> None:
    """Remove a copy made here (refuses anything else: never the live database)."""
    url = make_url(copy_url)
    name = Path(url.database or "").name
    if DRILL_MARK not in name:
        raise CopyFailed(f"{name or copy_url} is not a drill copy")
    get_engine(copy_url).dispose()
    if url.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{url.database}{suffix}").unlink(missing_ok=True)
        return
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    finally:
        admin.dispose()


def copies_of(source_url: str) -> list[str]:
    """The URLs of the drill copies made of this database that still exist."""
    url = make_url(source_url)
    if url.get_backend_name() == "sqlite":
        source = Path(url.database or "").resolve()
        found = sorted((source.parent / "drills").glob(f"{source.stem}{DRILL_MARK}*.db"))
        return [url.set(database=str(path)).render_as_string(False) for path in found]
    prefix = _pg_prefix(url.database)
    admin = create_engine(url.set(database="postgres"))
    try:
        with admin.connect() as connection:
            names = connection.execute(
                text("SELECT datname FROM pg_database WHERE starts_with(datname, :prefix)"),
                {"prefix": prefix},
            ).scalars()
            return [url.set(database=name).render_as_string(False) for name in sorted(names)]
    finally:
        admin.dispose()
