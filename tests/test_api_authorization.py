"""Who may do what through the API: every refusal of the role × endpoint matrix."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api_helpers import as_citizen, as_user, pages, submit

WARD = "46.W19768"
WARD_COMMITTEE = "UBND.46.W19768"
STAFF = [
    "operator",
    "coordinator",
    "handler.phuxuan",
    "handler.hepco",
    "supervisor.ioc",
    "supervisor.phuxuan",
    "auditor",
    "admin",
]
CALLERS = ["anonymous", "citizen", "other citizen", *STAFF]
SEE_EVERYTHING = {"operator", "coordinator", "auditor", "admin"}
# Once assigned to the ward committee: its handler, the ward's and the province's supervisors.
# Supervisors see what the units under them see, so not reflections no unit holds yet.
IN_WARD_SCOPE = {"handler.phuxuan", "supervisor.phuxuan", "supervisor.ioc"}

LATER = (datetime.now(UTC) + timedelta(days=9)).isoformat()
# action -> (path to reach its state, its body, who may fire it)
ACTIONS: dict[str, tuple[list[str], dict[str, Any], set[str]]] = {
    "classify": (
        [],
        {"category": "urban_order", "priority": "normal", "administrative_unit": WARD},
        {"coordinator"},
    ),
    "reject": ([], {"reason": "spam"}, {"coordinator"}),
    "assign": (["classify"], {"handling_unit": WARD_COMMITTEE}, {"coordinator"}),
    "accept": (["classify", "assign"], {}, {"handler.phuxuan"}),
    "return": (["classify", "assign"], {"reason": "sai đơn vị"}, {"handler.phuxuan"}),
    "reassign": (
        ["classify", "assign"],
        {"handling_unit": "HEPCO"},
        {"coordinator", "supervisor.ioc"},
    ),
    "extension/request": (
        ["classify", "assign", "accept"],
        {"reason": "chờ vật tư", "new_due_at": LATER},
        {"handler.phuxuan"},
    ),
    "extension/grant": (["classify", "assign", "accept", "extension/request"], {}, {"coordinator"}),
    "extension/deny": (
        ["classify", "assign", "accept", "extension/request"],
        {"reason": "không đủ lý do"},
        {"coordinator"},
    ),
    "process": (["classify", "assign", "accept"], {"result": "đã xử lý"}, {"handler.phuxuan"}),
    "send-back": (
        ["classify", "assign", "accept", "process"],
        {"reason": "chưa xong"},
        {"coordinator"},
    ),
    "confirm": (["classify", "assign", "accept", "process"], {"rating": 5}, {"citizen"}),
    "reopen": (["classify", "assign", "accept", "process"], {"reason": "còn hỏng"}, {"citizen"}),
    "escalate": (["classify", "assign", "accept"], {}, {"supervisor.ioc", "supervisor.phuxuan"}),
    "notes": (
        ["classify", "assign"],
        {"text": "Đã liên hệ tổ dân phố"},
        {"coordinator", "handler.phuxuan", "supervisor.ioc", "supervisor.phuxuan"},
    ),
    "take": (["classify", "assign"], {}, {"handler.phuxuan"}),
}
WHO_DRIVES = {
    "classify": "coordinator",
    "assign": "coordinator",
    "accept": "handler.phuxuan",
    "extension/request": "handler.phuxuan",
    "process": "handler.phuxuan",
}


def headers(client: TestClient, caller: str, citizen_key: str) -> dict[str, str]:
    if caller == "anonymous":
        return {}
    if caller == "citizen":
        return as_citizen(citizen_key)
    if caller == "other citizen":
        return as_citizen("not-the-key-" + uuid.uuid4().hex)
    return as_user(client, caller)


def drive(client: TestClient, path: list[str]) -> tuple[str, str]:
    submitted = submit(client, administrative_unit=WARD)
    code = submitted["tracking_code"]
    for action in path:
        body = ACTIONS[action][1]
        response = client.post(
            f"/api/v1/reflections/{code}/{action}",
            headers=as_user(client, WHO_DRIVES[action]),
            json=body,
        )
        assert response.status_code == 200, response.text
    return code, submitted["citizen_key"]


def sees(caller: str, assigned: bool) -> bool:
    return caller in SEE_EVERYTHING or caller == "citizen" or (assigned and caller in IN_WARD_SCOPE)


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("action", list(ACTIONS))
def test_action_matrix(client: TestClient, action: str, caller: str) -> None:
    path, body, allowed = ACTIONS[action]
    code, key = drive(client, path)
    before = client.get(f"/api/v1/reflections/{code}", headers=as_user(client, "coordinator"))
    response = client.post(
        f"/api/v1/reflections/{code}/{action}", headers=headers(client, caller, key), json=body
    )
    if caller in allowed:
        assert response.status_code == 200, response.text
        return
    expected = 401 if caller == "anonymous" else 403 if sees(caller, "assign" in path) else 404
    assert response.status_code == expected, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == expected
    after = client.get(f"/api/v1/reflections/{code}", headers=as_user(client, "coordinator"))
    assert after.json()["version"] == before.json()["version"], "a refusal changed nothing"


LISTS = {
    "/api/v1/inbox/coordinator": {"coordinator"},
    "/api/v1/inbox/handler": {"handler.phuxuan", "handler.hepco"},
    "/api/v1/inbox/supervisor": {"supervisor.ioc", "supervisor.phuxuan"},
    "/api/v1/reflections": set(STAFF),
    "/api/v1/citizen/reflections": {"citizen", "other citizen"},
}


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("path", list(LISTS))
def test_list_matrix(client: TestClient, path: str, caller: str) -> None:
    response = client.get(path, headers=headers(client, caller, "some-citizen-key"))
    if caller in LISTS[path]:
        assert response.status_code == 200, response.text
        return
    expected = (
        401
        if caller == "anonymous"
        or (caller.endswith("citizen") and path != "/api/v1/citizen/reflections")
        else 403
    )
    if caller.endswith("citizen") and path.startswith("/api/v1/inbox"):
        expected = 401  # inboxes need a staff token: a citizen key is no log-in
    assert response.status_code == expected, response.text
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("caller", CALLERS)
def test_read_scoping(client: TestClient, caller: str) -> None:
    unassigned, key = drive(client, ["classify"])
    ward_case, ward_key = drive(client, ["classify", "assign"])
    for code, assigned, citizen_key in ((unassigned, False, key), (ward_case, True, ward_key)):
        for suffix in ("", "/history"):
            response = client.get(
                f"/api/v1/reflections/{code}{suffix}", headers=headers(client, caller, citizen_key)
            )
            if caller == "anonymous":
                assert response.status_code == 401
            elif sees(caller, assigned):
                assert response.status_code == 200, response.text
            else:
                # Not even whether it exists: a unit cannot probe other units' cases.
                assert response.status_code == 404, response.text


def test_handler_search_only_shows_own_unit(client: TestClient) -> None:
    code, _ = drive(client, ["classify", "assign"])
    for handler, visible in (("handler.phuxuan", True), ("handler.hepco", False)):
        found = client.get(f"/api/v1/reflections?q={code}", headers=as_user(client, handler))
        codes = [item["tracking_code"] for item in found.json()["items"]]
        assert (code in codes) is visible


def test_handler_never_receives_reporter_identity(client: TestClient) -> None:
    name, email = (
        f"Trần Thị Bí Mật {uuid.uuid4().hex[:6]}",
        f"bimat.{uuid.uuid4().hex[:6]}@example.com",
    )
    submitted = submit(
        client,
        administrative_unit=WARD,
        contact={"name": name, "phone": "0912 345 678", "email": email},
    )
    code = submitted["tracking_code"]
    coordinator = as_user(client, "coordinator")
    for action, body in (("classify", ACTIONS["classify"][1]), ("assign", ACTIONS["assign"][1])):
        client.post(f"/api/v1/reflections/{code}/{action}", headers=coordinator, json=body)
    responses = []
    for user in ("handler.phuxuan", "supervisor.phuxuan"):
        staff = as_user(client, user)
        responses += [
            client.get(f"/api/v1/reflections/{code}", headers=staff),
            client.get(f"/api/v1/reflections/{code}/history", headers=staff),
            client.get(f"/api/v1/reflections?q={code}", headers=staff),
        ]
    handler = as_user(client, "handler.phuxuan")
    inbox = pages(client, "/api/v1/inbox/handler", handler)  # while it waits for the unit
    assert code in [item["tracking_code"] for page in inbox for item in page.json()["items"]]
    responses += [
        *inbox,
        client.post(f"/api/v1/reflections/{code}/accept", headers=handler, json={}),
        client.post(
            f"/api/v1/reflections/{code}/process", headers=handler, json={"result": "đã xử lý"}
        ),
    ]
    for response in responses:
        assert response.status_code == 200, response.text
        for secret in (name, email, "+84912345678", "0912345678", "912345678", "reporter"):
            assert secret not in response.text
    coordinator_view = client.get(f"/api/v1/reflections/{code}", headers=coordinator).json()
    assert coordinator_view["reporter"]["phone"] == "+84912345678"
    auditor_view = client.get(f"/api/v1/reflections/{code}", headers=as_user(client, "auditor"))
    assert auditor_view.json()["reporter"]["masked"] is True
    assert "+84912345678" not in auditor_view.text and email not in auditor_view.text
