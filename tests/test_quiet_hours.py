"""Quiet hours: no non-urgent SMS between 22:00 and 07:00 Hue time; held until morning."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session

from notifications import Channel, ConsoleChannel, MessageKind
from reflections.messaging.dispatcher import dispatch
from reflections.messaging.outbox import Recipient, new_message
from reflections.messaging.quiet_hours import QuietHours
from reflections.models import OutboxMessage, OutboxStatus
from reflections.platform import clock
from reflections.platform.settings import get_settings
from tests.test_outbox import _tag

HUE = ZoneInfo("Asia/Ho_Chi_Minh")
NIGHT = QuietHours(time(22), time(7), HUE)

instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)
clock_times = st.times().map(lambda t: t.replace(microsecond=0))


@given(instants)
def test_the_default_window_is_ten_at_night_to_seven_in_the_morning(instant: datetime) -> None:
    local = instant.astimezone(HUE).time()
    assert NIGHT.contains(instant) == (local >= time(22) or local < time(7))


@given(instants, clock_times, clock_times)
def test_release_is_the_first_instant_outside_the_window(
    instant: datetime, start: time, end: time
) -> None:
    quiet = QuietHours(start, end, HUE)
    released = quiet.release(instant)
    assert released >= instant
    assert not quiet.contains(released)
    assert released - instant <= timedelta(days=1)
    assert (released == instant) == (not quiet.contains(instant))
    if released != instant:
        assert released.astimezone(HUE).time() == end
        # Nothing in between is outside the window (probed every 37 minutes).
        probe = instant + timedelta(minutes=1)
        while probe < released:
            assert quiet.contains(probe)
            probe += timedelta(minutes=37)


def test_an_empty_window_switches_quiet_hours_off() -> None:
    quiet = QuietHours(time(0), time(0), HUE)
    assert not quiet.contains(datetime(2026, 11, 27, 17, 0, tzinfo=UTC))  # midnight in Hue


@pytest.fixture
def quiet_nights(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("REFLECTIONS_QUIET_HOURS_START", "22:00")
    monkeypatch.setenv("REFLECTIONS_QUIET_HOURS_END", "07:00")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def _message(session: Session, channel: str, urgent: bool, now: datetime) -> int:
    address = "+84905123456" if channel == "sms" else f"dan-{_tag()}@example.com"
    recipient = Recipient("sms" if channel == "sms" else "email", address, "vi")
    context = {"tracking_code": "HUE-QUIET", "link_url": "http://127.0.0.1:8000/r/HUE-QUIET"}
    row = new_message(
        MessageKind.RECEIVED, recipient, context, now, idempotency_key=f"quiet-{_tag()}"
    )
    row.urgent = urgent
    session.add(row)
    session.commit()
    assert row.id is not None
    return row.id


def test_non_urgent_sms_waits_for_seven_email_and_urgent_sms_do_not(
    session: Session, quiet_nights: None
) -> None:
    night = datetime(2026, 11, 27, 23, 30, tzinfo=HUE)
    with clock.frozen_at(night):
        sms = _message(session, "sms", urgent=False, now=night)
        urgent_sms = _message(session, "sms", urgent=True, now=night)
        email = _message(session, "email", urgent=False, now=night)
        stream = StringIO()
        console = ConsoleChannel(stream=stream)
        channels: dict[str, Channel] = {"email": console, "sms": console}
        report = dispatch(session, night, channels, batch_size=100_000)
    assert {urgent_sms, email} <= set(report.sent)
    assert sms in report.held and sms not in report.sent
    session.expire_all()
    held = session.get(OutboxMessage, sms)
    assert held is not None and held.status is OutboxStatus.PENDING and held.attempts == 0
    morning = datetime(2026, 11, 28, 7, 0, tzinfo=HUE)
    assert held.next_attempt_at == morning

    before_seven = dispatch(session, morning - timedelta(minutes=1), channels, 100_000)
    assert sms not in before_seven.sent + before_seven.held
    at_seven = dispatch(session, morning, channels, batch_size=100_000)
    assert sms in at_seven.sent
    assert stream.getvalue().count(f"key: {held.idempotency_key}\n") == 1
