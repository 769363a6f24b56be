"""The API's worker threads against its connection pool (issue 18): connections beyond the
pool are closed when given back, so a load above the pool would open and close them by the
hundred (a PostgreSQL backend forked each time)."""

import asyncio
import time
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
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
