"""The operator's backup and restore of the configured database (README "Operations").

SQLite: the online-backup API (a consistent copy while the service writes; a plain file copy
under load was found corrupt). PostgreSQL: ``pg_dump`` in its custom format (one consistent
snapshot, restored with ``pg_restore``). The password travels in the child's environment, never
on a command line. A restore goes only into an empty database: it never mixes two histories.
"""

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import URL, make_url

from reflections.platform.db import get_engine, masked_url

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"


class BackupFailed(RuntimeError):
    """The backup or restore could not be made; the message says why and what to do."""


@dataclass(frozen=True)
class Written:
    path: Path
    size: int
    kind: str  # "sqlite" or "pg_dump"


def backup(url: str, path: Path) -> Written:
    """Write a consistent copy of the database at ``url`` to ``path`` (replaced atomically)."""
    parsed = make_url(url)
    partial = path.with_name(path.name + ".partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial.unlink(missing_ok=True)
    if parsed.get_backend_name() == "sqlite":
        source = sqlite3.connect(_sqlite_file(parsed))
        target = sqlite3.connect(partial)
        try:
            source.backup(target)  # all pages in one step: one consistent snapshot
        finally:
            target.close()
            source.close()
        kind = "sqlite"
    else:
        _run(["pg_dump", "--format=custom", "--no-owner", f"--file={partial}"], parsed)
        kind = "pg_dump"
    partial.replace(path)
    return Written(path, path.stat().st_size, kind)


def restore(url: str, path: Path) -> None:
    """Load the backup at ``path`` into the empty database at ``url``."""
    parsed = make_url(url)
    with path.open("rb") as file:
        magic = file.read(len(SQLITE_MAGIC))
    sqlite_target = parsed.get_backend_name() == "sqlite"
    if magic == SQLITE_MAGIC and not sqlite_target:
        raise BackupFailed(f"{path} is a SQLite backup; restore it with a SQLite database URL")
    if magic.startswith(PG_DUMP_MAGIC) and sqlite_target:
        raise BackupFailed(f"{path} is a PostgreSQL dump; restore it into a PostgreSQL database")
    if magic != SQLITE_MAGIC and not magic.startswith(PG_DUMP_MAGIC):
        raise BackupFailed(f"{path} is not a backup made by `reflections backup`")
    _check_empty(url)
    if sqlite_target:
        source = sqlite3.connect(path)
        target = sqlite3.connect(_sqlite_file(parsed))
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
    else:
        command = ["pg_restore", "--no-owner", "--exit-on-error", "--single-transaction"]
        _run([*command, str(path)], parsed, database_flag=True)
    get_engine(url).dispose()  # connections opened before the restore saw an empty database


def _check_empty(url: str) -> None:
    tables = inspect(get_engine(url)).get_table_names()
    if tables:
        raise BackupFailed(
            f"the database {masked_url(url)} is not empty ({len(tables)} tables): restore into "
            "a new, empty database, then point REFLECTIONS_DATABASE_URL at it"
        )


def _sqlite_file(url: URL) -> str:
    if not url.database or url.database == ":memory:":
        raise BackupFailed("an in-memory SQLite database has nothing to back up or restore into")
    return url.database


def _run(command: list[str], url: URL, database_flag: bool = False) -> None:
    """A PostgreSQL client program, connected by environment variables (password included)."""
    program = shutil.which(command[0])
    if program is None:
        raise BackupFailed(
            f"{command[0]} is not installed: install the PostgreSQL client of the server's "
            "major version (Debian: postgresql-client)"
        )
    environment = os.environ | {
        "PGHOST": url.host or "localhost",
        "PGPORT": str(url.port or 5432),
        "PGUSER": url.username or "",
        "PGDATABASE": url.database or "",
        "PGCONNECT_TIMEOUT": "10",
    }
    if url.password:
        environment["PGPASSWORD"] = str(url.password)
    if database_flag:
        command = [*command[:-1], f"--dbname={url.database}", command[-1]]
    finished = subprocess.run(
        [program, *command[1:]], env=environment, capture_output=True, text=True, check=False
    )
    if finished.returncode != 0:
        why = (finished.stderr.strip().splitlines() or ["no message"])[-1]
        raise BackupFailed(f"{command[0]} failed on {masked_url(url.render_as_string())}: {why}")
