"""Honest answers during database faults (DESIGN.md §10): a 503 with Retry-After, never a 500 or
a hang; nothing half done; the connection still usable; starting without a database."""

import http.client
import os
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import psycopg
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

import api.routes.reflections
from reflections.models import Reflection
from reflections.platform import migrate
from reflections.platform.db import get_engine, reset_engines
from reflections.platform.settings import get_settings
from tests import servers
from tests.api_helpers import as_user, submit
from tests.peers import free_port

REPO = Path(__file__).parents[1]
CLASSIFY = {"category": "urban_order", "priority": "normal", "administrative_unit": "46.W19768"}


@contextmanager
def configured(**settings: object) -> Iterator[None]:
    """Settings changed for the block (engines rebuilt with them), then put back."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in settings.items():
            patch.setenv(f"REFLECTIONS_{name.upper()}", str(value))
        get_settings.cache_clear()
        reset_engines()
        try:
            yield
        finally:
            patch.undo()
            get_settings.cache_clear()
            reset_engines()


def refused_url() -> str:
    return f"postgresql+psycopg://reflections:hunter2@127.0.0.1:{free_port()}/city"


def assert_unavailable(response: Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    assert response.headers["content-type"] == "application/problem+json"


@contextmanager
def write_lock_held(
    database_url: str, reflection_id: int, release_after_seconds: float | None = None
) -> Iterator[None]:
    """Another writer holds what the request needs: SQLite's write lock, or the row on
    PostgreSQL (given up after ``release_after_seconds``, if given, so that a request left
    unbounded finishes, late, instead of hanging the test)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        lite = sqlite3.connect(str(url.database), isolation_level=None)
        lite.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            lite.execute("ROLLBACK")
            lite.close()
        return
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as holder:
        holder.execute("SELECT 1 FROM reflections WHERE id = %s FOR UPDATE", (reflection_id,))
        if release_after_seconds is not None:
            holder.execute(f"SET idle_in_transaction_session_timeout = '{release_after_seconds}s'")
        yield
        with suppress(psycopg.OperationalError):  # already ended by its idle timeout
            holder.rollback()


def test_a_lock_held_past_its_timeout_is_503_and_changes_nothing(
    client: TestClient, session: Session, database_url: str
) -> None:
    code = submit(client)["tracking_code"]
    coordinator = as_user(client, "coordinator")
    reflection = session.exec(select(Reflection).where(Reflection.tracking_code == code)).one()
    assert reflection.id is not None
    path = f"/api/v1/reflections/{code}/classify"
    with (
        configured(sqlite_busy_timeout_seconds=0.3, database_lock_timeout_seconds=0.3),
        write_lock_held(database_url, reflection.id),
    ):
        assert_unavailable(client.post(path, json=CLASSIFY, headers=coordinator))
    assert client.get(f"/api/v1/reflections/{code}", headers=coordinator).json()["version"] == 1
    assert client.post(path, json=CLASSIFY, headers=coordinator).status_code == 200


def test_the_bounds_outlive_a_request_that_rolled_back(
    client: TestClient, session: Session, database_url: str
) -> None:
    """PostgreSQL: the timeouts are set on the connection by the first request that uses it;
    a read ends in a rollback, and the next request on that connection is bounded all the
    same (a SET inside the rolled-back transaction would have been undone with it)."""
    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("the bounds are PostgreSQL's (SQLite: busy_timeout, set per connection)")
    code = submit(client)["tracking_code"]
    coordinator = as_user(client, "coordinator")
    reflection = session.exec(select(Reflection).where(Reflection.tracking_code == code)).one()
    assert reflection.id is not None
    # One connection: the read and the change share it.
    with configured(
        database_pool_size=1, database_max_overflow=0, database_lock_timeout_seconds=0.3
    ):
        assert client.get(f"/api/v1/reflections/{code}", headers=coordinator).status_code == 200
        with write_lock_held(database_url, reflection.id, release_after_seconds=10):
            path = f"/api/v1/reflections/{code}/classify"
            assert_unavailable(client.post(path, json=CLASSIFY, headers=coordinator))


