"""Test databases: SQLite by default, PostgreSQL when REFLECTIONS_DATABASE_URL names one.

One migrated, seeded database serves the session (tests create their own reflections, so they
do not disturb each other); ``fresh_database_url`` gives a test an empty database of its own.
"""

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlmodel import Session

from reflections.platform import copies, migrate
from reflections.platform.db import get_engine, reset_engines
from reflections.platform.settings import get_settings
from reflections.seed.loader import seed
from tests.databases import scratch_postgres
from tests.peers import prism_process, prism_url  # noqa: F401 - one Prism for all modules

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

_counter = itertools.count()

# Submission limits, the log-in throttle and the unproven contacts' daily cap are off for the
# suite (its tests submit and log in far more than a citizen would); the tests about them
# switch them on (tests/abuse_helpers.py). Set here, before any settings are read, so the
# servers the tests start inherit it too.
os.environ["REFLECTIONS_ABUSE_LIMITS"] = "false"


def _configured_url() -> str | None:
    url = os.environ.get("REFLECTIONS_DATABASE_URL")
    return url if url and not url.startswith("sqlite") else None


def on_postgresql() -> bool:
    return _configured_url() is not None


@pytest.fixture(scope="session")
def _session_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("db")


def new_database(tmp: Path) -> Iterator[str]:
    """An empty database: a new SQLite file, or a new PostgreSQL database dropped afterwards."""
    base = _configured_url()
    if base is None:
        yield f"sqlite:///{tmp / f'test_{next(_counter)}.db'}"
        return
    with scratch_postgres(base, str(make_url(base).database)) as url:
        try:
            yield url
        finally:  # drills keep their copies for a trainer to inspect; a test run keeps none
            for copy in copies.copies_of(url):
                copies.drop_copy(copy)


@pytest.fixture
def fresh_database_url(tmp_path: Path) -> Iterator[str]:
    yield from new_database(tmp_path)


@pytest.fixture(scope="session")
def database_url(_session_tmp: Path) -> Iterator[str]:
    """The session's database, migrated and seeded once, and the settings pointed at it."""
    for url in new_database(_session_tmp):
        previous = os.environ.get("REFLECTIONS_DATABASE_URL")
        os.environ["REFLECTIONS_DATABASE_URL"] = url
        os.environ.setdefault("REFLECTIONS_DEMO_PASSWORD", "demo-password")
        # Quiet hours would make SMS tests depend on the hour CI runs at: off here, and
        # switched on with a frozen clock by the tests about them (test_quiet_hours.py).
        os.environ["REFLECTIONS_QUIET_HOURS_START"] = os.environ["REFLECTIONS_QUIET_HOURS_END"] = (
            "00:00"
        )
        get_settings.cache_clear()
        reset_engines()
        migrate.upgrade(url)
        with Session(get_engine(url)) as session:
            seed(session, demo_password="demo-password")
        yield url
        get_engine(url).dispose()
        if previous is None:
            os.environ.pop("REFLECTIONS_DATABASE_URL", None)
        else:
            os.environ["REFLECTIONS_DATABASE_URL"] = previous
        get_settings.cache_clear()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Engine:
    return get_engine(database_url)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if on_postgresql():
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set REFLECTIONS_DATABASE_URL")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def app(database_url: str, _session_tmp: Path) -> "FastAPI":
    os.environ["REFLECTIONS_ATTACHMENTS_DIR"] = str(_session_tmp / "attachments")
    os.environ["REFLECTIONS_JWT_SECRET"] = "test-signing-key-that-is-long-enough-for-hs256"
    get_settings.cache_clear()
    from runtime.asgi import create_app

    return create_app()


@pytest.fixture(scope="session")
def client(app: "FastAPI") -> Iterator["TestClient"]:
    from fastapi.testclient import TestClient

    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Prefect's real engine against a temporary Prefect server, started once per session.

    Only tests that run flows ask for it (the server takes seconds to start). Events are
    persisted quickly so tests can read them back; nothing is sent anywhere.
    """
    from prefect.settings import (
        PREFECT_HOME,
        PREFECT_SERVER_ANALYTICS_ENABLED,
        PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness

    updates = {
        PREFECT_HOME: tmp_path_factory.mktemp("prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED: False,
        PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL: 0.2,
    }
    # A loaded machine can take longer than the default 30 s to start the server.
    with temporary_settings(updates=updates), prefect_test_harness(server_startup_timeout=120):
        yield


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In an xdist worker, hand the drills' figures to the controller, which prints them."""
    from dataclasses import asdict

    from tests.drills import RESULTS

    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["drills"] = [asdict(outcome) for outcome in RESULTS]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """The controller gathers each worker's drills (xdist's hook; unused without xdist)."""
    from tests.drills import RESULTS, Outcome

    RESULTS.extend(Outcome(**fields) for fields in node.workeroutput.get("drills", []))


def pytest_terminal_summary(terminalreporter: "pytest.TerminalReporter") -> None:
    """The fault drills' table (tests/test_fault_drills.py), when they ran."""
    from tests.drills import RESULTS, table

    if RESULTS and not hasattr(terminalreporter.config, "workeroutput"):
        terminalreporter.section("fault drills")
        terminalreporter.write_line(table(RESULTS))
