"""The FastAPI application."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text

from reflections.db import get_engine
from reflections.migrate import ensure_migrated


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    ensure_migrated(get_engine())  # refuse to serve an un-migrated database
    yield


def create_app() -> FastAPI:
    app = FastAPI(title="Reflections", version="0.1.0", lifespan=lifespan)

    @app.get("/api/v1/health", tags=["operations"])
    def health() -> dict[str, str]:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"status": "ok", "database": "ok"}

    return app


app = create_app()