def test_no_free_connection_in_the_pool_is_503(client: TestClient) -> None:
    code = submit(client)["tracking_code"]
    coordinator = as_user(client, "coordinator")
    with configured(
        database_pool_size=1, database_max_overflow=0, database_pool_timeout_seconds=0.3
    ):
        with get_engine().connect() as taken:
            taken.exec_driver_sql("SELECT 1")
            assert_unavailable(client.get(f"/api/v1/reflections/{code}", headers=coordinator))
        assert client.get(f"/api/v1/reflections/{code}", headers=coordinator).status_code == 200


def test_a_stalled_database_is_503_not_a_hang(client: TestClient) -> None:
    """The database's address takes the connection and never answers (a network stall)."""
    with servers.silent_listener() as port:
        url = f"postgresql+psycopg://reflections@127.0.0.1:{port}/city"
        with configured(database_url=url, database_connect_timeout_seconds=1):
            assert_unavailable(client.get("/api/v1/public/results"))
            ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] != "ok"


def test_open311_answers_a_fault_in_its_own_error_format(client: TestClient) -> None:
    with configured(database_url=refused_url()):
        answer = client.get("/open311/v2/services.xml")
    assert answer.status_code == 503 and int(answer.headers["retry-after"]) > 0
    assert answer.headers["content-type"].startswith("text/xml")
    assert "<errors><error><code>503</code>" in answer.text


def test_web_pages_answer_a_fault_with_a_page(app: FastAPI) -> None:
    browser = TestClient(app)
    with configured(database_url=refused_url()):
        page = browser.get("/results", headers={"Cookie": "reflections_lang=vi"})
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert int(page.headers["retry-after"]) > 0
    assert "Vui lòng gửi lại sau ít phút" in page.text


