"""The personal-data access log: explicit reveals with a reason, reads logged per reflection
shown, the log for auditors and admins, and nothing of the reporter for anyone else."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlmodel import Session, col, select

from reflections.actors import Actor
from reflections.errors import Forbidden, InvalidInput, NotFound
from reflections.models import PersonalDataAccess, Reflection, User
from reflections.models.enums import Role
from reflections.oversight import access_log
from tests.api_helpers import as_citizen, as_user, pages, submit

WARD = "46.W19768"  # Phường Phú Xuân
WARD_COMMITTEE = "UBND.46.W19768"
REASON = "Xác minh khiếu nại của người phản ánh, hồ sơ TT-2026-031"
CLASSIFY = {"category": "urban_order", "priority": "normal", "administrative_unit": WARD}


class Reporter:
    """A reporter no other test uses, and every form their data takes in a response."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:8]
        digits = str(int(tag, 16) % 10**6).zfill(6)
        self.name = f"Tôn Nữ Bảo Mật {tag}"
        self.phone = f"0913 {digits[:3]} {digits[3:]}"
        self.e164 = f"+84913{digits}"
        self.email = f"baomat.{tag}@example.com"
        self.traces = (self.name, self.email, self.e164, f"0913{digits}", f"913{digits}")

    @property
    def contact(self) -> dict[str, str]:
        return {"name": self.name, "phone": self.phone, "email": self.email, "language": "en"}


def new_case(
    client: TestClient, who: Reporter | None = None, assign: bool = True
) -> dict[str, Any]:
    """A reflection from ``who`` (anonymous if None), classified and assigned to the ward."""
    body: dict[str, Any] = {"administrative_unit": WARD}
    body["contact"] = who.contact if who else None
    submitted = submit(client, **body)
    code = submitted["tracking_code"]
    coordinator = as_user(client, "coordinator")
    steps = [("classify", CLASSIFY), ("assign", {"handling_unit": WARD_COMMITTEE})]
    for action, payload in steps if assign else []:
        response = client.post(
            f"/api/v1/reflections/{code}/{action}", headers=coordinator, json=payload
        )
        assert response.status_code == 200, response.text
    return submitted


def log_of(engine: Engine, code: str) -> list[tuple[str, str, str | None, str | None]]:
    """(action, role, username, reason) of every access to the reflection, oldest first."""
    with Session(engine) as session:
        rows = session.exec(
            select(
                PersonalDataAccess.action,
                PersonalDataAccess.actor_role,
                User.username,
                PersonalDataAccess.reason,
            )
            .join(Reflection, col(Reflection.id) == PersonalDataAccess.reflection_id)
            .outerjoin(User, col(User.id) == PersonalDataAccess.user_id)
            .where(Reflection.tracking_code == code)
            .order_by(col(PersonalDataAccess.id))
        ).all()
    return [(action, role, username, reason) for action, role, username, reason in rows]


def reflection_id(engine: Engine, code: str) -> int:
    with Session(engine) as session:
        found = session.exec(select(Reflection.id).where(Reflection.tracking_code == code)).one()
    assert found is not None
    return found


@contextmanager
def log_inserts() -> Iterator[list[str]]:
    """The INSERT statements into the access log sent meanwhile, on any engine."""
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO PERSONAL_DATA_ACCESS"):
            statements.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", seen)


def headers_of(client: TestClient, caller: str, citizen_key: str) -> dict[str, str]:
    if caller == "anonymous":
        return {}
    if caller == "citizen":
        return as_citizen(citizen_key)
    if caller == "other citizen":
        return as_citizen("not-the-key-" + uuid.uuid4().hex)
    return as_user(client, caller)


def reveal(client: TestClient, code: str, headers: dict[str, str], body: Any) -> Any:
    return client.post(f"/api/v1/reflections/{code}/reporter/reveal", headers=headers, json=body)


# --- Reveal ------------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["auditor", "coordinator", "admin"])
def test_reveal_with_a_reason_gives_the_identity_and_is_logged(
    client: TestClient, engine: Engine, user: str
) -> None:
    who = Reporter()
    code = new_case(client, who)["tracking_code"]
    before = log_of(engine, code)

    response = reveal(client, code, as_user(client, user), {"reason": f"  {REASON}  "})

    assert response.status_code == 200, response.text
    assert response.json() == {
        "tracking_code": code,
        "name": who.name,
        "phone": who.e164,
        "email": who.email,
        "language": "en",
    }
    assert log_of(engine, code) == [*before, ("reveal", Role(user), user, REASON)]


