"""The API's worker threads against its connection pool (issue 18): connections beyond the
pool are closed when given back, so a load above the pool would open and close them by the
hundred (a PostgreSQL backend forked each time)."""

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from psycopg import pq
from sqlalchemy import event

import api.routes.reflections
import api.views
from reflections.platform.db import get_engine
from tests.api_helpers import submit
from tests.test_faults import configured


def test_a_load_above_the_pool_opens_no_connection_beyond_it(
    app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    submitted = submit(client)
    code, key = submitted["tracking_code"], submitted["citizen_key"]
    real_view = api.views.reflection_view

    def slow_view(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.05)  # every request holds its connection a while, all at once
        return real_view(*args, **kwargs)

    monkeypatch.setattr(api.routes.reflections, "reflection_view", slow_view)
    with configured(database_pool_size=2, database_max_overflow=10):
        opened: list[object] = []
        event.listen(get_engine(), "connect", lambda *_: opened.append(1))

        async def twelve_reads() -> list[int]:
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://city") as http:
                    answers = await asyncio.gather(
                        *(
                            http.get(f"/api/v1/reflections/{code}", headers={"X-Citizen-Key": key})
                            for _ in range(12)
                        )
                    )
            return [answer.status_code for answer in answers]

        assert asyncio.run(twelve_reads()) == [200] * 12
        assert 1 <= len(opened) <= 2


@pytest.mark.postgres
def test_a_citizens_read_sends_no_begin_and_leaves_the_connection_transactional(
    client: TestClient,
) -> None:
    """A read on PostgreSQL runs outside a transaction (no BEGIN, no ROLLBACK: two round trips
    less, issue 18); the pooled connection goes back to transactions for whoever takes it next,
    so a submission's rows are still written and committed together."""
    submitted = submit(client)
    code, key = submitted["tracking_code"], submitted["citizen_key"]
    seen: list[tuple[str, bool]] = []

    def record(connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        status = connection.connection.driver_connection.info.transaction_status
        seen.append((statement.split()[0], status is pq.TransactionStatus.INTRANS))

    with configured(database_pool_size=1, database_max_overflow=0):
        event.listen(get_engine(), "after_cursor_execute", record)
        read = client.get(f"/api/v1/reflections/{code}", headers={"X-Citizen-Key": key})
        assert read.status_code == 200 and read.json()["tracking_code"] == code
        reads, seen[:] = list(seen), []
        assert reads and not any(in_transaction for _, in_transaction in reads)

        again = submit(client)  # the same single connection
        writes = [in_transaction for verb, in_transaction in seen if verb == "INSERT"]
        assert writes and all(writes)
        reread = client.get(
            f"/api/v1/reflections/{again['tracking_code']}",
            headers={"X-Citizen-Key": again["citizen_key"]},
        )
        assert reread.status_code == 200


def test_a_burst_of_keyed_submissions_above_the_pool_waits_its_turn_without_failing(
    app: FastAPI,
) -> None:
    """A keyed request holds its connection from the key's check to the commit, across trips
    to the thread pool. A burst of more such requests than connections once left every worker
    thread waiting for a connection while the requests holding one waited for a thread: all
    stood still until the pool's timeout, then 503s. Requests now wait for a connection before
    they take a thread, so the burst is served in turn."""
    body = {
        "description": "Đèn đường hỏng trước số 12 Lê Lợi, cả đoạn tối om",
        "address": "12 Lê Lợi, Phú Xuân, Huế",
    }
    with configured(database_pool_size=2, database_max_overflow=0, database_pool_timeout_seconds=2):

        async def burst() -> list[int]:
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://city") as http:
                    answers = await asyncio.gather(
                        *(
                            http.post(
                                "/api/v1/reflections",
                                json=body,
                                headers={"Idempotency-Key": f"burst-{uuid.uuid4()}"},
                            )
                            for _ in range(8)
                        )
                    )
            return [answer.status_code for answer in answers]

        assert asyncio.run(burst()) == [201] * 8
