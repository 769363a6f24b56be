"""The API as a FastAPI application; ``runtime.asgi`` adds the pages to it."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text

from api import open311, problems
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
from reflections.platform.db import get_engine
from reflections.platform.migrate import ensure_migrated
from reflections.platform.settings import get_settings


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    ensure_migrated(get_engine())  # refuse to serve an un-migrated database
    yield


def create_api() -> FastAPI:
    """The API alone: routes, problem+json errors and body limits (no pages)."""
    settings = get_settings()
    app = FastAPI(
        title="Reflections",
        version="0.1.0",
        description="Citizen reflections: submission, lifecycle actions, inboxes and search.",
        lifespan=lifespan,
    )
    problems.install(app)
    photos_bytes = settings.max_photos * settings.max_photo_bytes + settings.max_json_bytes
    app.add_middleware(
        BodySizeLimit, json_bytes=settings.max_json_bytes, multipart_bytes=photos_bytes
    )
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
    ):
        app.include_router(module.router)

    @app.get("/api/v1/health", tags=["operations"])
    def health() -> dict[str, str]:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"status": "ok", "database": "ok"}

    return app
