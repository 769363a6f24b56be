"""The credentials a route reads from the headers (api.deps.Credentials) are still what the API
documents and what it accepts: the OpenAPI names them per operation, and the headers are read
as the declared parameters read them (any case of the scheme and the header names)."""

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api_helpers import as_citizen, submit, token

SCHEME: dict[str, list[str]] = {"OAuth2PasswordBearer": []}


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def _operation(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    operation: dict[str, Any] = document["paths"][path][method]
    return operation


def _headers(operation: dict[str, Any]) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}


def test_a_route_any_caller_may_use_documents_the_token_and_both_keys(
    document: dict[str, Any],
) -> None:
    read = _operation(document, "/api/v1/reflections/{tracking_code}", "get")
    assert read["security"] == [SCHEME]
    assert {"X-Citizen-Key", "X-API-Key"} <= _headers(read)
    key = next(p for p in read["parameters"] if p["name"] == "X-Citizen-Key")
    assert "one-time code" in key["description"] and key["required"] is False
    submission = _operation(document, "/api/v1/reflections", "post")
    assert submission["security"] == [SCHEME]
    assert {"X-Citizen-Key", "X-API-Key"} <= _headers(submission)


def test_staff_routes_document_the_token_alone_router_wide_ones_included(
    document: dict[str, Any],
) -> None:
    for path in ("/api/v1/inbox/coordinator", "/api/v1/admin/users"):
        operation = _operation(document, path, "get")
        assert operation["security"] == [SCHEME], path
        assert not {"X-Citizen-Key", "X-API-Key"} & _headers(operation), path


def test_routes_without_credentials_document_none(document: dict[str, Any]) -> None:
    token_route = _operation(document, "/api/v1/auth/token", "post")
    assert "security" not in token_route
    assert document["components"]["securitySchemes"]["OAuth2PasswordBearer"] == {
        "type": "oauth2",
        "flows": {"password": {"scopes": {}, "tokenUrl": "/api/v1/auth/token"}},
    }


def test_the_scheme_and_the_header_names_are_read_in_any_case(client: TestClient) -> None:
    bearer = token(client, "coordinator")
    assert client.get(
        "/api/v1/inbox/coordinator", headers={"authorization": f"bearer {bearer}"}
    ).is_success
    refused = client.get("/api/v1/inbox/coordinator", headers={"Authorization": f"Basic {bearer}"})
    assert refused.status_code == 401
    created = submit(client)
    read = client.get(
        f"/api/v1/reflections/{created['tracking_code']}",
        headers={"x-citizen-key": created["citizen_key"]},
    )
    assert read.status_code == 200
    assert read.json()["tracking_code"] == created["tracking_code"]


def test_a_wrong_key_beside_a_good_token_is_not_taken_for_the_token(client: TestClient) -> None:
    created = submit(client)
    path = f"/api/v1/reflections/{created['tracking_code']}"
    as_staff = {"Authorization": f"Bearer {token(client, 'coordinator')}"}
    both = client.get(path, headers={**as_staff, **as_citizen("not-a-key")})
    assert both.status_code == 200  # the token decides, as before
    assert client.get(path, headers=as_citizen("not-a-key")).status_code == 404
