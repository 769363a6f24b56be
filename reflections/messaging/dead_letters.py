"""The outbox as operators see it (DESIGN.md §6): what could not be delivered, and requeuing it.

Dead letters are the rows the dispatcher gave up on: ``dead`` (transient failures for too long
or too often) and ``failed_permanent`` (the provider refused them). Operators list them, fix
the cause (a relay, credentials, a number) and requeue them with :func:`requeue`.

Recipients are a reporter's phone number or email, personal data only authorised IOC staff see
(DESIGN.md §3), so every view here masks them, in the provider's error text too.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from reflections.messaging import dispatcher
from reflections.models import OutboxMessage, OutboxStatus, Reflection
from reflections.organisation.visibility import mask_contact

UNDELIVERED = (OutboxStatus.DEAD, OutboxStatus.FAILED_PERMANENT)
REQUEUE_CHUNK = 500  # ids per UPDATE, well under every database's bound-parameter limit
# What looks like a contact in a provider's error text: an email, or 8 to 15 digits (E.164).
_CONTACTS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|(?<![\w+])\+?\d{8,15}(?!\w)")


@dataclass(frozen=True)
class OutboxItem:
    """One outbox row for an operator's eyes: the recipient masked, no message context."""

    id: int
    tracking_code: str | None  # None: a message about no reflection (e.g. a digest)
    kind: str
    channel: str
    recipient: str
    language: str
    status: OutboxStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    delivery_status: str | None


@dataclass(frozen=True)
class OutboxPage:
    items: list[OutboxItem]
    next_before_id: int | None  # pass as ``before_id`` for the next (older) page


@dataclass(frozen=True)
class OutboxCounts:
    """Rows per status, overall and per channel; every status present, zeros included."""

    by_status: dict[OutboxStatus, int]
    by_channel: dict[str, dict[OutboxStatus, int]]

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True)
class Requeued:
    requeued: list[int] = field(default_factory=list)
    not_requeued: list[int] = field(default_factory=list)  # not dead/failed, or no such row


def mask_recipient(address: str) -> str:
    """A phone number or email shown to operators: "+84905123456" -> "+84*******56",
    "nam@example.com" -> "n***@example.com" (the rule auditors see, reused)."""
    return mask_contact(address) or address


def _redact(text: str | None, address: str) -> str | None:
    """A provider's error may quote the address it refused (or another): mask those too."""
    if not text:
        return text
    if len(address) >= 4:
        text = text.replace(address, mask_recipient(address))
    return _CONTACTS.sub(lambda found: mask_recipient(found.group()), text)


def _item(row: OutboxMessage, tracking_code: str | None) -> OutboxItem:
    assert row.id is not None
    return OutboxItem(
        id=row.id,
        tracking_code=tracking_code,
        kind=row.kind,
        channel=row.channel,
        recipient=mask_recipient(row.recipient),
        language=row.language,
        status=OutboxStatus(row.status),
        attempts=row.attempts,
        last_error=_redact(row.last_error, row.recipient),
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        sent_at=row.sent_at,
        delivery_status=row.delivery_status,
    )


def list_messages(
    session: Session,
    statuses: Collection[OutboxStatus] = UNDELIVERED,
    limit: int = 50,
    before_id: int | None = None,
) -> OutboxPage:
    """Rows in ``statuses``, newest first (by id: the order they were enqueued), ``limit`` at a
    time; ``before_id`` continues after the previous page's last row."""
    statement = (
        select(OutboxMessage, Reflection.tracking_code)
        .outerjoin(Reflection, col(Reflection.id) == col(OutboxMessage.reflection_id))
        .where(col(OutboxMessage.status).in_(list(statuses)))
    )
    if before_id is not None:
        statement = statement.where(col(OutboxMessage.id) < before_id)
    statement = statement.order_by(col(OutboxMessage.id).desc()).limit(limit + 1)
    rows = session.exec(statement).all()
    items = [_item(row, code) for row, code in rows[:limit]]
    more = len(rows) > limit
    return OutboxPage(items=items, next_before_id=items[-1].id if more and items else None)


def counts(session: Session) -> OutboxCounts:
    """How many rows are in each status, overall and per channel (one grouped query)."""
    grouped = session.exec(
        select(OutboxMessage.channel, OutboxMessage.status, func.count()).group_by(
            col(OutboxMessage.channel), col(OutboxMessage.status)
        )
    ).all()
    by_status = dict.fromkeys(OutboxStatus, 0)
    by_channel: dict[str, dict[OutboxStatus, int]] = {}
    for channel, raw_status, number in grouped:
        status = OutboxStatus(raw_status)
        by_status[status] += number
        by_channel.setdefault(channel, dict.fromkeys(OutboxStatus, 0))[status] += number
    return OutboxCounts(by_status=by_status, by_channel=dict(sorted(by_channel.items())))


def requeue(session: Session, ids: Iterable[int], now: datetime | None = None) -> Requeued:
    """Put these dead or permanently failed rows back in the queue, due at once; ids in any
    other status, or of no row, are reported as not requeued and left alone."""
    wanted = sorted(set(ids))
    done: set[int] = set()
    for start in range(0, len(wanted), REQUEUE_CHUNK):
        done.update(dispatcher.retry_dead(session, wanted[start : start + REQUEUE_CHUNK], now))
    return Requeued(
        requeued=sorted(done), not_requeued=[row_id for row_id in wanted if row_id not in done]
    )


def requeue_all(session: Session, now: datetime | None = None) -> list[int]:
    """Requeue every dead or permanently failed row; the ids requeued."""
    ids = session.exec(
        select(OutboxMessage.id).where(col(OutboxMessage.status).in_(UNDELIVERED))
    ).all()
    return requeue(session, [row_id for row_id in ids if row_id is not None], now).requeued
