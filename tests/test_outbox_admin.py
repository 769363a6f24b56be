"""The outbox's dead letters for admins (DESIGN.md §6): listed masked, counted, requeued.

The database is shared by the session and other tests leave outbox rows of every status, so
each test makes its own rows and looks at those (counts as differences).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import update
from sqlmodel import Session, col, select

from reflections.messaging.dead_letters import mask_recipient
from reflections.models import OutboxMessage, OutboxStatus, Reflection
from reflections.platform import clock
from reflections.platform.settings import get_settings
from tests.api_helpers import as_user, submit

OUTBOX = "/api/v1/admin/outbox"
NO_SUCH_ID = 2**31 - 1
EMAIL = "nam.tran@example.com"
PHONE = "+84905123456"


def outbox_row(
    session: Session,
    status: OutboxStatus = OutboxStatus.DEAD,
    *,
    recipient: str = EMAIL,
    channel: str = "email",
    reflection_id: int | None = None,
    last_error: str | None = None,
    language: str = "en",
) -> int:
    """The id of a new committed row of a "received" message, as the dispatcher leaves it."""
    now = clock.now()
    tag = uuid.uuid4().hex[:12]
    row = OutboxMessage(
        reflection_id=reflection_id,
        kind="received",
        channel=channel,
        recipient=recipient,
        language=language,
        context={"tracking_code": f"HUE-T{tag}", "link_url": f"http://127.0.0.1/r/HUE-T{tag}"},
        status=status,
        attempts=10 if status is OutboxStatus.DEAD else 1,
        next_attempt_at=now,
        created_at=now,
        sent_at=now if status is OutboxStatus.SENT else None,
        last_error=last_error,
        idempotency_key=f"test-dead-letters-{tag}",
    )
    session.add(row)
    session.commit()
    assert row.id is not None
    return row.id


def status_of(session: Session, row_id: int) -> OutboxStatus:
    session.expire_all()
    row = session.get(OutboxMessage, row_id)
    assert row is not None
    return OutboxStatus(row.status)


@pytest.fixture
def admin(client: TestClient) -> dict[str, str]:
    return as_user(client, "admin")


def get(client: TestClient, path: str, headers: dict[str, str], **params: Any) -> Any:
    response = client.get(OUTBOX + path, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def all_items(client: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    """Every page, following next_cursor."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = get(client, "", headers, **params, **({"cursor": cursor} if cursor else {}))
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def test_mask_recipient() -> None:
    assert mask_recipient(PHONE) == "+84*******56"
    assert mask_recipient(EMAIL) == "n***@example.com"
    assert mask_recipient("") == ""


def test_dead_letters_are_listed_newest_first_with_recipients_masked(
    client: TestClient, admin: dict[str, str], session: Session
) -> None:
    reflection = submit(client)  # writes an sms and an email message for the reporter
    reflection_id = session.exec(
        select(Reflection.id).where(Reflection.tracking_code == reflection["tracking_code"])
    ).one()
    session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.reflection_id) == reflection_id)
        .values(status=OutboxStatus.FAILED_PERMANENT, last_error="21211: +84905123456 invalid")
    )
    session.commit()
    orphan = outbox_row(session, last_error=f"550 5.1.1 <{EMAIL}>: no such mailbox")

    page = get(client, "", admin, limit=200)
    body = str(page)
    assert PHONE not in body
    assert "84905123456" not in body
    assert EMAIL not in body
    assert "an.nguyen@example.com" not in body
    ids = [item["id"] for item in page["items"]]
    assert ids == sorted(ids, reverse=True)
    ours = [i for i in page["items"] if i["tracking_code"] == reflection["tracking_code"]]
    assert {(i["channel"], i["recipient"], i["status"]) for i in ours} == {
        ("sms", "+84*******56", "failed_permanent"),
        ("email", "a***@example.com", "failed_permanent"),
    }
    assert {i["last_error"] for i in ours} == {"21211: +84*******56 invalid"}
    [item] = [i for i in page["items"] if i["id"] == orphan]
    assert item == {
        "id": orphan,
        "tracking_code": None,
        "kind": "received",
        "channel": "email",
        "recipient": "n***@example.com",
        "language": "en",
        "status": "dead",
        "attempts": 10,
        "last_error": "550 5.1.1 <n***@example.com>: no such mailbox",
        "created_at": item["created_at"],
        "next_attempt_at": item["next_attempt_at"],
        "sent_at": None,
        "delivery_status": None,
    }
    assert max(ids) == orphan  # the newest row of all comes first


def test_status_filter(client: TestClient, admin: dict[str, str], session: Session) -> None:
    dead = outbox_row(session, OutboxStatus.DEAD)
    failed = outbox_row(session, OutboxStatus.FAILED_PERMANENT)
    sent = outbox_row(session, OutboxStatus.SENT)

    def listed(**params: Any) -> set[int]:
        return {item["id"] for item in get(client, "", admin, limit=200, **params)["items"]}

    mine = {dead, failed, sent}
    assert listed() & mine == {dead, failed}
    assert listed(status="dead") & mine == {dead}
    assert listed(status=["sent", "failed_permanent"]) & mine == {sent, failed}
    refused = client.get(OUTBOX, headers=admin, params={"status": "lost"})
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["errors"][0]["field"].startswith("status")