def test_auditor_views_stay_masked_and_unlogged(client: TestClient, engine: Engine) -> None:
    who = Reporter()
    code = new_case(client, who)["tracking_code"]
    before = log_of(engine, code)
    auditor = as_user(client, "auditor")
    view = client.get(f"/api/v1/reflections/{code}", headers=auditor)
    assert view.status_code == 200
    assert view.json()["reporter"]["masked"] is True
    assert who.email not in view.text and who.e164 not in view.text
    assert log_of(engine, code) == before  # masked is not a read of personal data


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "reason"),
        ({"reason": None}, "reason"),
        ({"reason": ""}, "reason"),
        ({"reason": "vì sao"}, "reason"),  # 6 characters
        ({"reason": "         x"}, "reason"),  # 10 characters, 1 once stripped
        ({"reason": "x" * 501}, "reason"),
        ({"reason": REASON, "extra": 1}, "extra"),
    ],
)
def test_reveal_without_a_proper_reason_is_422_and_logs_nothing(
    client: TestClient, engine: Engine, body: dict[str, Any], field: str
) -> None:
    who = Reporter()
    code = new_case(client, who, assign=False)["tracking_code"]
    before = log_of(engine, code)

    response = reveal(client, code, as_user(client, "auditor"), body)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in {error["field"] for error in response.json()["errors"]}
    assert all(trace not in response.text for trace in who.traces)
    assert log_of(engine, code) == before


# caller -> status: in scope but the wrong role is 403; out of scope 404, as the rest of the API.
REFUSED = {
    "handler.phuxuan": 403,  # the ward committee holds the case
    "supervisor.phuxuan": 403,
    "supervisor.ioc": 403,
    "operator": 403,
    "handler.hepco": 404,  # another unit: not even whether it exists
    "citizen": 403,  # the reporter's own key: a citizen does not unmask
    "other citizen": 404,
    "anonymous": 401,
}


@pytest.mark.parametrize(("caller", "status"), list(REFUSED.items()))
def test_reveal_is_refused_to_everyone_else_and_logs_nothing(
    client: TestClient, engine: Engine, caller: str, status: int
) -> None:
    who = Reporter()
    submitted = new_case(client, who)
    code = submitted["tracking_code"]
    headers = headers_of(client, caller, submitted["citizen_key"])
    before = log_of(engine, code)

    response = reveal(client, code, headers, {"reason": REASON})

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert all(trace not in response.text for trace in who.traces)
    assert log_of(engine, code) == before


def test_anonymous_report_has_nothing_to_reveal(client: TestClient, engine: Engine) -> None:
    code = new_case(client, None, assign=False)["tracking_code"]
    response = reveal(client, code, as_user(client, "auditor"), {"reason": REASON})
    assert response.status_code == 404, response.text
    assert "anonymous" in response.json()["detail"]
    assert log_of(engine, code) == []


def test_reveal_of_an_unknown_code_is_404(client: TestClient) -> None:
    response = reveal(client, "ZZZZ-ZZZZ", as_user(client, "auditor"), {"reason": REASON})
    assert response.status_code == 404


def test_domain_refuses_before_it_reads(
    session: Session, client: TestClient, engine: Engine
) -> None:
    code = new_case(client, Reporter(), assign=False)["tracking_code"]
    rid = reflection_id(engine, code)
    for role in (Role.HANDLER, Role.SUPERVISOR, Role.OPERATOR, Role.CITIZEN, Role.SYSTEM):
        with pytest.raises(Forbidden):
            access_log.reveal(session, Actor(role), rid, REASON)
    with pytest.raises(InvalidInput):
        access_log.reveal(session, Actor(Role.AUDITOR), rid, None)
    with pytest.raises(NotFound):
        access_log.reveal(session, Actor(Role.AUDITOR), 10**9, REASON)
    with pytest.raises(Forbidden):
        access_log.accesses(session, Actor(Role.COORDINATOR), rid)
    access_log.record_reads(session, Actor(Role.COORDINATOR), [])  # nothing shown, nothing logged
    assert log_of(engine, code) == []


# --- Reads -----------------------------------------------------------------------------------


def test_coordinator_reading_a_reflection_is_logged(client: TestClient, engine: Engine) -> None:
    who = Reporter()
    code = new_case(client, who, assign=False)["tracking_code"]
    assert log_of(engine, code) == []  # an anonymous submission shows nobody's identity

    with log_inserts() as inserts:
        response = client.get(f"/api/v1/reflections/{code}", headers=as_user(client, "coordinator"))

    assert response.status_code == 200
    assert response.json()["reporter"]["email"] == who.email
    assert log_of(engine, code) == [("read", Role.COORDINATOR, "coordinator", None)]
    assert len(inserts) == 1


def test_coordinator_actions_log_the_view_they_answer_with(
    client: TestClient, engine: Engine
) -> None:
    code = new_case(client, Reporter())["tracking_code"]  # classify and assign, by a coordinator
    assert [entry[0] for entry in log_of(engine, code)] == ["read", "read"]


