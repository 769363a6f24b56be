"""The API against its own OpenAPI schema, with Schemathesis generating the requests.

Every operation is called in-process (ASGI) on the session's migrated, seeded database with
generated data, valid and invalid, and each response must:

- not be a server error (5xx);
- carry a status code the schema documents for that operation;
- carry the content type the schema documents for that status code;
- match the documented response headers and body schema.

Four passes, each derandomized with few examples per operation, so the file stays short
(well under a minute) and repeatable in CI:

- as a logged-in coordinator: the schema's examples, the coverage phase's boundary and
  missing/invalid-value cases, and 10 random cases per operation;
- the same for multipart forms with 50 random cases, as their constraints are declared twice
  (on the form fields, then on the model they fill) and can drift apart;
- the admin operations as the coordinator, 5 random cases: the router refuses anyone but an
  admin before any handler runs, so only the refusal is to be checked;
- with no credentials at all, 5 random cases per operation.

The coordinator, not the admin, so that generated requests cannot change the seeded reference
data and users the rest of the suite relies on; they do add reflections, as other tests do.

The schema document is built at collection from a fresh ``create_app()`` (which touches no
database), so that each operation is its own test item, and the requests go to the ``app``
fixture. ``schemathesis.pytest.from_fixture`` would load it lazily instead, but in Schemathesis
4.32 that path fails under pytest 9.2 (it sets ``Function._nodeid``, which pytest 9.2 removed).
"""

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.filters import HasAPIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from reflections.platform.settings import get_settings
from tests.api_helpers import as_user

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
ADMIN_PATHS = r"^/api/v1/admin/"
# Log-out ends every session of the user (issue 13): fuzzed with the coordinator's token it
# would end the sessions other tests use meanwhile. Anonymous calls (401) still cover it.
LOGOUT = r"^/api/v1/auth/logout$"
Call = Case[Any]  # any OpenAPI operation
Decorator = Callable[[Callable[..., None]], Callable[..., None]]


def _document() -> dict[str, Any]:
    from runtime.asgi import create_app

    document = create_app().openapi()
    get_settings.cache_clear()  # read at collection; the fixtures configure their own
    return document


def _schema(document: dict[str, Any], *, coverage: bool) -> schemathesis.BaseSchema:
    phases = {
        # Boundary and missing/invalid-value cases of every parameter and body; not the
        # unsupported-method probes, which only meet Starlette's 405.
        "coverage": {"enabled": coverage, "unexpected-methods": []},
        "stateful": {"enabled": False},
    }
    config = schemathesis.Config.from_dict({"seed": 20261123, "phases": phases})
    return schemathesis.openapi.from_dict(document, config=config)


def _takes_form(ctx: HasAPIOperation) -> bool:
    # Filters see the raw definition only: the operation is not parsed yet.
    content = ctx.operation.definition.raw.get("requestBody", {}).get("content", {})
    return any(media_type.startswith("multipart/") for media_type in content)


def _examples(count: int) -> Decorator:
    return settings(
        max_examples=count,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


DOCUMENT = _document()
THOROUGH = _schema(DOCUMENT, coverage=True)
QUICK = _schema(DOCUMENT, coverage=False)
on_product: Decorator = (
    THOROUGH.exclude(path_regex=ADMIN_PATHS)
    .exclude(path_regex=LOGOUT)
    .exclude(_takes_form)
    .parametrize()
)
on_forms: Decorator = THOROUGH.exclude(path_regex=ADMIN_PATHS).include(_takes_form).parametrize()
on_admin: Decorator = QUICK.include(path_regex=ADMIN_PATHS).parametrize()
on_everything: Decorator = QUICK.parametrize()


@pytest.fixture(scope="module")
def coordinator(client: TestClient) -> dict[str, str]:
    return as_user(client, "coordinator")


@on_product
@_examples(10)
def test_as_coordinator(case: Call, app: FastAPI, coordinator: dict[str, str]) -> None:
    case.call_and_validate(headers=coordinator, checks=CHECKS, app=app)


@on_forms
@_examples(50)
def test_forms_as_coordinator(case: Call, app: FastAPI, coordinator: dict[str, str]) -> None:
    case.call_and_validate(headers=coordinator, checks=CHECKS, app=app)


@on_admin
@_examples(5)
def test_admin_refuses_coordinator(case: Call, app: FastAPI, coordinator: dict[str, str]) -> None:
    case.call_and_validate(headers=coordinator, checks=CHECKS, app=app)


@on_everything
@_examples(5)
def test_anonymous(case: Call, app: FastAPI) -> None:
    case.call_and_validate(checks=CHECKS, app=app)
