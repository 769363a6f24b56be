"""Idempotency-Key on POST: a retried request answers the first response and changes nothing more
(DESIGN.md §10 "retries never duplicate"), and the commit is the last step of a request."""

import re
import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import exc, func
from sqlmodel import Session, col, select

import api.routes.reflections
from api import idempotency
from api.unit_of_work import RequestSession
from reflections.lifecycle import intake
from reflections.models import HistoryEvent, IdempotencyRecord, OutboxMessage, Reflection
from reflections.organisation.auth import create_api_key
from reflections.platform import clock
from tests.api_helpers import as_user, submit
from tests.web.pages import CSRF_FIELD, new_browser

WARD = "46.W19768"


def key() -> str:
    return str(uuid.uuid4())


def body(marker: str) -> dict[str, Any]:
    return {
        "description": f"Cây đổ chắn đường {marker}",
        "address": "3 Hùng Vương",
        "contact": {"name": "Lê Thị Hoa", "phone": "0905 246 810"},
    }


def rows_with(session: Session, marker: str) -> int:
    session.expire_all()
    return session.exec(
        select(func.count()).where(col(Reflection.description).contains(marker))
    ).one()


def post(client: TestClient, payload: dict[str, Any], idem: str, **kwargs: Any) -> Response:
    headers = {"Idempotency-Key": idem} | kwargs.pop("headers", {})
    response: Response = client.post("/api/v1/reflections", json=payload, headers=headers, **kwargs)
    return response


def test_the_same_key_and_body_answer_the_first_response(
    client: TestClient, session: Session
) -> None:
    marker, idem = uuid.uuid4().hex, key()
    first = post(client, body(marker), idem)
    again = post(client, body(marker), idem)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()  # the same tracking code and citizen key
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert rows_with(session, marker) == 1
    code = first.json()["tracking_code"]
    reflection = session.exec(select(Reflection).where(Reflection.tracking_code == code)).one()
    outbox = session.exec(select(func.count()).where(OutboxMessage.reflection_id == reflection.id))
    assert outbox.one() == 1  # the SMS "received" once, not twice


def test_the_same_key_with_another_body_is_422_and_changes_nothing(
    client: TestClient, session: Session
) -> None:
    marker, other, idem = uuid.uuid4().hex, uuid.uuid4().hex, key()
    assert post(client, body(marker), idem).status_code == 201
    refused = post(client, body(other), idem)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in refused.json()["errors"]] == ["Idempotency-Key"]
    assert "used for a different request" in refused.json()["detail"]
    assert rows_with(session, other) == 0


def test_a_key_belongs_to_the_caller(client: TestClient, session: Session) -> None:
    """Another caller's request with the same key is a request of its own."""
    marker, idem = uuid.uuid4().hex, key()
    anonymous = post(client, body(marker), idem)
    operator = post(client, body(marker), idem, headers=as_user(client, "operator"))
    assert anonymous.status_code == operator.status_code == 201
    assert anonymous.json()["tracking_code"] != operator.json()["tracking_code"]
    assert rows_with(session, marker) == 2


def test_an_action_retried_is_answered_not_refused(client: TestClient) -> None:
    """Without the key a repeated classify would be a 409 (no longer allowed)."""
    code = submit(client)["tracking_code"]
    coordinator = as_user(client, "coordinator")
    classify = {"category": "urban_order", "priority": "normal", "administrative_unit": WARD}
    path = f"/api/v1/reflections/{code}/classify"
    idem = key()
    first = client.post(path, json=classify, headers=coordinator | {"Idempotency-Key": idem})
    again = client.post(path, json=classify, headers=coordinator | {"Idempotency-Key": idem})
    assert first.status_code == again.status_code == 200
    assert again.json()["version"] == first.json()["version"] == 2
    history = client.get(f"/api/v1/reflections/{code}/history", headers=coordinator).json()
    assert [row["event"] for row in history] == ["submit", "classify"]
    unkeyed = client.post(path, json=classify, headers=coordinator)
    assert unkeyed.status_code == 409