def test_a_search_page_logs_one_read_per_reflection_shown_in_one_insert(
    client: TestClient, engine: Engine
) -> None:
    codes = [new_case(client, Reporter(), assign=False)["tracking_code"] for _ in range(3)]
    anonymous = new_case(client, None, assign=False)["tracking_code"]
    admin = as_user(client, "admin")

    with log_inserts() as inserts:
        page = client.get("/api/v1/reflections", params={"limit": 10}, headers=admin)

    assert page.status_code == 200
    shown = {item["tracking_code"]: item.get("reporter") for item in page.json()["items"]}
    assert set(codes) | {anonymous} <= set(shown)
    for code in codes:
        assert log_of(engine, code) == [("read", Role.ADMIN, "admin", None)]
    assert log_of(engine, anonymous) == []
    assert len(inserts) == 1

    with log_inserts() as inserts:
        found = client.get("/api/v1/reflections", params={"q": codes[0]}, headers=admin)
    assert [item["tracking_code"] for item in found.json()["items"]] == [codes[0]]
    assert len(log_of(engine, codes[0])) == 2 and len(inserts) == 1


def test_staff_who_see_no_identity_leave_no_reads(client: TestClient, engine: Engine) -> None:
    code = new_case(client, Reporter())["tracking_code"]
    before = log_of(engine, code)
    for user in ("handler.phuxuan", "supervisor.phuxuan", "operator", "auditor"):
        staff = as_user(client, user)
        assert client.get(f"/api/v1/reflections/{code}", headers=staff).status_code == 200
        assert client.get(f"/api/v1/reflections?q={code}", headers=staff).status_code == 200
    inbox = client.get("/api/v1/inbox/handler", headers=as_user(client, "handler.phuxuan"))
    assert inbox.status_code == 200
    assert log_of(engine, code) == before


# --- The log ---------------------------------------------------------------------------------


def test_the_log_lists_who_when_how_and_why_newest_first(client: TestClient) -> None:
    code = new_case(client, Reporter(), assign=False)["tracking_code"]
    coordinator = as_user(client, "coordinator")
    client.get(f"/api/v1/reflections/{code}", headers=coordinator)
    assert reveal(client, code, as_user(client, "auditor"), {"reason": REASON}).status_code == 200
    client.get(f"/api/v1/reflections?q={code}", headers=as_user(client, "admin"))

    for reader in ("auditor", "admin"):
        response = client.get(
            f"/api/v1/reflections/{code}/access-log", headers=as_user(client, reader)
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["next_cursor"] is None
        assert [(e["username"], e["role"], e["action"], e["reason"]) for e in body["items"]] == [
            ("admin", "admin", "read", None),
            ("auditor", "auditor", "reveal", REASON),
            ("coordinator", "coordinator", "read", None),
        ]
        instants = [e["occurred_at"] for e in body["items"]]
        assert instants == sorted(instants, reverse=True)
        assert all(e["occurred_at"].endswith(("Z", "+00:00")) for e in body["items"])


def test_the_log_pages_by_keyset(client: TestClient) -> None:
    code = new_case(client, Reporter(), assign=False)["tracking_code"]
    coordinator = as_user(client, "coordinator")
    for _ in range(5):
        client.get(f"/api/v1/reflections/{code}", headers=coordinator)
    auditor = as_user(client, "auditor")
    url = f"/api/v1/reflections/{code}/access-log"
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        body = client.get(url, params=params, headers=auditor).json()
        seen += [e["occurred_at"] for e in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 5
    assert seen == sorted(seen, reverse=True)
    bad = client.get(url, params={"cursor": "nonsense"}, headers=auditor)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"


@pytest.mark.parametrize(
    ("caller", "status"),
    [
        ("coordinator", 403),
        ("operator", 403),
        ("handler.phuxuan", 403),
        ("supervisor.phuxuan", 403),
        ("handler.hepco", 404),
        ("citizen", 403),
        ("anonymous", 401),
    ],
)
def test_the_log_is_for_auditors_and_admins(client: TestClient, caller: str, status: int) -> None:
    who = Reporter()
    submitted = new_case(client, who)
    code = submitted["tracking_code"]
    headers = headers_of(client, caller, submitted["citizen_key"])
    response = client.get(f"/api/v1/reflections/{code}/access-log", headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


# --- Nothing of the reporter reaches a handling unit ------------------------------------------


def test_handler_responses_still_hold_no_identity(client: TestClient) -> None:
    who = Reporter()
    code = new_case(client, who)["tracking_code"]
    handler = as_user(client, "handler.phuxuan")
    inbox = pages(client, "/api/v1/inbox/handler", handler)  # while it waits for the unit
    assert code in [item["tracking_code"] for page in inbox for item in page.json()["items"]]
    responses = [
        client.get(f"/api/v1/reflections/{code}", headers=handler),
        client.get(f"/api/v1/reflections/{code}/history", headers=handler),
        client.get(f"/api/v1/reflections?q={code}", headers=handler),
        reveal(client, code, handler, {"reason": REASON}),
        client.get(f"/api/v1/reflections/{code}/access-log", headers=handler),
        client.post(f"/api/v1/reflections/{code}/accept", headers=handler, json={}),
        client.post(
            f"/api/v1/reflections/{code}/process", headers=handler, json={"result": "xong"}
        ),
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 403, 403, 200, 200]
    for response in [*responses, *inbox]:
        for trace in (*who.traces, '"reporter"'):
            assert trace not in response.text, (response.request.url, trace)
