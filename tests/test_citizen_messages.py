"""What a citizen's SMS looks like (issue 16): the brand first, so it does not look like
phishing, and a link that opens the page with nothing to type."""

import re
from datetime import datetime, timedelta
from io import StringIO

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from notifications import ConsoleChannel
from reflections.messaging.dispatcher import dispatch
from reflections.platform import clock
from reflections.platform.settings import get_settings
from tests.api_helpers import submit
from tests.test_citizen_sign_in import e164, new_phone


def _daytime() -> datetime:
    """10:00 in Huế tomorrow: outside the quiet hours, whenever the suite runs."""
    return (clock.now() + timedelta(days=1)).replace(hour=3, minute=0)


def test_an_sms_starts_with_the_brand_and_its_link_opens_the_page(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "sms_brand", "[Hue-S]")
    phone = new_phone()
    code = submit(client, contact={"phone": phone})["tracking_code"]
    stream = StringIO()
    console = ConsoleChannel(stream=stream)
    dispatch(session, _daytime(), {"sms": console, "email": console}, batch_size=100_000)
    sent = re.search(
        rf"=== sms to {re.escape(e164(phone))} \[vi\]\n[^\n]*\n\n([^\n]+)", stream.getvalue()
    )
    assert sent, "the received SMS went out"
    text = sent.group(1)
    assert text.startswith("[Hue-S] Phản ánh của bạn đã được tiếp nhận.")
    link = re.search(r"https?://\S+/r/(\S+)\?t=(\S+)", text)
    assert link and link.group(1) == code
    browser = TestClient(client.app, follow_redirects=False)
    landed = browser.get(f"/r/{code}?t={link.group(2)}")
    assert landed.headers["location"] == f"/track/{code}"
    assert browser.get(f"/track/{code}").status_code == 200


def test_without_a_brand_nothing_is_added(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "sms_brand", "")
    phone = new_phone()
    submit(client, contact={"phone": phone})
    stream = StringIO()
    console = ConsoleChannel(stream=stream)
    dispatch(session, _daytime(), {"sms": console, "email": console}, batch_size=100_000)
    sent = re.search(
        rf"=== sms to {re.escape(e164(phone))} \[vi\]\n[^\n]*\n\n([^\n]+)", stream.getvalue()
    )
    assert sent and sent.group(1).startswith("Phản ánh của bạn")
