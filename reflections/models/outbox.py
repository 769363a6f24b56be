"""The transactional outbox (DESIGN.md §6): one row per message to one recipient.

Rows are written in the same transaction as the state change that causes them, and delivered
by :func:`reflections.messaging.dispatcher.dispatch`; ``idempotency_key`` also travels with the
message (the SMTP Message-ID is derived from it), so a receiving system can drop a duplicate.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, Text
from sqlalchemy import false as sa_false
from sqlmodel import JSON, Field, SQLModel

import reflections.models.metadata  # noqa: F401  (naming convention first)
from reflections.models.types import UTCDateTime, str_enum


class OutboxStatus(StrEnum):
    PENDING = "pending"  # due at next_attempt_at
    SENDING = "sending"  # leased to a dispatcher until next_attempt_at
    SENT = "sent"
    FAILED_PERMANENT = "failed_permanent"  # the provider refused it for good: no retry
    DEAD = "dead"  # transient failures for too long or too often
    HELD = "held"  # not sent: the day's cap of an unproven contact was reached (issue 13)


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_status_next_attempt", "status", "next_attempt_at"),
        # The messages a contact got today (the unproven contacts' daily cap).
        Index("ix_outbox_messages_recipient_created", "recipient", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    reflection_id: int | None = Field(default=None, foreign_key="reflections.id", index=True)
    kind: str = Field(max_length=32, description="A notifications.MessageKind value.")
    channel: str = Field(max_length=16, description="email, sms or console.")
    recipient: str = Field(max_length=254)
    language: str = Field(max_length=8)
    context: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    status: OutboxStatus = Field(
        default=OutboxStatus.PENDING,
        sa_type=str_enum(OutboxStatus),
        sa_column_kwargs={"server_default": OutboxStatus.PENDING.value},
    )
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=Text)
    provider_id: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    idempotency_key: str = Field(max_length=200, unique=True)
    urgent: bool = Field(
        default=False,
        sa_column_kwargs={"server_default": sa_false()},
        description="Sent in quiet hours too (an emergency, an escalation).",
    )
    delivery_status: str | None = Field(
        default=None, max_length=16, description="The provider's last word: sent, delivered..."
    )
    delivery_updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
