"""Fault drills (bounded, on loopback, on the configured database): bursts of submissions against
uvicorn in its own process while the server is killed, the database connections are cut (or,
on SQLite, its write lock held past the busy timeout), or answers are lost on the way.

Every drill reconciles: each submission is one row (none lost, none doubled), each 2xx answer
is a row, each row has its history and its message, and no request was answered 500. The
figures go to the table printed at the end of the run (tests/drills.py, conftest.py).
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url
from sqlmodel import Session

from reflections.platform import migrate
from reflections.platform.db import get_engine
from reflections.seed import loader
from tests import servers
from tests.conftest import new_database, on_postgresql
from tests.drills import Burst, Outcome

DATABASE = "postgresql" if on_postgresql() else "sqlite"
API_NAME = "drill-api"  # the server's application_name on PostgreSQL, to cut only its links


@pytest.fixture(scope="module")
def drill_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, seeded database of the drills' own: their hundreds of undelivered messages
    stay out of the other tests' dispatches."""
    for url in new_database(tmp_path_factory.mktemp("drills")):
        migrate.upgrade(url)
        with pytest.MonkeyPatch.context() as patch, Session(get_engine(url)) as session:
            patch.setattr(loader, "hash_password", lambda password: "not-a-hash")  # speed
            loader.seed(session, demo_password="unused")
        yield url
        get_engine(url).dispose()


def assert_reconciled(outcome: Outcome, burst: Burst) -> None:
    assert outcome.errors == 0, burst.statuses
    assert len(burst.answered) == outcome.submissions, "a submission was never answered 2xx"
    assert outcome.rows == outcome.submissions, outcome
    assert outcome.duplicates == 0 and outcome.incomplete == 0, outcome
    assert outcome.acknowledged_missing == 0, outcome


def test_kill_9_of_the_server_mid_burst(drill_url: str, tmp_path: Path) -> None:
    env = {"REFLECTIONS_DATABASE_URL": drill_url}
    server = servers.start(tmp_path / "api.log", env)
    burst = Burst(server.url)
    clients = threading.Thread(target=burst.run)
    clients.start()
    deadline = time.monotonic() + 30
    while len(burst.answered) < 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    server.kill()  # requests in flight get no answer; some had committed, some not
    time.sleep(0.5)
    port = int(server.url.rsplit(":", 1)[1])
    server = servers.start(tmp_path / "api-again.log", env, port=port)
    try:
        clients.join()
    finally:
        server.stop()
    outcome = burst.outcome("kill -9 of the server mid-burst", DATABASE, drill_url)
    assert outcome.no_answer > 0, "the kill came after the burst"
    assert_reconciled(outcome, burst)


@contextmanager
def connections_cut(database_url: str) -> Iterator[None]:
    """PostgreSQL: the server's backends terminated every 150 ms. SQLite: its write lock held
    0.6 s of every 0.9 s by another writer, past a 0.2 s busy timeout."""
    stop = threading.Event()
    url = make_url(database_url)
    if DATABASE == "postgresql":
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)

        def cut() -> None:
            with psycopg.connect(conninfo, autocommit=True) as admin:
                while not stop.wait(0.15):
                    admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE application_name = %s",
                        (API_NAME,),
                    )

    else:
        import sqlite3

        def cut() -> None:
            holder = sqlite3.connect(str(url.database), isolation_level=None)
            while not stop.wait(0.3):
                holder.execute("BEGIN IMMEDIATE")
                time.sleep(0.6)
                holder.execute("ROLLBACK")
            holder.close()

    cutter = threading.Thread(target=cut)
    cutter.start()
    try:
        yield
    finally:
        stop.set()
        cutter.join(10)


def test_database_connections_cut_mid_burst(drill_url: str, tmp_path: Path) -> None:
    env = {"REFLECTIONS_DATABASE_URL": drill_url}
    if DATABASE == "postgresql":
        env["PGAPPNAME"] = API_NAME
    else:
        env["REFLECTIONS_SQLITE_BUSY_TIMEOUT_SECONDS"] = "0.2"
    with servers.running(tmp_path / "api.log", env) as server:
        burst = Burst(server.url)
        with connections_cut(drill_url):
            burst.run()
    name = "backend connections terminated" if DATABASE == "postgresql" else "write lock held"
    outcome = burst.outcome(f"{name} mid-burst", DATABASE, drill_url)
    assert outcome.unavailable > 0, "no request met the fault"
    assert_reconciled(outcome, burst)


def test_answers_lost_on_the_way_are_retried_into_one_row(drill_url: str, tmp_path: Path) -> None:
    """Each submission is sent, the client hangs up before the answer, then it sends the same
    again with the same key: the change happened once, and the retry gets its answer."""
    with servers.running(tmp_path / "api.log", {"REFLECTIONS_DATABASE_URL": drill_url}) as server:
        burst = Burst(server.url, clients=4, each=10, abandon_first=True)
        burst.run()
    outcome = burst.outcome("answer lost, retried with the same key", DATABASE, drill_url)
    assert burst.statuses["abandoned"] > 0
    assert_reconciled(outcome, burst)
