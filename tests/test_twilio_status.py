"""Twilio's delivery-status callback: signed by Twilio, it moves an outbox row's delivery status
forward, never back; anything unsigned or forged is refused and changes nothing."""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session
from twilio.request_validator import RequestValidator

from notifications import Message, TwilioChannel
from reflections.errors import InvalidInput
from reflections.messaging.channels import (
    TWILIO_STATUS_PATH,
    twilio_config,
    twilio_status_callback_url,
)
from reflections.messaging.delivery_status import record_delivery_status
from reflections.models import OutboxMessage, OutboxStatus
from reflections.platform.settings import get_settings

TOKEN = "twilio-test-auth-token-0123456789"
PUBLIC_URL = "https://phananh.example.vn/"  # not the test client's http://testserver
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Set (or, with None, unset) REFLECTIONS_* variables, and rebuild the settings."""
    names = {name: f"REFLECTIONS_{name.upper()}" for name in values}
    previous = {var: os.environ.get(var) for var in names.values()}
    for name, value in values.items():
        if value is None:
            os.environ.pop(names[name], None)
        else:
            os.environ[names[name]] = value
    get_settings.cache_clear()
    try:
        yield
    finally:
        for var, value in previous.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
        get_settings.cache_clear()


@pytest.fixture
def twilio(client: TestClient) -> Iterator[TestClient]:
    """Twilio configured (auth token, public URL): the client, to post callbacks with."""
    with environment(
        twilio_auth_token=TOKEN,
        twilio_account_sid="AC" + "0" * 32,
        twilio_from_number="+15005550006",
        public_url=PUBLIC_URL,
    ):
        yield client


@pytest.fixture
def unconfigured(client: TestClient) -> Iterator[TestClient]:
    with environment(twilio_auth_token=None, public_url=PUBLIC_URL):
        yield client


def new_sid() -> str:
    return "SM" + uuid.uuid4().hex


def outbox_row(session: Session, provider_id: str | None = None) -> OutboxMessage:
    row = OutboxMessage(
        reflection_id=None,
        kind="received",
        channel="sms",
        recipient="+84905123456",
        language="vi",
        status=OutboxStatus.SENT,
        next_attempt_at=T0,
        created_at=T0,
        sent_at=T0,
        provider_id=provider_id,
        idempotency_key=f"test-{uuid.uuid4().hex}",
    )
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def reload(session: Session, row: OutboxMessage) -> OutboxMessage:
    session.expire_all()
    fresh = session.get(OutboxMessage, row.id)
    assert fresh is not None
    return fresh


def form(sid: str, status: str, **extra: str) -> dict[str, str]:
    """What Twilio posts (the fields it always sends, and more, all signed)."""
    return {
        "AccountSid": "AC" + "0" * 32,
        "ApiVersion": "2010-04-01",
        "From": "+15005550006",
        "To": "+84905123456",
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        **extra,
    }


def callback(
    client: TestClient,
    params: dict[str, str],
    key: str | None = None,
    *,
    token: str = TOKEN,
    signed_url: str | None = None,
    signed_params: dict[str, str] | None = None,
    signature: str | None = "compute",
) -> httpx.Response:
    """POST a status callback the way Twilio does: to the callback URL (with ``?key=``), signed
    over the public URL and the form, unless a test tampers with any of them."""
    query = "?" + urlencode({"key": key}) if key is not None else ""
    if signature == "compute":
        url = signed_url if signed_url is not None else twilio_status_callback_url() + query
        validator = RequestValidator(token)
        signature = validator.compute_signature(url, signed_params or params)
    headers = {"X-Twilio-Signature": signature} if signature is not None else {}
    response: httpx.Response = client.post(TWILIO_STATUS_PATH + query, data=params, headers=headers)
    return response


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


# --- recorded -------------------------------------------------------------------------------


def test_delivered_updates_the_row_found_by_key(twilio: TestClient, session: Session) -> None:
    row = outbox_row(session)  # the SID was never stored (a crash after the send)
    sid = new_sid()
    response = callback(twilio, form(sid, "delivered"), row.idempotency_key)
    assert response.status_code == 204, response.text
    assert response.content == b""
    fresh = reload(session, row)
    assert fresh.delivery_status == "delivered"
    assert fresh.delivery_updated_at is not None
    assert fresh.provider_id == sid  # stored from the callback
    assert fresh.last_error is None
    assert fresh.status is OutboxStatus.SENT  # the outbox's own status is not Twilio's


def test_found_by_sid_without_key(twilio: TestClient, session: Session) -> None:
    sid = new_sid()
    row = outbox_row(session, provider_id=sid)
    assert callback(twilio, form(sid, "sent")).status_code == 204
    assert reload(session, row).delivery_status == "sent"


def test_key_naming_no_row_falls_back_to_the_sid(twilio: TestClient, session: Session) -> None:
    sid = new_sid()
    row = outbox_row(session, provider_id=sid)
    assert callback(twilio, form(sid, "sent"), "no-such-key").status_code == 204
    assert reload(session, row).delivery_status == "sent"


def test_late_sent_after_delivered_does_not_go_back(twilio: TestClient, session: Session) -> None:
    sid = new_sid()
    row = outbox_row(session, provider_id=sid)
    assert callback(twilio, form(sid, "delivered"), row.idempotency_key).status_code == 204
    delivered_at = reload(session, row).delivery_updated_at
    for late in ("sent", "queued", "sending", "delivered"):
        assert callback(twilio, form(sid, late), row.idempotency_key).status_code == 204
    fresh = reload(session, row)
    assert fresh.delivery_status == "delivered"
    assert fresh.delivery_updated_at == delivered_at


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        ("undelivered", "30003", "twilio: undelivered (error 30003)"),
        ("failed", "30008", "twilio: failed (error 30008)"),
        ("failed", None, "twilio: failed"),
    ],
)
def test_failure_records_the_error_code(
    twilio: TestClient, session: Session, status: str, code: str | None, error: str
) -> None:
    sid = new_sid()
    row = outbox_row(session, provider_id=sid)
    assert callback(twilio, form(sid, "sent"), row.idempotency_key).status_code == 204
    params = form(sid, status, **({"ErrorCode": code} if code else {}))
    assert callback(twilio, params, row.idempotency_key).status_code == 204
    fresh = reload(session, row)
    assert fresh.delivery_status == status
    assert fresh.last_error == error


def test_the_url_the_channel_gives_twilio_is_the_one_verified(
    twilio: TestClient, session: Session
) -> None:
    row = outbox_row(session)
    config = twilio_config(get_settings())
    assert config is not None
    message = Message("sms", row.recipient, "vi", "Xin chào", row.idempotency_key)
    url = TwilioChannel(config).status_callback(message)
    assert url.startswith(PUBLIC_URL.rstrip("/") + TWILIO_STATUS_PATH + "?key=")
    params = form(new_sid(), "delivered")
    signature = RequestValidator(TOKEN).compute_signature(url, params)
    path = url.removeprefix(PUBLIC_URL.rstrip("/"))
    response = twilio.post(path, data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 204, response.text
    assert reload(session, row).delivery_status == "delivered"


# --- refused --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "forgery", ["wrong token", "tampered status", "tampered sid", "tampered key", "request host"]
)
def test_forged_signature_is_refused(twilio: TestClient, session: Session, forgery: str) -> None:
    sid = new_sid()
    row, other = outbox_row(session, provider_id=sid), outbox_row(session)
    genuine = form(sid, "sent")
    key = row.idempotency_key
    query = "?" + urlencode({"key": key})
    kwargs: dict[str, Any] = {}
    params = form(sid, "failed", ErrorCode="30003")
    if forgery == "wrong token":
        kwargs["token"] = "not-" + TOKEN
    elif forgery == "tampered status":  # signed as "sent", posted as "failed"
        kwargs["signed_params"] = genuine
    elif forgery == "tampered sid":
        kwargs["signed_params"] = params
        params = {**params, "MessageSid": new_sid()}
    elif forgery == "tampered key":  # signed for one row's URL, posted to another's
        kwargs["signed_url"] = twilio_status_callback_url() + query
        key = other.idempotency_key
    else:  # signed over the URL the app sees, not the public one Twilio calls
        kwargs["signed_url"] = "http://testserver" + TWILIO_STATUS_PATH + query
    body = assert_problem(callback(twilio, params, key, **kwargs), 403)
    assert "signature" in body["detail"].lower()
    for untouched in (reload(session, row), reload(session, other)):
        assert untouched.delivery_status is None
        assert untouched.last_error is None
    assert reload(session, other).provider_id is None


def test_missing_signature_is_refused(twilio: TestClient, session: Session) -> None:
    sid = new_sid()
    row = outbox_row(session, provider_id=sid)
    response = callback(twilio, form(sid, "delivered"), row.idempotency_key, signature=None)
    assert "X-Twilio-Signature" in assert_problem(response, 403)["detail"]
    response = callback(twilio, form(sid, "delivered"), row.idempotency_key, signature="")
    assert_problem(response, 403)
    assert reload(session, row).delivery_status is None


def test_unsigned_request_learns_nothing_about_its_fields(twilio: TestClient) -> None:
    assert_problem(callback(twilio, {}, signature=None), 403)
    assert_problem(callback(twilio, {"MessageStatus": "bogus"}, signature="AAAA"), 403)


def test_twilio_unconfigured_is_404(unconfigured: TestClient, session: Session) -> None:
    sid = new_sid()
    row = outbox_row(session, provider_id=sid)
    assert_problem(callback(unconfigured, form(sid, "delivered"), row.idempotency_key), 404)
    assert_problem(callback(unconfigured, form(sid, "delivered"), signature=None), 404)
    assert reload(session, row).delivery_status is None


@pytest.mark.parametrize("case", ["unknown key and sid", "unknown sid", "key of another sid"])
def test_unknown_key_or_sid_is_404(twilio: TestClient, session: Session, case: str) -> None:
    row = outbox_row(session, provider_id=new_sid())
    key = {"unknown key and sid": "no-such-key", "unknown sid": None}.get(case, row.idempotency_key)
    assert_problem(callback(twilio, form(new_sid(), "delivered"), key), 404)
    assert reload(session, row).delivery_status is None


def test_unknown_status_is_422(twilio: TestClient, session: Session) -> None:
    sid = new_sid()
    row = outbox_row(session, provider_id=sid)
    body = assert_problem(callback(twilio, form(sid, "teleported"), row.idempotency_key), 422)
    assert [error["field"] for error in body["errors"]] == ["MessageStatus"]
    assert reload(session, row).delivery_status is None


@pytest.mark.parametrize("missing", ["MessageSid", "MessageStatus"])
def test_signed_request_missing_a_field_is_422(twilio: TestClient, missing: str) -> None:
    params = form(new_sid(), "delivered")
    del params[missing]
    body = assert_problem(callback(twilio, params), 422)
    assert missing in [error["field"] for error in body["errors"]]


# --- the domain service ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "final"),
    [
        (["queued", "sending", "sent", "delivered"], "delivered"),
        (["delivered", "sent", "queued"], "delivered"),
        (["sent", "queued"], "sent"),
        (["delivered", "failed"], "delivered"),  # final is final
        (["undelivered", "delivered"], "undelivered"),
        (["sent", "delivered", "read", "delivered"], "read"),
        (["accepted", "scheduled", "canceled", "sent"], "canceled"),
    ],
)
def test_statuses_only_move_forward(session: Session, statuses: list[str], final: str) -> None:
    sid = new_sid()
    row = outbox_row(session, provider_id=sid)
    for minute, status in enumerate(statuses):
        now = T0 + timedelta(minutes=minute)
        recorded = record_delivery_status(session, None, sid, status, None, now)
        assert recorded is not None and recorded.id == row.id
    assert reload(session, row).delivery_status == final


def test_domain_refuses_unknown_status_before_looking(session: Session) -> None:
    with pytest.raises(InvalidInput) as refused:
        record_delivery_status(session, None, new_sid(), "received", None, T0)
    assert refused.value.field == "MessageStatus"
    assert record_delivery_status(session, None, new_sid(), "sent", None, T0) is None
