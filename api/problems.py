"""Every error as RFC 9457 problem details (``application/problem+json``)."""

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

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
from reflections.organisation.validity import UnitNotInForce

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://reflections.example/problems/"


_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "what_to_do": {
            "type": "string",
            "description": "401 and 403: how to log in, or who may do this.",
        },
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "reason"],
                "properties": {
                    "field": {"type": "string"},
                    "reason": {"type": "string"},
                    "successor": {
                        "type": "string",
                        "description": "Code of the unit in force that took this one's place.",
                    },
                },
            },
        },
        "state": {"type": "string"},
        "stage": {"type": ["string", "null"]},
        "allowed_events": {"type": "array", "items": {"type": "string"}},
    },
}
_COMMON = {
    400: "The body could not be parsed.",
    401: "No credentials, or invalid or expired ones.",
    403: "The caller's role may not do this.",
    404: "Nothing by that name that the caller may see.",
    409: "Not allowed in the current state, or a stale If-Match version.",
    413: "The body is too large.",
    422: "Invalid input; `errors` names each field.",
}
# Said only by the routes that count tries (submissions, log-in): see problem_responses(429, ..).
TOO_MANY = (429, "Too many tries: wait the seconds in `Retry-After`.")


def problem_responses(*overrides: int | str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problems a route may answer; pairs of (status, description)
    replace the common descriptions."""
    descriptions: dict[int, str] = dict(_COMMON)
    pairs = iter(overrides)
    for status, description in zip(pairs, pairs, strict=True):
        descriptions[int(status)] = str(description)
    return {
        status: {
            "description": description,
            "content": {PROBLEM_JSON: {"schema": _PROBLEM_SCHEMA}},
        }
        for status, description in descriptions.items()
    }


def problem(
    status: int,
    detail: str,
    kind: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    phrase = HTTPStatus(status).phrase
    body = {
        "type": PROBLEM_BASE + (kind or phrase.lower().replace(" ", "-")),
        "title": phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field(location: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(part) for part in location if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def _validation(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [
        {"field": _field(e.get("loc", ())), "reason": e.get("msg", "")} for e in error.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
    return problem(422, detail, "validation-error", errors=errors)


async def _http(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    headers = dict(error.headers) if error.headers else None
    advice = {401: LOG_IN, 403: ASK}.get(error.status_code)
    if advice is not None:
        return problem(error.status_code, str(error.detail), headers=headers, what_to_do=advice)
    return problem(error.status_code, str(error.detail), headers=headers)


# What to do next, in every 401 and 403 body (``what_to_do``): how to prove who you are, or
# who may do what you asked. The ``detail`` says what was wrong, in our words, never a JWT or
# validation library's message.
LOG_IN = (
    "Staff: log in with POST /api/v1/auth/token (username, password) and send "
    "'Authorization: Bearer <access_token>'; log in again when it expires. Citizens: send the "
    "X-Citizen-Key you received with your first reflection. Service clients: send X-API-Key."
)
ASK = (
    "Your role or unit may not do this. Do it as a user whose role allows it, or ask a "
    "coordinator or an administrator."
)


async def _domain(_request: Request, error: Exception) -> JSONResponse:
    if isinstance(error, InvalidCredentials):
        return problem(
            401, str(error), "unauthorized", {"WWW-Authenticate": "Bearer"}, what_to_do=LOG_IN
        )
    if isinstance(error, RateLimited):
        retry = {"Retry-After": str(error.retry_after)}
        return problem(429, error.detail, "too-many-requests", retry, code=error.code)
    if isinstance(error, NotFound):
        return problem(404, str(error))
    if isinstance(error, Forbidden):
        return problem(403, str(error), what_to_do=ASK)
    if isinstance(error, EventNotAllowed):
        return problem(
            409,
            str(error),
            "event-not-allowed",
            state=error.state,
            stage=error.stage,
            allowed_events=[str(e) for e in error.allowed],
        )
    if isinstance(error, Conflict):
        return problem(409, str(error), "conflict")
    if isinstance(error, TooManyAttempts):
        wait = (
            {"Retry-After": str(error.retry_after_seconds)} if error.retry_after_seconds else None
        )
        return problem(429, error.reason, "too-many-requests", wait, code=error.code)
    if isinstance(error, GuardFailed):
        return problem(
            422,
            str(error),
            "validation-error",
            errors=[{"field": error.field, "reason": error.reason}],
        )
    if isinstance(error, InvalidInput):
        entry = {"field": error.field, "reason": error.reason}
        if isinstance(error, UnitNotInForce) and error.successor:
            entry["successor"] = error.successor  # the unit to name instead
        return problem(422, str(error), "validation-error", errors=[entry])
    return problem(500, "internal error")


async def _unstorable(_request: Request, _error: Exception) -> JSONResponse:
    # PostgreSQL refuses some text SQLite takes (a NUL byte, for one): still the caller's input.
    return problem(
        422,
        "the input holds characters that cannot be stored (e.g. NUL)",
        "validation-error",
        errors=[{"field": "body", "reason": "unstorable text"}],
    )


async def _unexpected(_request: Request, _error: Exception) -> JSONResponse:
    return problem(500, "internal error; the failure has been logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    for error in (
        InvalidCredentials,
        NotFound,
        Forbidden,
        EventNotAllowed,
        Conflict,
        GuardFailed,
        InvalidInput,
        RateLimited,
        TooManyAttempts,
    ):
        app.add_exception_handler(error, _domain)
    app.add_exception_handler(DataError, _unstorable)
    app.add_exception_handler(Exception, _unexpected)
