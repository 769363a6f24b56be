"""What every channel takes and gives back, so the dispatcher can treat them alike."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol

ChannelName = Literal["email", "sms"]


@dataclass(frozen=True, slots=True)
class Message:
    """One rendered message for one recipient; ``idempotency_key`` is the outbox row's key.

    For SMS only ``text`` is sent; ``subject`` and ``html`` matter for email.
    """

    channel: ChannelName
    recipient: str
    language: str
    text: str
    idempotency_key: str
    subject: str = ""
    html: str | None = None


class OutcomeStatus(StrEnum):
    """Whether the dispatcher is done (sent / permanent) or should retry (transient)."""

    SENT = "sent"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one message; ``provider_id`` is the SMTP Message-ID or the Twilio SID."""

    idempotency_key: str
    status: OutcomeStatus
    provider_id: str | None = None
    error: str | None = None

    @classmethod
    def sent(cls, message: Message, provider_id: str) -> Outcome:
        return cls(message.idempotency_key, OutcomeStatus.SENT, provider_id)

    @classmethod
    def transient(cls, message: Message, error: str) -> Outcome:
        return cls(message.idempotency_key, OutcomeStatus.TRANSIENT, error=error)

    @classmethod
    def permanent(cls, message: Message, error: str) -> Outcome:
        return cls(message.idempotency_key, OutcomeStatus.PERMANENT, error=error)


OnOutcome = Callable[[int, Outcome], None]
"""Told each message's outcome (its index in the batch) as soon as it is known."""


class Channel(Protocol):
    """A delivery channel. It never raises for one bad message: it returns one Outcome per
    message, in order, so a batch is never lost to its worst member; and it reports each
    outcome to ``on_outcome`` as it goes, so the caller can record it before the next send."""

    async def send_batch(
        self, messages: Sequence[Message], on_outcome: OnOutcome | None = None
    ) -> list[Outcome]: ...


def told(on_outcome: OnOutcome | None, index: int, outcome: Outcome) -> Outcome:
    """Report ``outcome`` (if anyone listens) and return it."""
    if on_outcome is not None:
        on_outcome(index, outcome)
    return outcome


def wrong_channel(message: Message, expected: ChannelName) -> Outcome:
    """A message routed to the wrong channel is a bug upstream: retrying cannot help."""
    return Outcome.permanent(message, f"{message.channel} message given to the {expected} channel")


def holding(channel: Channel) -> AbstractAsyncContextManager[object]:
    """``channel.held()`` where the channel has one (it can keep a connection open across
    batches while inside it), else nothing: wrap a run of ``send_batch`` calls in it."""
    held = getattr(channel, "held", None)
    if callable(held):
        hold: AbstractAsyncContextManager[object] = held()
        return hold
    return nullcontext()
