"""How the dispatcher paces itself: chunks within half the lease, and per-channel rate limits."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence

import pytest
from sqlmodel import Session

from notifications import Channel, Message, OnOutcome, Outcome
from notifications.ratelimit import RateLimitedChannel, rate_limited
from reflections.messaging.dispatcher import dispatch
from reflections.models import OutboxStatus
from reflections.platform import clock
from reflections.platform.settings import get_settings
from tests.test_outbox import _rows, _submit, _tag

CHUNK_SIZE = 10  # outbox_chunk_size in these tests


class Slow:
    """Takes ``seconds`` per chunk and keeps what it was given."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.keys: list[str] = []

    async def send_batch(
        self, messages: Sequence[Message], on_outcome: OnOutcome | None = None
    ) -> list[Outcome]:
        await asyncio.sleep(self.seconds)
        self.keys += [message.idempotency_key for message in messages]
        return [Outcome.sent(message, "slow") for message in messages]


@pytest.fixture
def short_lease(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("REFLECTIONS_OUTBOX_LEASE_SECONDS", "2")
    monkeypatch.setenv("REFLECTIONS_OUTBOX_CHUNK_SIZE", str(CHUNK_SIZE))
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def test_no_chunk_starts_after_half_the_lease(session: Session, short_lease: None) -> None:
    reflections = [
        _submit(session, email=f"dan-{_tag()}@example.com") for _ in range(4 * CHUNK_SIZE)
    ]
    mine = [row for reflection in reflections for row in _rows(session, reflection)]
    channel = Slow(0.6)
    channels: dict[str, Channel] = {"email": channel, "sms": channel}
    now = clock.now()
    report = dispatch(session, now, channels, batch_size=100_000)
    # 0.6 s a chunk against a 1 s half lease: two chunks go, the rest is given back.
    assert len(channel.keys) == 2 * CHUNK_SIZE
    assert report.deferred and not set(report.deferred) & set(report.sent)
    after = {row.id: row for reflection in reflections for row in _rows(session, reflection)}
    given_back = [after[row.id] for row in mine if row.id in report.deferred]
    assert given_back
    assert all(row.status is OutboxStatus.PENDING and row.attempts == 0 for row in given_back)
    assert all(row.next_attempt_at == now for row in given_back)
    assert all(row.idempotency_key not in channel.keys for row in given_back)


class Clock:
    """A fake monotonic clock that advances only when the limiter sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Instant:
    def __init__(self) -> None:
        self.chunks: list[int] = []

    async def send_batch(
        self, messages: Sequence[Message], on_outcome: OnOutcome | None = None
    ) -> list[Outcome]:
        self.chunks.append(len(messages))
        outcomes = [Outcome.sent(message, "x") for message in messages]
        for index, outcome in enumerate(outcomes):
            if on_outcome is not None:
                on_outcome(index, outcome)
        return outcomes


def _messages(count: int) -> list[Message]:
    return [Message("sms", "+84905123456", "vi", "xin chào", f"k{n}") for n in range(count)]


def test_rate_limit_sends_a_second_s_worth_then_paces() -> None:
    fake, inner = Clock(), Instant()
    limited = RateLimitedChannel(inner, 5, monotonic=fake.monotonic, sleep=fake.sleep)
    reported: list[tuple[int, str]] = []
    outcomes = asyncio.run(
        limited.send_batch(_messages(12), lambda i, o: reported.append((i, o.idempotency_key)))
    )
    assert [o.idempotency_key for o in outcomes] == [f"k{n}" for n in range(12)]
    assert reported == [(n, f"k{n}") for n in range(12)]  # indices of the whole batch
    assert inner.chunks[0] == 5 and sum(inner.chunks) == 12
    # 12 messages at 5/s with a burst of 5: the last goes out after (12 - 5) / 5 s.
    assert fake.now == pytest.approx(7 / 5)


def test_no_limit_means_the_channel_itself() -> None:
    inner = Instant()
    assert rate_limited(inner, 0) is inner
    assert isinstance(rate_limited(inner, 2), RateLimitedChannel)
    with pytest.raises(ValueError, match="positive"):
        RateLimitedChannel(inner, 0)


def test_a_claim_takes_no_more_than_the_batch_size(session: Session) -> None:
    for _ in range(8):
        _submit(session, email=f"dan-{_tag()}@example.com")
    channel = Instant()
    channels: dict[str, Channel] = {"email": channel, "sms": channel}
    report = dispatch(session, clock.now(), channels, batch_size=3)
    assert report.claimed == 3 and sum(channel.chunks) == 3
