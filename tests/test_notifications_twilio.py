"""The SMS channel against Twilio's own OpenAPI contract, served by the Prism mock server.

Prism validates each request against the spec (a bad one gets a 422 listing the violations)
and answers valid ones with the spec's examples. The spec defines no 400 response for
sending a message, so Prism cannot produce Twilio's error 21211: that mapping is tested on
TwilioRestException directly.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from twilio.base.exceptions import TwilioRestException

from notifications import Message, OutcomeStatus, TwilioChannel, TwilioConfig
from notifications.sms import BaseUrlHttpClient, classify_twilio_error
from tests.peers import free_port

ACCOUNT = "AC" + "0123456789abcdef" * 2


def config(base_url: str, **overrides: Any) -> TwilioConfig:
    values: dict[str, Any] = {
        "account_sid": ACCOUNT,
        "auth_token": "test-token",
        "status_callback_url": "https://reflections.example/twilio/status",
        "from_number": "+15005550006",
        "base_url": base_url,
        "timeout": 5,
    }
    values.update(overrides)
    return TwilioConfig(**values)


def sms(key: str = "outbox-7", to: str = "+84912345678") -> Message:
    return Message(
        channel="sms",
        recipient=to,
        language="vi",
        text="Phản ánh HUE-0042 đã được tiếp nhận.",
        idempotency_key=key,
    )


def test_sms_is_sent_through_prism_and_gets_a_sid(prism_url: str) -> None:
    http = BaseUrlHttpClient(prism_url, timeout=5)
    channel = TwilioChannel(config(prism_url, strip_diacritics=True), http_client=http)
    [outcome] = asyncio.run(channel.send_batch([sms()]))

    assert outcome.status is OutcomeStatus.SENT, outcome.error
    assert outcome.provider_id is not None and outcome.provider_id.startswith("SM")
    request = http._test_only_last_request
    assert request.url == f"{prism_url}/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert request.headers["I-Twilio-Idempotency-Token"] == "outbox-7"
    assert request.data["To"] == "+84912345678"
    assert request.data["Body"] == "Phan anh HUE-0042 da duoc tiep nhan."
    assert request.data["StatusCallback"] == (
        "https://reflections.example/twilio/status?key=outbox-7"
    )


def test_request_breaking_the_contract_is_refused_by_prism(prism_url: str) -> None:
    http = BaseUrlHttpClient(prism_url, timeout=5)
    channel = TwilioChannel(config(prism_url), http_client=http)
    # No 'To': the spec requires it.
    response = channel.client.request(
        "POST",
        f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json",
        data={"Body": "hello", "From": "+15005550006"},
    )
    assert response.status_code == 422
    problem = json.loads(response.text)
    assert any("'To'" in v["message"] for v in problem["validation"])


def test_contract_violation_through_the_channel_is_permanent(prism_url: str) -> None:
    # An account SID that does not match the spec's pattern: Prism answers 422.
    channel = TwilioChannel(config(prism_url, account_sid="ACnot-a-real-sid"))
    [outcome] = asyncio.run(channel.send_batch([sms()]))
    assert outcome.status is OutcomeStatus.PERMANENT
    assert "422" in str(outcome.error)


def test_undefined_error_response_is_a_client_error(prism_url: str) -> None:
    """Prism's `Prefer: code=400` only works for responses the spec defines; it defines none
    for Messages.json, so Prism answers 404 — still a permanent client error."""

    class PreferClient(BaseUrlHttpClient):
        def request(self, *args: Any, **kwargs: Any) -> Any:
            kwargs["headers"] = {**(kwargs.get("headers") or {}), "Prefer": "code=400"}
            return super().request(*args, **kwargs)

    channel = TwilioChannel(config(prism_url), http_client=PreferClient(prism_url, timeout=5))
    [outcome] = asyncio.run(channel.send_batch([sms()]))
    assert outcome.status is OutcomeStatus.PERMANENT
    assert "404" in str(outcome.error)


def test_unreachable_api_is_transient() -> None:
    channel = TwilioChannel(config(f"http://127.0.0.1:{free_port()}", timeout=2))
    outcomes = asyncio.run(channel.send_batch([sms("a"), sms("b")]))
    assert [o.status for o in outcomes] == [OutcomeStatus.TRANSIENT] * 2


def test_email_message_on_sms_channel_is_permanent() -> None:
    channel = TwilioChannel(config("http://127.0.0.1:9"))
    mail = Message(
        channel="email", recipient="a@example.org", language="vi", text="x", idempotency_key="k"
    )
    [outcome] = asyncio.run(channel.send_batch([mail]))
    assert outcome.status is OutcomeStatus.PERMANENT


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, 21211, OutcomeStatus.PERMANENT),  # invalid 'To' number
        (400, 21610, OutcomeStatus.PERMANENT),  # recipient unsubscribed
        (401, 20003, OutcomeStatus.PERMANENT),  # bad credentials: a person must fix them
        (404, None, OutcomeStatus.PERMANENT),
        (429, 20429, OutcomeStatus.TRANSIENT),  # rate limited: later will work
        (500, None, OutcomeStatus.TRANSIENT),
        (503, None, OutcomeStatus.TRANSIENT),
    ],
)
def test_twilio_errors_map_to_outcomes(
    status: int, code: int | None, expected: OutcomeStatus
) -> None:
    exc = TwilioRestException(status, "/Messages.json", "The 'To' number is not valid", code)
    outcome = classify_twilio_error(sms(), exc)
    assert outcome.status is expected
    assert outcome.idempotency_key == "outbox-7"
    assert str(status) in str(outcome.error)


def test_config_without_sender_is_refused() -> None:
    with pytest.raises(ValueError, match="from_number"):
        TwilioChannel(config("http://127.0.0.1:9", from_number=None))