def test_started_without_its_database_it_waits_and_says_so(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Not an exit: health answers, readiness says why, the rest is 503 until the database
    is back, found again by the backoff without a restart."""
    from runtime.asgi import create_app

    caplog.set_level("WARNING", logger="reflections.readiness")
    refused = refused_url()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REFLECTIONS_DATABASE_URL", refused)
        get_settings.cache_clear()
        reset_engines()
        with TestClient(create_app()) as client:
            assert client.get("/healthz").json() == {"status": "alive"}
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert "unreachable" in ready.json()["starting"]
            assert "hunter2" not in ready.text and "***" in ready.text
            assert_unavailable(client.get("/api/v1/public/results"))
            assert_unavailable(client.post("/api/v1/reflections", json={"description": "x"}))
            time.sleep(1.5)  # one retry, in vain
            patch.setenv("REFLECTIONS_DATABASE_URL", database_url)  # the database is back
            # what other tests left in the shared outbox is not this test's business
            patch.setenv("REFLECTIONS_OUTBOX_STUCK_SECONDS", "0")
            get_settings.cache_clear()
            reset_engines()
            deadline = time.monotonic() + 20
            while client.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, client.get("/readyz").text
                time.sleep(0.2)
            assert client.get("/api/v1/public/results").status_code == 200
    get_settings.cache_clear()
    reset_engines()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "not ready, waiting: database postgresql+psycopg://reflections:***@127.0.0.1:" in logged
    assert "not ready, trying again in" in logged
    assert "hunter2" not in logged


def test_the_process_waits_for_a_database_being_migrated(
    fresh_database_url: str, tmp_path: Path
) -> None:
    """uvicorn started on a database not migrated yet: it serves health and waits."""
    env = {"REFLECTIONS_DATABASE_URL": fresh_database_url}
    with servers.running(tmp_path / "api.log", env, ready=False) as server:
        with urlopen_status(server.url + "/readyz") as (status, body):
            assert status == 503 and "reflections db upgrade" in body
        migrate.upgrade(fresh_database_url)
        servers.wait_for(server, "/readyz", timeout=40)
        with urlopen_status(server.url + "/api/v1/public/results") as (status, _):
            assert status == 200
    assert "not ready, waiting: The database" in server.output()
    assert "reachable and migrated: ready" in server.output()


@pytest.mark.postgres
def test_the_process_waits_for_an_unreachable_database(database_url: str, tmp_path: Path) -> None:
    """Refused at first; then the database answers on that address: ready, no restart."""
    port = free_port()
    real = make_url(database_url)
    url = real.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    with servers.running(tmp_path / "api.log", {"REFLECTIONS_DATABASE_URL": url}, ready=False) as s:
        with urlopen_status(s.url + "/readyz") as (status, body):
            assert status == 503 and "unreachable" in body
        with servers.forwarding(port, (real.host or "127.0.0.1", real.port or 5432)):
            servers.wait_for(s, "/readyz", timeout=60)
    assert "unreachable" in s.output() and "reachable and migrated: ready" in s.output()


@contextmanager
def urlopen_status(url: str) -> Iterator[tuple[int, str]]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            yield response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        yield error.code, error.read().decode()


@pytest.fixture
def live(app: FastAPI) -> Iterator[str]:
    """The app over real HTTP (keep-alive), in a thread of this process."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def exchange(connection: http.client.HTTPConnection, method: str, path: str, **kw: Any) -> int:
    connection.request(method, path, **kw)
    response = connection.getresponse()
    response.read()
    assert response.getheader("connection") != "close"
    return response.status


def test_the_connection_stays_usable_after_a_fault_and_an_error(
    live: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection = http.client.HTTPConnection(live, timeout=30)
    assert exchange(connection, "GET", "/healthz") == 200
    socket_before = connection.sock
    with configured(database_url=refused_url()):
        body = '{"description": "Ổ gà", "address": "Lê Lợi"}'.encode()
        headers = {"Content-Type": "application/json"}
        assert (
            exchange(connection, "POST", "/api/v1/reflections", body=body, headers=headers) == 503
        )
    assert exchange(connection, "GET", "/api/v1/public/results") == 200

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(api.routes.reflections, "reflection_view", broken)
    body = f'{{"description": "Ổ gà {uuid.uuid4().hex}", "address": "Lê Lợi"}}'.encode()
    headers = {"Content-Type": "application/json"}
    assert exchange(connection, "POST", "/api/v1/reflections", body=body, headers=headers) == 500
    assert exchange(connection, "GET", "/healthz") == 200
    assert connection.sock is socket_before  # the same connection all along
    connection.close()


def test_a_command_that_cannot_reach_the_database_says_so_in_one_line() -> None:
    url = refused_url()
    result = subprocess.run(
        [str(REPO / ".venv" / "bin" / "reflections"), "outbox", "list"],
        env=os.environ | {"REFLECTIONS_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    masked = url.replace("hunter2", "***")
    assert masked in lines[0] and "refused" in lines[0].lower()
    assert "hunter2" not in result.stderr + result.stdout


def test_health_of_a_ready_service(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "alive"}
    with configured(outbox_stuck_seconds=0):  # other tests leave undelivered messages
        ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "outbox": "ok"}}


def test_readiness_needs_prefect_when_flows_run_here(client: TestClient) -> None:
    url = f"http://127.0.0.1:{free_port()}/api/health"
    with configured(prefect_health_url=url, outbox_stuck_seconds=0):
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {
        "database": "ok",
        "outbox": "ok",
        "prefect": ready.json()["checks"]["prefect"],
    }
    assert "unreachable" in ready.json()["checks"]["prefect"]


def test_readiness_fails_while_the_outbox_is_stuck(client: TestClient, session: Session) -> None:
    """A message due long ago and not delivered: no dispatcher is running. (Older than any
    other test's messages, which the dispatcher of this suite never delivers.)"""
    from datetime import UTC, datetime

    from reflections.models import OutboxMessage

    twenty_years = 20 * 365 * 86400
    with configured(outbox_stuck_seconds=twenty_years):
        assert client.get("/readyz").json()["checks"]["outbox"] == "ok"
    long_ago = datetime(1990, 1, 1, tzinfo=UTC)
    row = OutboxMessage(
        kind="received",
        channel="email",
        recipient="stuck@example.org",
        language="vi",
        next_attempt_at=long_ago,
        created_at=long_ago,
        idempotency_key=f"stuck-{uuid.uuid4().hex}",
    )
    session.add(row)
    session.commit()
    try:
        with configured(outbox_stuck_seconds=twenty_years):
            stuck = client.get("/readyz")
        assert stuck.status_code == 503
        assert stuck.json()["checks"]["outbox"].startswith("stuck: a message due")
    finally:
        session.delete(row)
        session.commit()
