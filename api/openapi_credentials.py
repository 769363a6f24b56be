"""The credentials in the OpenAPI document: the bearer token's scheme and the citizen's and the
service client's key headers, on every operation whose route reads them.

:class:`api.deps.Credentials` reads them from the headers instead of declaring them as
FastAPI parameters (issue 18), so FastAPI no longer finds them on its own. They are added
here to the document FastAPI builds, as it would have written them, so that the docs' "Authorize"
button, the clients generated from the schema and Schemathesis see what the API accepts.
"""

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.encoders import jsonable_encoder
from fastapi.routing import APIRoute, iter_route_contexts

from api import deps

SCHEME = deps.oauth2.scheme_name
# Reading these headers makes an operation accept a staff token alone, or any of the three.
_TOKEN_ONLY = (deps.staff_user,)
_ANY_CREDENTIAL = (deps.caller, deps.optional_caller)


def _header(name: str, description: str) -> dict[str, Any]:
    schema = {"anyOf": [{"type": "string"}, {"type": "null"}], "title": name.title()}
    return {
        "name": name,
        "in": "header",
        "required": False,
        "schema": {**schema, "description": description},
        "description": description,
    }


KEY_HEADERS = (
    _header(deps.CITIZEN_KEY_HEADER, deps.CITIZEN_KEY_DESCRIPTION),
    _header(deps.API_KEY_HEADER, deps.API_KEY_DESCRIPTION),
)


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def _document(operation: dict[str, Any], calls: set[Any]) -> None:
    if calls.isdisjoint((*_TOKEN_ONLY, *_ANY_CREDENTIAL)):
        return
    security = operation.setdefault("security", [])
    if {SCHEME: []} not in security:
        security.append({SCHEME: []})
    if not calls.isdisjoint(_ANY_CREDENTIAL):
        parameters = operation.setdefault("parameters", [])
        known = {(p.get("name"), p.get("in")) for p in parameters}
        parameters.extend(h for h in KEY_HEADERS if (h["name"], "header") not in known)


def install(app: FastAPI) -> None:
    """Wrap ``app.openapi``: each document FastAPI builds (again when routes were added) is
    completed once."""
    build = app.openapi
    completed: dict[str, Any] | None = None

    def openapi() -> dict[str, Any]:
        nonlocal completed
        document = build()
        if document is not completed:
            _complete(app, document)
            completed = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _complete(app: FastAPI, document: dict[str, Any]) -> None:
    # Each route as FastAPI documents it: an included router's dependencies added.
    for context in iter_route_contexts(app.routes):
        route: Any = context
        if not isinstance(context.original_route, APIRoute) or not route.include_in_schema:
            continue
        calls = set(_calls(route.dependant))
        operations = document.get("paths", {}).get(route.path_format, {})
        for method in route.methods:
            if method.lower() in operations:
                _document(operations[method.lower()], calls)
    schemes = document.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes.setdefault(
        SCHEME, jsonable_encoder(deps.oauth2.model, by_alias=True, exclude_none=True)
    )
