"""Adding the web console to the FastAPI application."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from web import errors
from web.routes import (
    admin_calendar,
    audit,
    citizen,
    console,
    console_actions,
    console_reflection,
    home,
    public,
)
from web.session import renew_staff_cookie

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    errors.install(app)
    app.middleware("http")(renew_staff_cookie)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    pages = (home, citizen, console, console_reflection, console_actions, audit, public)
    for module in (*pages, admin_calendar):
        app.include_router(module.router)
