"""Liveness, readiness, and starting while the database is away.

``/healthz`` answers as long as the process serves HTTP. ``/readyz`` answers 200 only when the
database is reachable and at the newest migration, the local Prefect API answers (when flows
run here: ``REFLECTIONS_PREFECT_HEALTH_URL``) and no message has waited for delivery longer
than ``REFLECTIONS_OUTBOX_STUCK_SECONDS``; otherwise 503 with what is wrong, so a load balancer
sends traffic elsewhere. A process started while the database is unreachable (or not migrated)
keeps serving both, answers everything else 503 with Retry-After, and tries again with backoff
(1 s doubling to 30 s), saying so in its log, until it can serve.
"""

import asyncio
import logging
import urllib.request
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import anyio
from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlmodel import Session

from api import faults
from reflections.oversight.service_figures import oldest_due_message_seconds
from reflections.platform import clock
from reflections.platform.db import get_engine, masked_url
from reflections.platform.migrate import DatabaseNotMigrated, ensure_migrated
from reflections.platform.settings import get_settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ALWAYS_ANSWERED = ("/healthz", "/readyz", "/metrics")
CHECK_TIMEOUT_SECONDS = 3.0
MAX_BACKOFF_SECONDS = 30.0
log = logging.getLogger("reflections.readiness")
router = APIRouter(include_in_schema=False)


class NotReady(Exception):
    """The process cannot serve yet; the message says why."""


@dataclass
class Readiness:
    """Whether this process is still waiting for its database since it started (only when the
    start-up check failed: an app served without a lifespan is not held back)."""

    waiting: bool = False
    reason: str = ""


def check_database() -> None:
    """Reachable and at the newest migration, or raise saying which."""
    ensure_migrated(get_engine())


def why_not(error: Exception) -> str:
    if isinstance(error, DatabaseNotMigrated):
        return str(error)
    return f"database {masked_url()} unreachable ({faults.describe(error)})"


async def start(readiness: Readiness) -> asyncio.Task[None] | None:
    """Try the database once; if it is not usable yet, keep trying in the background."""
    try:
        await to_thread.run_sync(check_database)
    except Exception as error:
        if not (faults.is_fault(error) or isinstance(error, DatabaseNotMigrated)):
            raise
        readiness.waiting, readiness.reason = True, why_not(error)
        log.warning("not ready, waiting: %s", readiness.reason)
        return asyncio.create_task(_keep_trying(readiness))
    return None


async def _keep_trying(readiness: Readiness) -> None:
    delay = 1.0
    while True:
        await anyio.sleep(delay)
        try:
            await to_thread.run_sync(check_database)
        except Exception as error:
            readiness.reason = why_not(error)
            delay = min(delay * 2, MAX_BACKOFF_SECONDS)
            log.warning("not ready, trying again in %.0f s: %s", delay, readiness.reason)
            continue
        readiness.waiting, readiness.reason = False, ""
        log.info("database %s reachable and migrated: ready", masked_url())
        return


class ReadinessGate:
    """Middleware: until the database was found usable, everything but the health endpoints
    and metrics is a 503 with Retry-After."""

    def __init__(self, app: ASGIApp, readiness: Readiness) -> None:
        self.app, self.readiness = app, readiness

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and self.readiness.waiting
            and scope["path"] not in ALWAYS_ANSWERED
        ):
            response = await faults.app_answer(scope, NotReady(self.readiness.reason))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def not_ready(request: Request, error: Exception) -> Response:
    return faults.unavailable(request.url.path, f"not ready: {error}")


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive and serving HTTP."""
    return {"status": "alive"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    readiness: Readiness = request.app.state.readiness
    checks = {"database": await _bounded(_database)}
    if checks["database"] == "ok":
        checks["outbox"] = await _bounded(_outbox)
    url = get_settings().prefect_health_url
    if url:
        checks["prefect"] = await _bounded(lambda: _prefect(url))
    ready = not readiness.waiting and all(value == "ok" for value in checks.values())
    body = {"status": "ready" if ready else "not ready", "checks": checks}
    if readiness.waiting:
        body["starting"] = readiness.reason
    return JSONResponse(body, status_code=200 if ready else 503)


async def _bounded(check: Callable[[], str]) -> str:
    """A check's verdict within CHECK_TIMEOUT_SECONDS, however stalled what it asks is."""
    try:
        with anyio.fail_after(CHECK_TIMEOUT_SECONDS):
            return await to_thread.run_sync(check, abandon_on_cancel=True)
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_SECONDS:.0f} s"
    except Exception as error:
        return why_not(error)


def _database() -> str:
    with Session(get_engine()) as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SET LOCAL statement_timeout = 2000"))
        session.execute(text("SELECT 1"))
    check_database()
    return "ok"


def _outbox() -> str:
    limit = get_settings().outbox_stuck_seconds
    if not limit:
        return "ok"
    with Session(get_engine()) as session:
        waited = oldest_due_message_seconds(session, clock.now())
    if waited > limit:
        return f"stuck: a message due {waited:.0f} s ago is not delivered (limit {limit} s)"
    return "ok"


def _prefect(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=CHECK_TIMEOUT_SECONDS - 0.5) as response:
            return "ok" if response.status == 200 else f"Prefect answered {response.status}"
    except OSError as error:
        return f"Prefect API {url} unreachable ({error})"