def test_pages_follow_the_cursor_without_gaps_or_repeats(
    client: TestClient, admin: dict[str, str], session: Session
) -> None:
    rows = [outbox_row(session) for _ in range(5)]
    first = get(client, "", admin, status="dead", limit=2)
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    items = all_items(client, admin, status="dead", limit=2)
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids))
    assert ids == sorted(ids, reverse=True)
    assert ids[:5] == sorted(rows, reverse=True)
    assert ids[:2] == [item["id"] for item in first["items"]]

    for bad in ("not-a-cursor", "aWQ6NQ=="):  # the second is another listing's ("id:5")
        refused = client.get(OUTBOX, headers=admin, params={"cursor": bad})
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"] == [
            {"field": "cursor", "reason": "is not a cursor this API gave out"}
        ]
    assert client.get(OUTBOX, headers=admin, params={"limit": 0}).status_code == 422


def test_summary_counts_per_status_and_channel(
    client: TestClient, admin: dict[str, str], session: Session
) -> None:
    before = get(client, "/summary", admin)
    outbox_row(session, OutboxStatus.DEAD)
    outbox_row(session, OutboxStatus.DEAD, channel="sms", recipient=PHONE)
    outbox_row(session, OutboxStatus.FAILED_PERMANENT, channel="sms", recipient=PHONE)
    after = get(client, "/summary", admin)

    statuses = {"pending", "sending", "sent", "failed_permanent", "dead", "held"}
    assert set(after["statuses"]) == statuses
    assert after["total"] == before["total"] + 3
    assert after["total"] == sum(after["statuses"].values())
    assert after["statuses"]["dead"] == before["statuses"]["dead"] + 2
    assert after["statuses"]["failed_permanent"] == before["statuses"]["failed_permanent"] + 1
    empty = dict.fromkeys(statuses, 0)
    email_before = before["channels"].get("email", empty)
    sms_before = before["channels"].get("sms", empty)
    assert after["channels"]["email"]["dead"] == email_before["dead"] + 1
    assert after["channels"]["sms"]["dead"] == sms_before["dead"] + 1
    assert after["channels"]["sms"]["failed_permanent"] == sms_before["failed_permanent"] + 1
    for status in statuses:
        per_channel = sum(counts[status] for counts in after["channels"].values())
        assert per_channel == after["statuses"][status]


def test_retry_requeues_dead_letters_only(
    client: TestClient, admin: dict[str, str], session: Session
) -> None:
    dead = outbox_row(session, OutboxStatus.DEAD)
    failed = outbox_row(session, OutboxStatus.FAILED_PERMANENT)
    sent = outbox_row(session, OutboxStatus.SENT)
    pending = outbox_row(session, OutboxStatus.PENDING)
    ids = [sent, dead, NO_SUCH_ID, failed, pending, dead]

    response = client.post(f"{OUTBOX}/retry", headers=admin, json={"ids": ids})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "requeued": sorted([dead, failed]),
        "not_requeued": sorted([sent, pending, NO_SUCH_ID]),
    }
    session.expire_all()
    for row_id in (dead, failed):
        fresh = session.get(OutboxMessage, row_id)
        assert fresh is not None
        assert fresh.status is OutboxStatus.PENDING
        assert fresh.attempts == 0
        assert fresh.next_attempt_at <= clock.now() + timedelta(seconds=1)
    assert status_of(session, sent) is OutboxStatus.SENT
    assert status_of(session, pending) is OutboxStatus.PENDING

    again = client.post(f"{OUTBOX}/retry", headers=admin, json={"ids": [dead]})
    assert again.json() == {"requeued": [], "not_requeued": [dead]}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"ids": []},
        {"ids": [0]},
        {"ids": [-3]},
        {"ids": [2**31]},
        {"ids": ["seven"]},
        {"ids": list(range(1, 1002))},
        {"ids": [1], "all": True},
        [1, 2],
    ],
)
def test_retry_refuses_bad_bodies(client: TestClient, admin: dict[str, str], body: Any) -> None:
    response = client.post(f"{OUTBOX}/retry", headers=admin, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


ENDPOINTS = [("GET", ""), ("GET", "/summary"), ("POST", "/retry")]


@pytest.mark.parametrize("username", ["coordinator", "handler.phuxuan", "auditor", None])
def test_only_admins_may_see_or_retry(
    client: TestClient, session: Session, username: str | None
) -> None:
    dead = outbox_row(session)
    headers = as_user(client, username) if username else {}
    expected = 403 if username else 401
    for method, path in ENDPOINTS:
        response = client.request(method, OUTBOX + path, headers=headers, json={"ids": [dead]})
        assert response.status_code == expected, (method, path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert status_of(session, dead) is OutboxStatus.DEAD


# --- the read operations fuzzed as an admin ------------------------------------------------
# tests/test_schemathesis.py calls admin operations only as a non-admin (refused before any
# handler runs); these GETs change nothing, so they are safe to fuzz as the admin too.


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _read_operations() -> schemathesis.BaseSchema:
    from runtime.asgi import create_app

    document = create_app().openapi()
    get_settings.cache_clear()  # read at collection; the fixtures configure their own
    phases = {
        "coverage": {"enabled": True, "unexpected-methods": []},
        "stateful": {"enabled": False},
    }
    config = schemathesis.Config.from_dict({"seed": 20261127, "phases": phases})
    schema = schemathesis.openapi.from_dict(document, config=config)
    return schema.include(path_regex=r"^/api/v1/admin/outbox", method="GET")


@_read_operations().parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_read_operations_as_admin(case: Case[Any], app: FastAPI, admin: dict[str, str]) -> None:
    case.call_and_validate(headers=admin, checks=CHECKS, app=app)
