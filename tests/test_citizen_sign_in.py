"""Signing in by a one-time code through the API (issue 16): the code goes out through the
outbox's urgent path, the session token opens every reflection of the contact wherever
X-Citizen-Key is accepted, and every refusal changes nothing it should not."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from reflections.messaging import sign_in
from reflections.models import CitizenSession, OutboxMessage, SignInCode
from reflections.platform import clock
from reflections.platform.settings import get_settings
from tests.api_helpers import as_citizen, as_user, submit

CODES = "/api/v1/citizen/codes"
SESSIONS = "/api/v1/citizen/sessions"


def new_phone() -> str:
    """A valid Vietnamese mobile number no other test uses."""
    return f"0905 {random.randint(100, 999)} {random.randint(100, 999)}"


def code_sent_to(session: Session, e164: str) -> str:
    session.expire_all()
    row = session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.kind == "sign_in_code", OutboxMessage.recipient == e164)
        .order_by(col(OutboxMessage.id).desc())
    ).first()
    assert row is not None, f"no code was sent to {e164}"
    assert row.urgent and row.channel == "sms"
    return str(row.context["code"])


def codes_to(session: Session, e164: str) -> int:
    session.expire_all()
    count = select(func.count()).select_from(OutboxMessage)
    query = count.where(OutboxMessage.kind == "sign_in_code", OutboxMessage.recipient == e164)
    return int(session.exec(query).one())


def e164(phone: str) -> str:
    return "+84" + phone.replace(" ", "")[1:]


@pytest.fixture
def citizen(client: TestClient) -> tuple[str, dict[str, object]]:
    phone = new_phone()
    contact = {"name": "Lê Thị Hoa", "phone": phone}
    return phone, submit(client, contact=contact)


def sign_in_with(client: TestClient, session: Session, phone: str) -> str:
    assert client.post(CODES, json={"contact": phone}).status_code == 202
    code = code_sent_to(session, e164(phone))
    answer = client.post(SESSIONS, json={"contact": phone, "code": code})
    assert answer.status_code == 201, answer.text
    token = answer.json()["citizen_token"]
    assert token.startswith("cs.")
    return str(token)


def test_a_code_opens_every_reflection_of_the_contact_also_one_an_operator_filed(
    client: TestClient, session: Session, citizen: tuple[str, dict[str, object]]
) -> None:
    phone, first = citizen
    by_phone = client.post(
        "/api/v1/reflections",
        headers=as_user(client, "operator"),
        json={
            "description": "Cống thoát nước bị tắc, nước tràn ra đường",
            "address": "5 Nguyễn Huệ",
            "contact": {"phone": phone.replace(" ", "")},  # typed another way
        },
    )
    assert by_phone.status_code == 201, by_phone.text
    token = sign_in_with(client, session, phone)

    mine = client.get("/api/v1/citizen/reflections", headers=as_citizen(token))
    assert mine.status_code == 200
    codes = {item["tracking_code"] for item in mine.json()["items"]}
    assert codes == {first["tracking_code"], by_phone.json()["tracking_code"]}
    for code in codes:  # wherever X-Citizen-Key works
        assert (
            client.get(f"/api/v1/reflections/{code}", headers=as_citizen(token)).status_code == 200
        )


def test_another_contacts_reflection_stays_closed(
    client: TestClient, session: Session, citizen: tuple[str, dict[str, object]]
) -> None:
    phone, _ = citizen
    other = submit(client, contact={"phone": new_phone()})
    token = sign_in_with(client, session, phone)
    answer = client.get(f"/api/v1/reflections/{other['tracking_code']}", headers=as_citizen(token))
    assert answer.status_code == 404
    listed = client.get("/api/v1/citizen/reflections", headers=as_citizen(token)).json()
    assert other["tracking_code"] not in {item["tracking_code"] for item in listed["items"]}


def test_an_unknown_contact_gets_the_same_answer_and_no_message(
    client: TestClient, session: Session
) -> None:
    phone = new_phone()
    answer = client.post(CODES, json={"contact": phone})
    assert answer.status_code == 202
    assert answer.json()["detail"].startswith("if reflections were made with this contact")
    assert codes_to(session, e164(phone)) == 0
    # and trying a code gets what a known contact's wrong code gets
    wrong = client.post(SESSIONS, json={"contact": phone, "code": "000000"})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "code"


def test_a_wrong_code_is_refused_counted_and_opens_nothing(
    client: TestClient, session: Session, citizen: tuple[str, dict[str, object]]
) -> None:
    phone, _ = citizen
    client.post(CODES, json={"contact": phone})
    right = code_sent_to(session, e164(phone))
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    sessions_before = session.exec(select(func.count()).select_from(CitizenSession)).one()
    answer = client.post(SESSIONS, json={"contact": phone, "code": wrong})
    assert answer.status_code == 422
    assert answer.json()["errors"] == [{"field": "code", "reason": "wrong code; 4 tries left"}]
    session.expire_all()
    assert session.exec(select(func.count()).select_from(CitizenSession)).one() == sessions_before
    row = session.exec(select(SignInCode).where(SignInCode.address == e164(phone))).one()
    assert row.attempts == 1 and row.used_at is None
    # the right one still works afterwards, once
    assert client.post(SESSIONS, json={"contact": phone, "code": right}).status_code == 201
    again = client.post(SESSIONS, json={"contact": phone, "code": right})
    assert again.status_code == 422 and "expired or was used" in again.json()["detail"]


def test_five_wrong_tries_end_the_code(
    client: TestClient, session: Session, citizen: tuple[str, dict[str, object]]
) -> None:
    phone, _ = citizen
    client.post(CODES, json={"contact": phone})
    right = code_sent_to(session, e164(phone))
    wrong = f"{(int(right) + 7) % 1_000_000:06d}"
    statuses = [
        client.post(SESSIONS, json={"contact": phone, "code": wrong}).status_code for _ in range(5)
    ]
    assert statuses == [422, 422, 422, 422, 429]
    late = client.post(SESSIONS, json={"contact": phone, "code": right})
    assert late.status_code == 429 and late.headers["Retry-After"] == "600"
    assert late.headers["content-type"] == "application/problem+json"


def test_an_expired_code_is_refused(
    client: TestClient, session: Session, citizen: tuple[str, dict[str, object]]
) -> None:
    phone, _ = citizen
    client.post(CODES, json={"contact": phone})
    code = code_sent_to(session, e164(phone))
    with clock.frozen_at(clock.now() + timedelta(minutes=11)):
        answer = client.post(SESSIONS, json={"contact": phone, "code": code})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["reason"] == "no code is waiting: it expired or was used"


def test_codes_per_contact_are_limited(
    client: TestClient, session: Session, citizen: tuple[str, dict[str, object]]
) -> None:
    phone, _ = citizen
    limit = get_settings().sign_in_codes_per_hour
    for _ in range(limit):
        assert client.post(CODES, json={"contact": phone}).status_code == 202
    refused = client.post(CODES, json={"contact": phone})
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "3600"
    assert codes_to(session, e164(phone)) == limit  # nothing more was sent


def test_codes_per_client_address_are_limited(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = get_settings()
    session.expire_all()
    since = clock.now() - timedelta(hours=1)
    asked = select(func.count()).select_from(SignInCode).where(col(SignInCode.created_at) > since)
    already = session.exec(asked.where(SignInCode.client == "testclient")).one()
    monkeypatch.setattr(settings, "sign_in_codes_per_hour_per_client", already + 1)
    assert client.post(CODES, json={"contact": new_phone()}).status_code == 202
    assert client.post(CODES, json={"contact": new_phone()}).status_code == 429


def test_input_that_is_no_contact_is_a_422_naming_it(client: TestClient) -> None:
    answer = client.post(CODES, json={"contact": "hello"})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "contact"


def test_signing_out_ends_the_token(
    client: TestClient, session: Session, citizen: tuple[str, dict[str, object]]
) -> None:
    phone, first = citizen
    token = sign_in_with(client, session, phone)
    assert client.delete(f"{SESSIONS}/current", headers=as_citizen(token)).status_code == 204
    answer = client.get(f"/api/v1/reflections/{first['tracking_code']}", headers=as_citizen(token))
    assert answer.status_code == 401


def test_an_email_contact_signs_in_too(client: TestClient, session: Session) -> None:
    email = f"hoa.{random.randint(1000, 9999)}@example.com"
    made = submit(client, contact={"email": email})
    assert client.post(CODES, json={"contact": email.upper()}).status_code == 202
    session.expire_all()
    row = session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.kind == "sign_in_code")
        .order_by(col(OutboxMessage.id).desc())
    ).first()
    assert row is not None and row.channel == "email"
    contact = sign_in.parse_contact(email.upper())
    assert row.recipient == contact.address
    answer = client.post(SESSIONS, json={"contact": email, "code": row.context["code"]})
    token = answer.json()["citizen_token"]
    code = made["tracking_code"]
    assert client.get(f"/api/v1/reflections/{code}", headers=as_citizen(token)).status_code == 200
