"""JSON and XML bodies, and every error in the GeoReport v2 error format.

Open311 clients parse ``[{code, description}]`` / ``<errors>``, not problem+json, so
:class:`Open311Route` answers its own routes' refusals before the app-wide handlers see them.
"""

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Coroutine, Sequence
from enum import StrEnum
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.open311.schemas import Error
from reflections.errors import DomainError, Forbidden, InvalidInput, NotFound, RateLimited
from reflections.organisation.auth import InvalidCredentials

JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
# Element names of the items of nested lists (the Spark convention maps them back to JSON).
_ITEM_NAMES = {"attributes": "attribute", "values": "value"}
# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Domain field names, as the Open311 parameters that carried them.
_PARAMETER_NAMES = {
    "latitude": "lat",
    "longitude": "long",
    "administrative_unit_id": "address_id",
    "address": "address_string",
}


class Format(StrEnum):
    JSON = "json"
    XML = "xml"


class Open311Error(Exception):
    """A refusal with its HTTP status; ``code`` in the body is the same number."""

    def __init__(self, status: int, description: str) -> None:
        self.status, self.description = status, description
        super().__init__(description)


def render(
    fmt: Format, payload: BaseModel | Sequence[BaseModel], root: str, item: str, status: int = 200
) -> Response:
    """A list renders as ``<root><item>…</item></root>``; a single model as ``<root>…</root>``."""
    if isinstance(payload, BaseModel):
        data: Any = payload.model_dump(mode="json")
    else:
        data = [entry.model_dump(mode="json") for entry in payload]
    if fmt is Format.JSON:
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        return Response(body, status_code=status, media_type=JSON_TYPE)
    element = ET.Element(root)
    if isinstance(data, list):
        for entry in data:
            _fill(ET.SubElement(element, item), entry)
    else:
        _fill(element, data)
    body = XML_DECLARATION + ET.tostring(element, encoding="unicode").encode()
    return Response(body, status_code=status, media_type=XML_TYPE)


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for name, child in value.items():
            _fill(ET.SubElement(element, name), child)
    elif isinstance(value, list):
        for child in value:
            _fill(ET.SubElement(element, _ITEM_NAMES.get(element.tag, "item")), child)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = _NOT_XML.sub("", str(value))


def errors(fmt: Format, status: int, descriptions: Sequence[str]) -> Response:
    items = [Error(code=status, description=text) for text in descriptions]
    return render(fmt, items, "errors", "error", status)


def error_for(fmt: Format, error: Exception) -> Response | None:
    """The Open311 answer to a refusal; None for unexpected failures (the app's 500 handler)."""
    if isinstance(error, RateLimited):
        answer = errors(fmt, 429, [error.detail])
        answer.headers["Retry-After"] = str(error.retry_after)
        return answer
    if isinstance(error, Open311Error):
        return errors(fmt, error.status, [error.description])
    if isinstance(error, RequestValidationError):
        return errors(fmt, 400, [_validation_text(e) for e in error.errors()])
    if isinstance(error, InvalidInput):
        name = _PARAMETER_NAMES.get(error.field, error.field)
        return errors(fmt, 400, [f"{name}: {error.reason}"])
    if isinstance(error, InvalidCredentials | Forbidden):
        return errors(fmt, 403, [str(error)])
    if isinstance(error, NotFound):
        return errors(fmt, 404, [str(error)])
    if isinstance(error, DomainError):
        return errors(fmt, 400, [str(error)])
    if isinstance(error, StarletteHTTPException):
        return errors(fmt, error.status_code, [str(error.detail)])
    return None


def _validation_text(error: Any) -> str:
    location = [
        str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "header")
    ]
    return f"{'.'.join(location) or 'request'}: {error.get('msg', 'is invalid')}"


def request_format(request: Request) -> Format:
    """The format the URL asked for; JSON when it named none we know (errors only)."""
    return Format.XML if request.path_params.get("format") == Format.XML else Format.JSON


class Open311Route(APIRoute):
    """Answers validation and domain errors of its endpoint in the Open311 error format."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def open311_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as error:
                response = error_for(request_format(request), error)
                if response is None:
                    raise
                return response

        return open311_handler


def documented(
    model: Any, description: str, *statuses: int, success: int = 200
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses: the model as JSON or a string as XML, and the errors in both."""
    xml = {"text/xml": {"schema": {"type": "string"}}}
    error_text = {
        400: "Invalid request (a missing or malformed parameter).",
        403: "Missing, invalid or revoked api_key.",
        404: "No such service or service request.",
        429: "Too many submissions naming this contact: wait the seconds in Retry-After.",
    }
    responses: dict[int | str, dict[str, Any]] = {
        success: {"model": model, "description": description, "content": xml}
    }
    for status in (400, *statuses):
        responses[status] = {
            "model": list[Error],
            "description": error_text[status],
            "content": xml,
        }
    responses["4XX"] = {
        "model": list[Error],
        "content": xml,
        "description": "Any other refusal, in the same error format.",
    }
    return responses
