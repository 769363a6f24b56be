"""Honest answers when the database cannot give one (DESIGN.md §10, "faults are honest").

A refused or lost connection, a timeout (connecting, a statement, a lock, the pool) or SQLite's
write lock held too long is a 503 problem with ``Retry-After``: the request was not completed
and may be sent again (with the same ``Idempotency-Key`` when it changes something).
"""

import logging
from collections.abc import MutableMapping
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import exc

from api.problems import problem
from reflections.platform.db import DATABASE_FAULTS, describe_failure
from reflections.platform.settings import get_settings

FAULTS = DATABASE_FAULTS
log = logging.getLogger("reflections.faults")


def is_fault(error: BaseException) -> bool:
    if isinstance(error, FAULTS):
        return True
    return isinstance(error, exc.DBAPIError) and error.connection_invalidated


describe = describe_failure


def refusal(
    path: str,
    status: int,
    detail: str,
    kind: str,
    headers: dict[str, str] | None = None,
    field: str | None = None,
) -> Response:
    """A refusal answered outside a route's own handling: problem+json, or on the Open311 paths
    the GeoReport error list its clients parse (JSON or XML, as the path asks)."""
    if path.startswith("/open311/"):
        from api.open311.render import Format, errors  # the routes import this module

        response = errors(Format.XML if path.endswith(".xml") else Format.JSON, status, [detail])
        response.headers.update(headers or {})
        return response
    extra = {"errors": [{"field": field, "reason": detail}]} if field else {}
    return problem(status, detail, kind, headers, **extra)


def unavailable(path: str, detail: str | None = None) -> Response:
    seconds = get_settings().retry_after_seconds
    return refusal(
        path,
        503,
        detail
        or "the database cannot answer now; the request was not completed. "
        f"Retry in {seconds} s (with the same Idempotency-Key if it changes something).",
        "service-unavailable",
        {"Retry-After": str(seconds)},
    )


async def app_answer(scope: MutableMapping[str, Any], error: Exception) -> Response:
    """The app's own answer to ``error`` (a page on web paths, problem+json on the API), for
    middleware, which runs outside the app's exception handling."""
    handlers = getattr(scope.get("app"), "exception_handlers", {})
    for kind in type(error).__mro__:
        if kind in handlers:
            response = await handlers[kind](Request(scope), error)
            assert isinstance(response, Response)
            return response
    if is_fault(error):
        return unavailable(scope["path"])
    return refusal(scope["path"], 500, "internal error; the failure has been logged", "error")


async def handle(request: Request, error: Exception) -> Response:
    log.warning("database fault on %s %s: %s", request.method, request.url.path, describe(error))
    return unavailable(request.url.path)
