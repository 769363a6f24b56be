"""Adding the web console to the FastAPI application."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from web import errors
from web.routes import audit, citizen, console, home, public

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    errors.install(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (home, citizen, console, audit, public):
        app.include_router(module.router)