def test_open311_post_honours_the_key(client: TestClient, session: Session) -> None:
    _, api_key = create_api_key(session, f"idempotency-{uuid.uuid4().hex[:8]}")
    marker, idem = uuid.uuid4().hex, key()
    form = {
        "api_key": api_key,
        "service_code": "street_lighting",
        "address_string": "Chợ Đông Ba",
        "description": f"Đèn đường hỏng {marker}",
    }
    answers = [
        client.post("/open311/v2/requests.json", data=form, headers={"Idempotency-Key": idem})
        for _ in range(3)
    ]
    assert {a.status_code for a in answers} == {201}
    assert len({a.text for a in answers}) == 1
    assert rows_with(session, marker) == 1
    other = form | {"description": f"Đèn khác {marker}"}
    reused = client.post("/open311/v2/requests.json", data=other, headers={"Idempotency-Key": idem})
    assert reused.status_code == 422  # in the error format Open311 clients parse
    [error] = reused.json()
    assert error["code"] == 422 and "Idempotency-Key" in error["description"]


def test_the_web_form_posted_twice_submits_once(app: FastAPI, session: Session) -> None:
    """The form carries a key of its own render: a double click or a resubmission acts once."""
    browser = new_browser(app)
    page = browser.get("/submit").text
    action = re.search(r'action="(/submit\?idempotency_key=[^"]+)"', page)
    assert action, "the submit form has no key"
    marker = uuid.uuid4().hex
    fields = {
        "csrf": CSRF_FIELD.search(page).group(1),  # type: ignore[union-attr]
        "description": f"Ngập nước sau mưa {marker}",
        "address": "12 Trần Hưng Đạo",
    }
    first = browser.post(action.group(1), data=fields)
    again = browser.post(action.group(1), data=fields)
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    assert rows_with(session, marker) == 1
    other = re.search(r'action="(/submit\?[^"]+)"', browser.get("/submit").text)
    assert other and other.group(1) != action.group(1)  # each render its own key


def test_a_refusal_is_not_remembered(client: TestClient, session: Session) -> None:
    """A 422 changed nothing: the corrected request with the same key is a new one."""
    marker, idem = uuid.uuid4().hex, key()
    refused = post(client, body(marker) | {"address": None}, idem)
    assert refused.status_code == 422
    assert post(client, body(marker), idem).status_code == 201
    assert rows_with(session, marker) == 1


