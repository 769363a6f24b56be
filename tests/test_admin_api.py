"""The admin API: CRUD of the organisation's data, refused to every role but admin.

The database is shared by the session, so every test makes its own rows under unique codes.
"""

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api_helpers import as_user, submit

ADMIN = "/api/v1/admin"
PROVINCE = "46"
WARD = "46.W19768"  # Phường Phú Xuân
NON_ADMINS = (
    "coordinator",
    "operator",
    "auditor",
    "handler.phuxuan",
    "handler.hepco",
    "supervisor.ioc",
    "supervisor.phuxuan",
)
POLICY = {
    "classify_minutes": 30,
    "accept_minutes": 60,
    "process_minutes": 600,
    "confirm_window_minutes": 10080,
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def admin(client: TestClient) -> dict[str, str]:
    return as_user(client, "admin")


def call(
    client: TestClient,
    method: str,
    path: str,
    headers: dict[str, str],
    expect: int,
    json: Any = None,
) -> Any:
    """One request to the admin API; the answer's JSON, after checking its status."""
    response = client.request(method, ADMIN + path, headers=headers, json=json)
    assert response.status_code == expect, response.text
    if expect == 204:
        return None
    if expect >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


def problem_field(body: dict[str, Any]) -> set[str]:
    return {error["field"] for error in body["errors"]}


def new_area(client: TestClient, admin: dict[str, str], parent: str = PROVINCE) -> str:
    code = unique("T")
    body = {
        "code": code,
        "name": "Phường Thử",
        "name_en": "Test Ward",
        "level": "commune",
        "kind": "phường",
        "parent": parent,
    }
    call(client, "POST", "/administrative-units", admin, 201, body)
    return code


def new_unit(client: TestClient, admin: dict[str, str], area: str = PROVINCE) -> str:
    code = unique("HU")
    body = {
        "code": code,
        "name": "Đội thử",
        "name_en": "Test team",
        "kind": "team",
        "administrative_unit": area,
    }
    call(client, "POST", "/handling-units", admin, 201, body)
    return code


def new_category(client: TestClient, admin: dict[str, str], code: str | None = None) -> str:
    code = code or unique("cat")
    body = {"code": code, "name_vi": "Thử", "name_en": "Test", "group": "test"}
    call(client, "POST", "/categories", admin, 201, body)
    return code


def walk(client: TestClient, admin: dict[str, str], path: str, limit: int) -> list[Any]:
    """Every item of a list, page by page, checking no page repeats an item."""
    items: list[Any] = []
    cursor: str | None = None
    separator = "&" if "?" in path else "?"
    while True:
        url = f"{path}{separator}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page = call(client, "GET", url, admin, 200)
        assert len(page["items"]) <= limit
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


# --- who may call ---------------------------------------------------------------------------


def admin_endpoints(app: FastAPI) -> list[tuple[str, str]]:
    """Every admin route, from the OpenAPI description (routers are included lazily)."""
    return [
        (method.upper(), path.replace("{", "").replace("}", ""))
        for path, operations in app.openapi()["paths"].items()
        if path.startswith(ADMIN)
        for method in operations
    ]


def test_admin_api_has_every_resource(app: FastAPI) -> None:
    paths = {path for _, path in admin_endpoints(app)}
    for resource in (
        "administrative-units",
        "handling-units",
        "categories",
        "step-policies",
        "routing-rules",
        "users",
        "api-keys",
    ):
        assert f"{ADMIN}/{resource}" in paths


@pytest.mark.parametrize("username", [*NON_ADMINS, None])
def test_every_admin_endpoint_refuses_everyone_but_admins(
    app: FastAPI, client: TestClient, username: str | None
) -> None:
    headers = as_user(client, username) if username else {}
    expected = 403 if username else 401
    endpoints = admin_endpoints(app)
    assert len(endpoints) >= 30
    for method, path in endpoints:
        response = client.request(method, path, headers=headers, json={})
        assert response.status_code == expected, (method, path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == expected


def test_an_api_key_is_not_an_admin(client: TestClient, admin: dict[str, str]) -> None:
    key = call(client, "POST", "/api-keys", admin, 201, {"name": unique("client")})["key"]
    call(client, "GET", "/categories", {"X-API-Key": key}, 401)


# --- administrative units -------------------------------------------------------------------


def test_administrative_unit_round_trip(client: TestClient, admin: dict[str, str]) -> None:
    code = new_area(client, admin)
    read = call(client, "GET", f"/administrative-units/{code}", admin, 200)
    assert (read["parent"], read["level"], read["valid_to"]) == (PROVINCE, "commune", None)

    listed = call(
        client, "GET", f"/administrative-units?level=commune&parent=46&q={code}", admin, 200
    )
    assert [item["code"] for item in listed["items"]] == [code]

    changed = call(
        client,
        "PATCH",
        f"/administrative-units/{code}",
        admin,
        200,
        {"name_en": "Renamed Ward", "valid_from": "2025-07-01"},
    )
    assert (changed["name_en"], changed["valid_from"], changed["name"]) == (
        "Renamed Ward",
        "2025-07-01",
        "Phường Thử",
    )
    call(client, "DELETE", f"/administrative-units/{code}", admin, 204)
    call(client, "GET", f"/administrative-units/{code}", admin, 404)


def test_hierarchy_edits_never_make_a_cycle(client: TestClient, admin: dict[str, str]) -> None:
    top = new_area(client, admin)
    child = new_area(client, admin, parent=top)
    grandchild = new_area(client, admin, parent=child)
    for parent in (top, grandchild):
        refused = call(
            client, "PATCH", f"/administrative-units/{top}", admin, 422, {"parent": parent}
        )
        assert problem_field(refused) == {"parent"}
    moved = call(
        client, "PATCH", f"/administrative-units/{grandchild}", admin, 200, {"parent": top}
    )
    assert moved["parent"] == top
    root = call(
        client, "PATCH", f"/administrative-units/{grandchild}", admin, 200, {"parent": None}
    )
    assert root["parent"] is None

    refused = call(client, "DELETE", f"/administrative-units/{top}", admin, 409)
    assert "child units (1)" in refused["detail"]
    for code in (child, top, grandchild):
        call(client, "DELETE", f"/administrative-units/{code}", admin, 204)


def test_administrative_unit_validation(client: TestClient, admin: dict[str, str]) -> None:
    code = new_area(client, admin)
    duplicate = {"code": code, "name": "x", "name_en": "x", "level": "commune", "kind": "xã"}
    call(client, "POST", "/administrative-units", admin, 409, duplicate)
    unknown_parent = duplicate | {"code": unique("T"), "parent": "no-such-area"}
    assert problem_field(
        call(client, "POST", "/administrative-units", admin, 422, unknown_parent)
    ) == {"parent"}
    reversed_dates = {"valid_from": "2025-07-01", "valid_to": "2025-01-01"}
    assert problem_field(
        call(client, "PATCH", f"/administrative-units/{code}", admin, 422, reversed_dates)
    ) == {"valid_to"}
    assert problem_field(
        call(client, "PATCH", f"/administrative-units/{code}", admin, 422, {"name": None})
    ) == {"name"}
    assert problem_field(
        call(client, "PATCH", f"/administrative-units/{code}", admin, 422, {"code": "renamed"})
    ) == {"code"}


def test_an_area_in_use_is_not_deleted(client: TestClient, admin: dict[str, str]) -> None:
    refused = call(client, "DELETE", f"/administrative-units/{WARD}", admin, 409)
    assert "still referenced" in refused["detail"]
    call(client, "GET", f"/administrative-units/{WARD}", admin, 200)


# --- handling units -------------------------------------------------------------------------


def test_handling_unit_round_trip(client: TestClient, admin: dict[str, str]) -> None:
    area = new_area(client, admin)
    code = new_unit(client, admin, area)
    read = call(client, "GET", f"/handling-units/{code}", admin, 200)
    assert (read["kind"], read["administrative_unit"], read["active"]) == ("team", area, True)
    listed = call(
        client, "GET", f"/handling-units?kind=team&administrative_unit={area}", admin, 200
    )
    assert [item["code"] for item in listed["items"]] == [code]
    assert call(client, "GET", f"/handling-units?kind=company&q={code}", admin, 200)["items"] == []

    changed = call(
        client,
        "PATCH",
        f"/handling-units/{code}",
        admin,
        200,
        {"kind": "department", "administrative_unit": PROVINCE, "active": False},
    )
    assert (changed["kind"], changed["administrative_unit"], changed["active"]) == (
        "department",
        PROVINCE,
        False,
    )
    assert problem_field(
        call(client, "PATCH", f"/handling-units/{code}", admin, 422, {"kind": "guild"})
    ) == {"kind"}
    call(client, "DELETE", f"/handling-units/{code}", admin, 204)
    call(client, "DELETE", f"/administrative-units/{area}", admin, 204)
    call(client, "GET", f"/handling-units/{code}", admin, 404)


def test_a_unit_with_work_is_neither_deleted_nor_deactivated(
    client: TestClient, admin: dict[str, str]
) -> None:
    unit, category = new_unit(client, admin), new_category(client, admin)
    rule = {"category": category, "administrative_unit": PROVINCE, "handling_unit": unit}
    call(client, "POST", "/routing-rules", admin, 201, rule)
    for method, body in (("DELETE", None), ("PATCH", {"active": False})):
        refused = call(client, method, f"/handling-units/{unit}", admin, 409, body)
        assert "routing rules (1)" in refused["detail"]
    call(client, "DELETE", f"/routing-rules/{category}/{PROVINCE}", admin, 204)

    code = submit(client, administrative_unit=WARD)["tracking_code"]
    coordinator = as_user(client, "coordinator")
    for action, payload in (
        ("classify", {"category": category, "priority": "normal", "administrative_unit": WARD}),
        ("assign", {"handling_unit": unit}),
    ):
        response = client.post(
            f"/api/v1/reflections/{code}/{action}", headers=coordinator, json=payload
        )
        assert response.status_code == 200, response.text
    refused = call(client, "PATCH", f"/handling-units/{unit}", admin, 409, {"active": False})
    assert "open reflections (1)" in refused["detail"]
    refused = call(client, "DELETE", f"/handling-units/{unit}", admin, 409)
    assert "deactivate it instead" in refused["detail"]
    refused = call(client, "DELETE", f"/categories/{category}", admin, 409)
    assert "reflections (1)" in refused["detail"]
    assert call(client, "GET", f"/handling-units/{unit}", admin, 200)["active"] is True


def test_seeded_units_in_use_are_kept(client: TestClient, admin: dict[str, str]) -> None:
    refused = call(client, "DELETE", "/handling-units/HEPCO", admin, 409)
    assert "still referenced" in refused["detail"]
    assert "deactivate it instead" in refused["detail"]


# --- categories -----------------------------------------------------------------------------


def test_category_round_trip(client: TestClient, admin: dict[str, str]) -> None:
    code = new_category(client, admin)
    read = call(client, "GET", f"/categories/{code}", admin, 200)
    assert (read["keywords"], read["default_priority"], read["active"]) == ([], "normal", True)
    changed = call(
        client,
        "PATCH",
        f"/categories/{code}",
        admin,
        200,
        {"keywords": ["ổ gà", "sụt lún"], "default_priority": "emergency", "active": False},
    )
    assert changed["keywords"] == ["ổ gà", "sụt lún"]
    assert (changed["default_priority"], changed["active"]) == ("emergency", False)
    inactive = call(client, "GET", f"/categories?active=false&q={code}", admin, 200)
    assert [item["code"] for item in inactive["items"]] == [code]
    call(client, "DELETE", f"/categories/{code}", admin, 204)
    call(client, "GET", f"/categories/{code}", admin, 404)


def test_category_conflicts_and_validation(client: TestClient, admin: dict[str, str]) -> None:
    code = new_category(client, admin)
    body = {"code": code, "name_vi": "x", "name_en": "x", "group": "x"}
    assert "exists already" in call(client, "POST", "/categories", admin, 409, body)["detail"]
    for bad, field in (
        (body | {"code": unique("c"), "colour": "red"}, "colour"),
        (body | {"code": "x" * 65}, "code"),
        (body | {"code": "has space"}, "code"),
        (body | {"code": unique("c"), "default_priority": "whenever"}, "default_priority"),
        (body | {"code": unique("c"), "keywords": [""]}, "keywords.0"),
    ):
        assert problem_field(call(client, "POST", "/categories", admin, 422, bad)) == {field}
    refused = call(client, "DELETE", "/categories/waste_collection", admin, 409)
    assert "routing rules" in refused["detail"]
    assert "step policies" not in refused["detail"]


# --- step policies --------------------------------------------------------------------------


def test_step_policy_round_trip(client: TestClient, admin: dict[str, str]) -> None:
    category = new_category(client, admin)
    created = call(
        client,
        "POST",
        "/step-policies",
        admin,
        201,
        {"category": category, "priority": "emergency", **POLICY},
    )
    assert created == {
        "category": category,
        "priority": "emergency",
        "around_the_clock": False,
        **POLICY,
    }
    path = f"/step-policies/{category}/emergency"
    assert call(client, "GET", path, admin, 200) == created
    listed = call(client, "GET", f"/step-policies?category={category}", admin, 200)
    assert listed["items"] == [created]

    changed = call(
        client, "PATCH", path, admin, 200, {"process_minutes": 120, "around_the_clock": True}
    )
    assert (changed["process_minutes"], changed["around_the_clock"]) == (120, True)
    assert problem_field(call(client, "PATCH", path, admin, 422, {"accept_minutes": 0})) == {
        "accept_minutes"
    }
    refused = call(client, "DELETE", f"/categories/{category}", admin, 409)
    assert "step policies (1)" in refused["detail"]
    call(client, "DELETE", path, admin, 204)
    call(client, "GET", path, admin, 404)
    call(client, "DELETE", f"/categories/{category}", admin, 204)


def test_step_policy_conflicts(client: TestClient, admin: dict[str, str]) -> None:
    category = new_category(client, admin)
    body = {"category": category, "priority": "normal", **POLICY}
    call(client, "POST", "/step-policies", admin, 201, body)
    call(client, "POST", "/step-policies", admin, 409, body)
    default = {"category": None, "priority": "normal", **POLICY}
    assert "exists already" in call(client, "POST", "/step-policies", admin, 409, default)["detail"]
    defaults = call(client, "GET", "/step-policies?category=*", admin, 200)["items"]
    assert {item["priority"] for item in defaults} == {"emergency", "normal", "complex"}
    assert call(client, "GET", "/step-policies/*/normal", admin, 200)["category"] is None
    call(client, "DELETE", "/step-policies/*/normal", admin, 409)
    call(client, "GET", "/step-policies/no-such-category/normal", admin, 404)
    unknown = body | {"category": "no-such-category"}
    assert problem_field(call(client, "POST", "/step-policies", admin, 422, unknown)) == {
        "category"
    }


# --- routing rules --------------------------------------------------------------------------


def test_routing_rule_round_trip(client: TestClient, admin: dict[str, str]) -> None:
    category = new_category(client, admin)
    first, second = new_unit(client, admin), new_unit(client, admin)
    rule = {"category": category, "administrative_unit": WARD, "handling_unit": first}
    assert call(client, "POST", "/routing-rules", admin, 201, rule) == rule
    call(client, "POST", "/routing-rules", admin, 409, rule)
    path = f"/routing-rules/{category}/{WARD}"
    assert call(client, "GET", path, admin, 200) == rule
    assert call(client, "GET", f"/routing-rules?handling_unit={first}", admin, 200)["items"] == [
        rule
    ]
    moved = call(client, "PATCH", path, admin, 200, {"handling_unit": second})
    assert moved["handling_unit"] == second
    call(client, "DELETE", path, admin, 204)
    call(client, "GET", path, admin, 404)


def test_routing_rule_validation(client: TestClient, admin: dict[str, str]) -> None:
    category, unit = new_category(client, admin), new_unit(client, admin)
    rule = {"category": category, "administrative_unit": WARD, "handling_unit": "no-such-unit"}
    assert problem_field(call(client, "POST", "/routing-rules", admin, 422, rule)) == {
        "handling_unit"
    }
    call(client, "PATCH", f"/handling-units/{unit}", admin, 200, {"active": False})
    inactive = rule | {"handling_unit": unit}
    refused = call(client, "POST", "/routing-rules", admin, 422, inactive)
    assert problem_field(refused) == {"handling_unit"}
    assert "inactive" in refused["detail"]
    assert problem_field(
        call(client, "POST", "/routing-rules", admin, 422, {"category": category})
    ) == {"administrative_unit", "handling_unit"}


# --- users ----------------------------------------------------------------------------------


def log_in(client: TestClient, username: str, password: str) -> int:
    form = {"username": username, "password": password}
    return int(client.post("/api/v1/auth/token", data=form).status_code)


def test_user_round_trip_and_log_in(client: TestClient, admin: dict[str, str]) -> None:
    username = unique("handler")
    body = {
        "username": username,
        "full_name": "Lê Văn Thử",
        "role": "handler",
        "password": "a-long-password",
        "email": "thu@example.com",
        "handling_units": ["HEPCO"],
    }
    created = call(client, "POST", "/users", admin, 201, body)
    assert (created["role"], created["handling_units"], created["areas"]) == (
        "handler",
        ["HEPCO"],
        [],
    )
    assert not {"password", "password_hash"} & set(created)
    assert log_in(client, username, "a-long-password") == 200

    listed = call(
        client, "GET", f"/users?role=handler&handling_unit=HEPCO&q={username}", admin, 200
    )
    assert [item["username"] for item in listed["items"]] == [username]
    assert all("password_hash" not in item for item in listed["items"])

    changed = call(
        client,
        "PATCH",
        f"/users/{username}",
        admin,
        200,
        {
            "role": "supervisor",
            "handling_units": [],
            "areas": [WARD],
            "password": "another-password",
            "email": None,
        },
    )
    assert (changed["role"], changed["handling_units"], changed["areas"]) == (
        "supervisor",
        [],
        [WARD],
    )
    assert changed["email"] is None
    assert log_in(client, username, "a-long-password") == 401
    assert log_in(client, username, "another-password") == 200
    assert call(client, "GET", f"/users/{username}", admin, 200) == changed


def test_a_disabled_user_cannot_log_in(client: TestClient, admin: dict[str, str]) -> None:
    username = unique("operator")
    body = {
        "username": username,
        "full_name": "Op",
        "role": "operator",
        "password": "a-long-password",
    }
    call(client, "POST", "/users", admin, 201, body)
    token = client.post(
        "/api/v1/auth/token", data={"username": username, "password": "a-long-password"}
    ).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200

    assert (
        call(client, "PATCH", f"/users/{username}", admin, 200, {"disabled": True})["disabled"]
        is True
    )
    assert log_in(client, username, "a-long-password") == 401
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    disabled = call(client, "GET", f"/users?disabled=true&q={username}", admin, 200)
    assert [item["username"] for item in disabled["items"]] == [username]
    call(client, "DELETE", f"/users/{username}", admin, 405)  # disabled, never deleted


def test_user_validation(client: TestClient, admin: dict[str, str]) -> None:
    body = {
        "username": unique("user"),
        "full_name": "X",
        "role": "handler",
        "password": "a-long-password",
        "handling_units": ["HEPCO"],
    }
    for bad, field in (
        (body | {"password": "short"}, "password"),
        (body | {"password": "password1234"}, "password"),  # 12 characters, but common
        (body | {"password": body["username"]}, "password"),  # the user's own name
        (body | {"role": "citizen"}, "role"),
        (body | {"role": "overlord"}, "role"),
        (body | {"handling_units": []}, "handling_units"),
        (body | {"handling_units": ["no-such-unit"]}, "handling_units"),
        (body | {"role": "supervisor", "handling_units": [], "areas": []}, "areas"),
        (body | {"email": "not-an-email"}, "email"),
        (body | {"password_hash": "x"}, "password_hash"),
        (body | {"username": ""}, "username"),
    ):
        assert problem_field(call(client, "POST", "/users", admin, 422, bad)) == {field}, bad
    call(client, "POST", "/users", admin, 409, body | {"username": "coordinator"})
    call(client, "GET", "/users/no-such-user", admin, 404)
    assert problem_field(
        call(client, "PATCH", "/users/handler.hepco", admin, 422, {"handling_units": []})
    ) == {"handling_units"}
    assert problem_field(
        call(client, "PATCH", "/users/handler.hepco", admin, 422, {"password": "qwertyuiop12"})
    ) == {"password"}
    assert problem_field(
        call(client, "PATCH", "/users/handler.hepco", admin, 422, {"disabled": None})
    ) == {"disabled"}


def test_an_admin_cannot_lock_themselves_out(client: TestClient, admin: dict[str, str]) -> None:
    for change in ({"disabled": True}, {"role": "auditor"}):
        call(client, "PATCH", "/users/admin", admin, 409, change)
    assert call(client, "GET", "/users/admin", admin, 200)["disabled"] is False


# --- API keys -------------------------------------------------------------------------------


def test_api_key_lifecycle(client: TestClient, admin: dict[str, str]) -> None:
    name = unique("open311-app")
    created = call(client, "POST", "/api-keys", admin, 201, {"name": name})
    key = created["key"]
    assert key.startswith(created["prefix"])
    assert created["revoked_at"] is None
    call(client, "POST", "/api-keys", admin, 409, {"name": name})

    listed = call(client, "GET", f"/api-keys?q={name}", admin, 200)["items"]
    assert listed == [{k: created[k] for k in ("name", "prefix", "created_at", "revoked_at")}]

    report = {"description": "Cống bị tắc, nước tràn ra đường", "address": "Lê Lợi, Huế"}
    sent = client.post("/api/v1/reflections", json=report, headers={"X-API-Key": key})
    assert sent.status_code == 201, sent.text

    revoked = call(client, "POST", f"/api-keys/{name}/revoke", admin, 200)
    assert revoked["revoked_at"] is not None
    assert call(client, "POST", f"/api-keys/{name}/revoke", admin, 200) == revoked
    refused = client.post("/api/v1/reflections", json=report, headers={"X-API-Key": key})
    assert refused.status_code == 401
    active = call(client, "GET", f"/api-keys?revoked=false&q={name}", admin, 200)["items"]
    assert active == []
    call(client, "GET", f"/api-keys/{name}", admin, 200)
    call(client, "POST", "/api-keys/no-such-key/revoke", admin, 404)
    assert problem_field(call(client, "POST", "/api-keys", admin, 422, {"name": ""})) == {"name"}


# --- pagination -----------------------------------------------------------------------------


def test_pagination_walks_every_page_once(client: TestClient, admin: dict[str, str]) -> None:
    prefix = unique("page")
    made = [new_category(client, admin, f"{prefix}-{n}") for n in range(7)]
    walked = walk(client, admin, f"/categories?q={prefix}", limit=3)
    assert [item["code"] for item in walked] == made  # in id order, each once

    areas = walk(client, admin, "/administrative-units", limit=37)
    codes = [item["code"] for item in areas]
    assert len(codes) == len(set(codes)) > 100
    assert set(codes) >= {PROVINCE, WARD}
    rules = walk(client, admin, "/routing-rules", limit=200)
    assert len({(r["category"], r["administrative_unit"]) for r in rules}) == len(rules)


def test_pagination_parameters_are_checked(client: TestClient, admin: dict[str, str]) -> None:
    for query, field in (
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("cursor=nonsense", "cursor"),
        ("kind=guild", "kind"),
    ):
        refused = call(client, "GET", f"/handling-units?{query}", admin, 422)
        assert problem_field(refused) == {field}
    refused = call(client, "GET", "/administrative-units?parent=no-such-area", admin, 422)
    assert problem_field(refused) == {"parent"}
