"""Opting out and choosing channels through the API, for citizens and staff (DESIGN.md §6)."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from reflections.lifecycle.service import EventInput, apply_event
from reflections.models import OutboxMessage, Reflection, User
from reflections.models.enums import LifecycleEvent
from reflections.organisation.auth import create_api_key
from tests.api_helpers import as_citizen, as_user, submit
from tests.lifecycle_helpers import COORDINATOR

URL = "/api/v1/me/notifications"


def _kinds(session: Session, code: str) -> list[tuple[str, str]]:
    session.expire_all()
    reflection = session.exec(select(Reflection).where(Reflection.tracking_code == code)).one()
    rows = session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.reflection_id == reflection.id)
        .order_by(col(OutboxMessage.id))
    ).all()
    return [(row.kind, row.channel) for row in rows]


def _reject(session: Session, code: str) -> None:
    reflection = session.exec(select(Reflection).where(Reflection.tracking_code == code)).one()
    assert reflection.id is not None
    apply_event(
        session, reflection.id, LifecycleEvent.REJECT, COORDINATOR, EventInput(reason="trùng")
    )


def test_a_citizen_chooses_email_only_then_opts_out(client: TestClient, session: Session) -> None:
    submitted = submit(client)
    key, code = submitted["citizen_key"], submitted["tracking_code"]
    read = client.get(URL, headers=as_citizen(key))
    assert read.status_code == 200
    assert read.json() == {
        "opted_out": False,
        "channels": [],
        "language": "vi",
        "contacts": ["sms", "email"],
    }
    chosen = client.patch(URL, json={"channels": ["email"]}, headers=as_citizen(key))
    assert chosen.status_code == 200 and chosen.json()["channels"] == ["email"]
    opted = client.patch(URL, json={"opted_out": True}, headers=as_citizen(key))
    assert opted.json()["opted_out"] is True and opted.json()["channels"] == ["email"]
    _reject(session, code)
    assert _kinds(session, code) == [("received", "sms"), ("received", "email")]


def test_email_only_applies_to_the_next_message(client: TestClient, session: Session) -> None:
    submitted = submit(client)
    key, code = submitted["citizen_key"], submitted["tracking_code"]
    client.patch(URL, json={"channels": ["email"], "language": "en"}, headers=as_citizen(key))
    _reject(session, code)
    assert _kinds(session, code)[2:] == [("rejected", "email")]


def test_a_channel_without_an_address_is_a_422_naming_the_field(client: TestClient) -> None:
    submitted = submit(client, contact={"name": "An", "email": "an@example.com"})
    refused = client.patch(
        URL, json={"channels": ["sms"]}, headers=as_citizen(submitted["citizen_key"])
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "channels" in refused.text and "sms" in refused.text
    unchanged = client.get(URL, headers=as_citizen(submitted["citizen_key"]))
    assert unchanged.json()["channels"] == []


def test_unknown_keys_and_bad_bodies_are_refused(client: TestClient) -> None:
    assert client.get(URL).status_code == 401
    assert client.get(URL, headers=as_citizen("not-a-key")).status_code == 404
    submitted = submit(client)
    headers = as_citizen(submitted["citizen_key"])
    assert client.patch(URL, json={"channels": ["fax"]}, headers=headers).status_code == 422
    assert client.patch(URL, json={"opted_out": "maybe"}, headers=headers).status_code == 422
    assert client.patch(URL, json={"name": "x"}, headers=headers).status_code == 422


def test_a_service_client_has_no_preferences(client: TestClient, session: Session) -> None:
    _, key = create_api_key(session, f"prefs-{uuid.uuid4().hex[:8]}")
    assert client.get(URL, headers={"X-API-Key": key}).status_code == 403
    refused = client.patch(URL, json={"opted_out": True}, headers={"X-API-Key": key})
    assert refused.status_code == 403


def test_staff_opt_out_and_back_in(client: TestClient, session: Session) -> None:
    headers = as_user(client, "handler.hepco")
    before = client.get(URL, headers=headers).json()
    assert before["opted_out"] is False and "email" in before["contacts"]
    try:
        assert client.patch(URL, json={"opted_out": True}, headers=headers).status_code == 200
        session.expire_all()
        user = session.exec(select(User).where(User.username == "handler.hepco")).one()
        assert user.opted_out is True
    finally:
        back = client.patch(URL, json={"opted_out": False}, headers=headers)
        assert back.json()["opted_out"] is False
