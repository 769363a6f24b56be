"""Errors on pages are pages: the same refusals the API answers with problem+json, in HTML.

Handlers are installed over the API's: a request under ``/api`` or ``/open311`` still gets
problem+json, any other path a page in the visitor's language with the same status code.
"""

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import faults
from api.readiness import NotReady
from reflections.errors import (
    Conflict,
    EventNotAllowed,
    Forbidden,
    GuardFailed,
    InvalidInput,
    NotFound,
)
from reflections.organisation.auth import InvalidCredentials
from reflections.platform.settings import get_settings
from web.session import CsrfFailed, LoginRequired
from web.templating import render

Handler = Callable[[Request, Exception], Awaitable[Response]]
API_PREFIXES = ("/api/", "/open311/")

STATUS: list[tuple[type[Exception], int]] = [
    (InvalidCredentials, 401),
    (NotFound, 404),
    (Forbidden, 403),
    (CsrfFailed, 403),
    (EventNotAllowed, 409),
    (Conflict, 409),
    (GuardFailed, 422),
    (InvalidInput, 422),
    (RequestValidationError, 422),
    (NotReady, 503),
    *((fault, 503) for fault in faults.FAULTS),
]


def status_of(error: Exception) -> int:
    if isinstance(error, StarletteHTTPException):
        return error.status_code
    return next((code for kind, code in STATUS if isinstance(error, kind)), 500)


def message_of(error: Exception) -> str:
    if isinstance(error, RequestValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'form'}: {e.get('msg', '')}"
            for e in error.errors()
        )
    if isinstance(error, StarletteHTTPException):
        return str(error.detail)
    return str(error)


def error_page(request: Request, error: Exception) -> Response:
    status = status_of(error)
    detail = message_of(error) if status < 500 else ""
    page = render(request, "error.html", {"status": status, "detail": detail}, status)
    if status == 503:
        page.headers["Retry-After"] = str(get_settings().retry_after_seconds)
    return page


async def _to_login(request: Request, _error: Exception) -> Response:
    target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return RedirectResponse(f"/login?next={target}", status_code=303)


def _either(api_handler: Handler | None) -> Handler:
    async def handle(request: Request, error: Exception) -> Response:
        if api_handler is not None and request.url.path.startswith(API_PREFIXES):
            return await api_handler(request, error)
        return error_page(request, error)

    return handle


def install(app: FastAPI) -> None:
    app.add_exception_handler(LoginRequired, _to_login)
    app.add_exception_handler(CsrfFailed, _either(None))
    kinds: list[type[Exception]] = [kind for kind, _ in STATUS if kind is not CsrfFailed]
    for kind in [*kinds, StarletteHTTPException, Exception]:
        api_handler = app.exception_handlers.get(kind)
        app.add_exception_handler(kind, _either(api_handler))  # type: ignore[arg-type]
