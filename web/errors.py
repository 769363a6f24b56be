"""Errors on pages are pages: the same refusals the API answers with problem+json, in HTML.

Handlers are installed over the API's: a request under ``/api`` or ``/open311`` still gets
problem+json, any other path a page in the visitor's language with the same status code.
"""

import re
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
    RateLimited,
    TooManyAttempts,
)
from reflections.organisation.auth import InvalidCredentials
from reflections.platform.settings import get_settings
from web.i18n import Translator
from web.session import START_PAGE, CsrfFailed, LoginRequired
from web.templating import render, translator

Handler = Callable[[Request, Exception], Awaitable[Response]]
API_PREFIXES = ("/api/", "/open311/")

STATUS: list[tuple[type[Exception], int]] = [
    (InvalidCredentials, 401),
    (NotFound, 404),
    (Forbidden, 403),
    (CsrfFailed, 403),
    (EventNotAllowed, 409),
    (Conflict, 409),
    (TooManyAttempts, 429),
    (GuardFailed, 422),
    (InvalidInput, 422),
    (RequestValidationError, 422),
    (RateLimited, 429),
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


_CONSOLE_ITEM = re.compile(r"^/console/reflections/([A-Za-z0-9]{4}-[A-Za-z0-9]{4})(?:/|$)")
_ACTION = re.compile(r"^/console/reflections/([A-Za-z0-9]{4}-[A-Za-z0-9]{4})/([a-z_]+)$")
DRAFT_PREFIX = "draft."


def error_page(request: Request, error: Exception) -> Response:
    """The status in the page's language, and a way back: staff to the reflection or their
    list, everyone else to the home page. The API's English detail stays in the API."""
    status = status_of(error)
    context: dict[str, object] = {"status": status, "detail": ""}
    if request.url.path.startswith("/console") or request.url.path == "/login":
        found = _CONSOLE_ITEM.match(request.url.path)
        if found and status != 404:
            context["back_code"] = found.group(1).upper()
        staff = getattr(request.state, "staff", None)
        context["back_list"] = START_PAGE.get(staff.role, "/console") if staff else "/console"
    if isinstance(error, RateLimited):
        context["detail"] = rate_limit_sentence(translator(request), error)
    page = render(request, "error.html", context, status)
    if status == 503:
        page.headers["Retry-After"] = str(get_settings().retry_after_seconds)
    if isinstance(error, RateLimited):
        page.headers["Retry-After"] = str(error.retry_after)
    return page


def rate_limit_sentence(t: Translator, error: RateLimited) -> str:
    """What was refused and how long to wait, in the page's language (whole minutes)."""
    minutes = max(1, -(-error.retry_after // 60))
    return t(f"error.{error.code}", minutes=minutes)


async def _to_login(request: Request, _error: Exception) -> Response:
    """No staff session (never logged in, or it ended): the log-in form. A form sent when the
    session had ended comes along in the log-in form (``draft.*``), and after logging in the
    reflection's page shows it again as typed (``web/routes/home.py``)."""
    found = _ACTION.match(request.url.path)
    if request.method == "POST" and found:
        form = await request.form()
        draft = {
            key: value
            for key, value in form.items()
            if isinstance(value, str) and key not in ("csrf",) and len(value) <= 5000
        }
        context = {
            "next": f"/console/reflections/{found.group(1).upper()}",
            "resume": request.url.path,
            "draft": draft,
            "expired": True,
        }
        return render(request, "login.html", context, 401)
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
