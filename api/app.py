"""The API as a FastAPI application; ``runtime.asgi`` adds the pages to it."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import Depends, FastAPI
from sqlalchemy import text

from api import (
    faults,
    hygiene,
    idempotency,
    metrics,
    open311,
    openapi_credentials,
    problems,
    readiness,
    unit_of_work,
)
from api.boundary import RequestBoundary
from api.limits import BodySizeLimit
from api.problems import problem_responses
from api.routes import (
    access,
    actions,
    admin,
    audit,
    auth,
    citizen_sign_in,
    duplicates,
    exports,
    inboxes,
    nearby,
    preferences,
    public,
    reflections,
    reports,
    twilio_status,
)
from api.security import SecurityHeaders
from reflections.platform import logs
from reflections.platform.db import get_engine
from reflections.platform.settings import get_settings


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Every request's database work runs in a worker thread: no more threads than pooled
    # connections, or the connections beyond the pool are opened and closed again as the load
    # comes and goes (a PostgreSQL backend forked each time: issue 18). As many requests hold a
    # session at once; the overflow is left to the short side trips (rate-limit counters, the
    # log-in throttle, readiness, metrics).
    pooled = get_settings().database_pool_size
    to_thread.current_default_thread_limiter().total_tokens = pooled
    unit_of_work.limit_connections(pooled)
    # Serve at once; until the database is usable, /readyz says why and the rest answers 503.
    waiting = await readiness.start(app.state.readiness)
    purging = asyncio.create_task(idempotency.purge_periodically())
    try:
        yield
    finally:
        for task in (waiting, purging):
            if task is not None:
                task.cancel()


def create_api() -> FastAPI:
    """The API alone: routes, problem+json errors, body limits and the operational middleware
    (request line and metrics, readiness, a transaction per request) (no pages)."""
    settings = get_settings()
    logs.configure()
    app = FastAPI(
        title="Reflections",
        version="0.1.0",
        description="Citizen reflections: submission, lifecycle actions, inboxes and search.",
        lifespan=lifespan,
        dependencies=[Depends(hygiene.no_nul_in_url)],
    )
    hygiene.install()
    app.state.readiness = readiness.Readiness()
    problems.install(app)
    openapi_credentials.install(app)
    for fault in faults.FAULTS:
        app.add_exception_handler(fault, faults.handle)
    app.add_exception_handler(idempotency.AlreadyAnswered, unit_of_work.answered_meanwhile)
    app.add_exception_handler(readiness.NotReady, readiness.not_ready)
    # Innermost first: the transaction sees the body only after its size was checked.
    app.add_middleware(unit_of_work.TransactionalRequests)
    photos_bytes = settings.max_photos * settings.max_photo_bytes + settings.max_json_bytes
    app.add_middleware(
        BodySizeLimit, json_bytes=settings.max_json_bytes, multipart_bytes=photos_bytes
    )
    app.add_middleware(readiness.ReadinessGate, readiness=app.state.readiness)
    app.add_middleware(RequestBoundary)
    app.add_middleware(SecurityHeaders)  # outermost: on every answer, the boundary's too
    for module in (
        auth,
        reflections,
        actions,
        duplicates,
        inboxes,
        preferences,
        citizen_sign_in,
        open311,
        admin,
        twilio_status,
        exports,
        access,
        public,
        nearby,
        reports,
        audit,
        readiness,
        metrics,
    ):
        app.include_router(module.router)

    _document_operations(app)

    @app.get("/api/v1/health", tags=["operations"])
    def health() -> dict[str, str]:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"status": "ok", "database": "ok"}

    return app


def _document_operations(app: FastAPI) -> None:
    """What the middleware adds to every operation, in the OpenAPI document: the optional
    Idempotency-Key of a POST, and the 503 a database fault answers."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        unavailable = problem_responses(503, "The database cannot answer now; retry later.")
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                answer = dict(unavailable[503])
                if path.startswith("/open311/"):  # in the GeoReport error format
                    answer["content"] = responses.get("4XX", {}).get("content", {})
                responses.setdefault("503", answer)
                if method == "post":
                    operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY_PARAMETER)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


IDEMPOTENCY_KEY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "A new random key (e.g. a UUID) per request: sent again with the same body within "
        "24 h, the request is answered with its first answer instead of acting twice; with "
        "another body, 422."
    ),
    "schema": {"type": "string", "minLength": 16, "maxLength": 255, "pattern": "^[!-~]+$"},
}
