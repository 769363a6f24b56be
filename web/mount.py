"""Adding the web console to the FastAPI application."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from web import errors, too_large
from web.routes import (
    admin_calendar,
    admin_canned,
    admin_lockouts,
    audit,
    citizen,
    console,
    console_actions,
    console_queue,
    console_reflection,
    home,
    public,
    public_map,
    sign_in,
    stop,
)
from web.session import RenewStaffCookie

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    errors.install(app)
    too_large.install(app)
    app.add_middleware(RenewStaffCookie)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    modules = (home, citizen, console_queue, console, console_reflection, console_actions)
    for module in (
        *modules,
        admin_calendar,
        admin_canned,
        admin_lockouts,
        audit,
        public,
        public_map,
        sign_in,
        stop,
    ):
        app.include_router(module.router)