@pytest.mark.parametrize(
    "bad", [b"short", b"x" * 256, "ñ".encode() * 20, b"with space in it 12345"]
)
def test_a_malformed_key_is_refused(client: TestClient, session: Session, bad: bytes) -> None:
    marker = uuid.uuid4().hex
    response = client.post(
        "/api/v1/reflections", json=body(marker), headers={"Idempotency-Key": bad}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert rows_with(session, marker) == 0


def test_a_key_answers_for_24_hours_then_is_forgotten(client: TestClient, session: Session) -> None:
    marker, idem = uuid.uuid4().hex, key()
    first = post(client, body(marker), idem)
    with clock.frozen_at(clock.now() + timedelta(hours=23, minutes=59)):
        assert post(client, body(marker), idem).json() == first.json()
    with clock.frozen_at(clock.now() + timedelta(hours=24, minutes=1)):
        later = post(client, body(marker), idem)
        assert later.status_code == 201 and "idempotent-replayed" not in later.headers
        assert later.json()["tracking_code"] != first.json()["tracking_code"]
    with clock.frozen_at(clock.now() + timedelta(hours=49)):
        assert idempotency.purge_expired(session) >= 2
    assert record_of(session, idem) is None


def record_of(session: Session, idem: str) -> IdempotencyRecord | None:
    """The record of an anonymous caller's key."""
    scope = {"headers": [], "method": "POST", "path": "/", "query_string": b""}
    claim = idempotency.Claim.of(scope, idem, b"")
    session.expire_all()
    return session.exec(
        select(IdempotencyRecord).where(IdempotencyRecord.key_hash == claim.key_hash)
    ).first()


def test_the_remembered_answer_is_unreadable_without_the_key(
    client: TestClient, session: Session
) -> None:
    """It holds the citizen's key: the table keeps it encrypted, and the key itself hashed."""
    marker, idem = uuid.uuid4().hex, key()
    answer = post(client, body(marker), idem).json()
    record = record_of(session, idem)
    assert record is not None and record.answer is not None
    for secret in (answer["citizen_key"], answer["tracking_code"], idem):
        assert secret.encode() not in record.answer
        assert secret not in record.key_hash + record.request_hash


def test_a_restarted_service_answers_the_same(session: Session) -> None:
    """The answer lives in the database: a new process (here, a new app) replays it."""
    from runtime.asgi import create_app

    marker, idem = uuid.uuid4().hex, key()
    with TestClient(create_app()) as one:
        first = post(one, body(marker), idem)
    with TestClient(create_app()) as two:
        again = post(two, body(marker), idem)
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert rows_with(session, marker) == 1


def test_a_duplicate_arriving_while_the_first_runs_does_not_act(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first request holds its key's row; the second waits for it, then gets its answer."""
    started, release = threading.Event(), threading.Event()
    real = intake.submit

    def slow_submit(*args: Any, **kwargs: Any) -> Any:
        started.set()
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(api.routes.reflections, "submit", slow_submit)
    marker, idem = uuid.uuid4().hex, key()
    answers: list[Response] = []

    def send() -> None:
        answers.append(post(client, body(marker), idem))

    first = threading.Thread(target=send)
    first.start()
    assert started.wait(10)
    started.clear()
    second = threading.Thread(target=send)
    second.start()
    second.join(0.5)
    assert not started.is_set(), "the duplicate reached the service while the first ran"
    release.set()
    first.join(15)
    second.join(15)
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json() == answers[1].json()
    assert sorted(a.headers.get("idempotent-replayed", "no") for a in answers) == ["no", "true"]
    assert rows_with(session, marker) == 1


def test_a_failure_after_the_change_leaves_no_change(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The response is built before the commit: if building it fails, nothing was done."""

    def broken_view(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("the view could not be built")

    monkeypatch.setattr(api.routes.reflections, "reflection_view", broken_view)
    marker = uuid.uuid4().hex
    response = post(client, body(marker), key())
    assert response.status_code == 500
    assert rows_with(session, marker) == 0
    history = session.exec(select(func.count()).select_from(HistoryEvent)).one()
    monkeypatch.undo()
    assert post(client, body(marker), key()).status_code == 201
    assert session.exec(select(func.count()).select_from(HistoryEvent)).one() == history + 1


def test_a_failed_commit_is_503_and_the_retry_acts_once(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = RequestSession.commit_now

    def lost(self: RequestSession) -> None:
        raise exc.OperationalError("COMMIT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(RequestSession, "commit_now", lost)
    marker, idem = uuid.uuid4().hex, key()
    failed = post(client, body(marker), idem)
    assert failed.status_code == 503
    assert failed.headers["retry-after"].isdigit()
    assert failed.headers["content-type"] == "application/problem+json"
    assert rows_with(session, marker) == 0
    monkeypatch.setattr(RequestSession, "commit_now", real)
    assert post(client, body(marker), idem).status_code == 201
    assert post(client, body(marker), idem).headers["idempotent-replayed"] == "true"
    assert rows_with(session, marker) == 1


def test_a_failed_commit_without_a_key_is_503_and_keeps_nothing(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a key the submission commits in the endpoint's own thread, its answer built:
    a commit lost there is the same 503, and nothing of the request stays."""
    outbox = session.exec(select(func.count()).select_from(OutboxMessage)).one()

    def lost(self: RequestSession) -> None:
        raise exc.OperationalError("COMMIT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(RequestSession, "commit_now", lost)
    marker = uuid.uuid4().hex
    failed = client.post("/api/v1/reflections", json=body(marker))
    assert failed.status_code == 503
    assert failed.headers["retry-after"].isdigit()
    assert failed.headers["content-type"] == "application/problem+json"
    assert rows_with(session, marker) == 0
    assert session.exec(select(func.count()).select_from(OutboxMessage)).one() == outbox
    monkeypatch.undo()
    assert client.post("/api/v1/reflections", json=body(marker)).status_code == 201
    assert rows_with(session, marker) == 1
