"""The API as a FastAPI application; ``runtime.asgi`` adds the pages to it."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text

from api import faults, idempotency, metrics, open311, problems, readiness, unit_of_work
from api.boundary import RequestBoundary
from api.limits import BodySizeLimit
from api.routes import (
    access,
    actions,
    admin,
    audit,
    auth,
    duplicates,
    exports,
    inboxes,
    preferences,
    public,
    reflections,
    reports,
    twilio_status,
)
from reflections.platform import logs
from reflections.platform.db import get_engine
from reflections.platform.settings import get_settings


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
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
    )
    app.state.readiness = readiness.Readiness()
    problems.install(app)
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
    for module in (
        auth,
        reflections,
        actions,
        duplicates,
        inboxes,
        preferences,
        open311,
        admin,
        twilio_status,
        exports,
        access,
        public,
        reports,
        audit,
        readiness,
        metrics,
    ):
        app.include_router(module.router)

    @app.get("/api/v1/health", tags=["operations"])
    def health() -> dict[str, str]:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"status": "ok", "database": "ok"}

    return app
