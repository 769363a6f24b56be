"""A per-channel rate limit: a token bucket in front of any channel.

Providers cap throughput (a Twilio number sends about one SMS a second; a relay may throttle a
sender); going faster only earns 429s and 4xx deferrals. The bucket holds at most one second of
messages, so a batch starts at once and then flows at ``per_second``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager

from notifications.messages import Channel, Message, OnOutcome, Outcome, holding, told


class RateLimitedChannel:
    """Hands the inner channel chunks no larger than the tokens available, waiting between."""

    def __init__(
        self,
        inner: Channel,
        per_second: float,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive (leave the channel unwrapped for none)")
        self.inner = inner
        self.per_second = per_second
        self.capacity = max(per_second, 1.0)
        self._tokens = self.capacity
        self._monotonic = monotonic
        self._sleep = sleep
        self._stamp = monotonic()

    def _refill(self) -> None:
        now = self._monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.per_second)
        self._stamp = now

    async def _take(self, wanted: int) -> int:
        """Wait until at least one token is there; take up to ``wanted``."""
        self._refill()
        if self._tokens < 1:
            await self._sleep((1 - self._tokens) / self.per_second)
            self._refill()
        # At least one: the wait was for one token, which float rounding may leave at 0.999…
        granted = max(1, min(wanted, int(self._tokens)))
        self._tokens -= granted
        return granted

    def held(self) -> AbstractAsyncContextManager[object]:
        """The inner channel's: the bucket's small chunks then share its connection."""
        return holding(self.inner)

    async def send_batch(
        self, messages: Sequence[Message], on_outcome: OnOutcome | None = None
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        position = 0
        while position < len(messages):
            granted = await self._take(len(messages) - position)
            offset = position

            def shifted(index: int, outcome: Outcome, offset: int = offset) -> None:
                told(on_outcome, offset + index, outcome)

            chunk = messages[position : position + granted]
            outcomes += await self.inner.send_batch(chunk, shifted)
            position += granted
        return outcomes


def rate_limited(channel: Channel, per_second: float) -> Channel:
    """``channel`` behind a bucket, or as it is when ``per_second`` is 0 (no limit)."""
    return RateLimitedChannel(channel, per_second) if per_second > 0 else channel
