"""Scratch PostgreSQL databases for tests and benchmarks: created empty, always dropped."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from reflections.platform.db import reset_engines


@contextmanager
def scratch_postgres(server_url: str, prefix: str) -> Iterator[str]:
    """The URL of a new database named ``<prefix>_<random>`` on ``server_url``'s server."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        make_url(server_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            reset_engines()
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
