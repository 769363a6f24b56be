"""What the SMS provider says became of a message (DESIGN.md §6): Twilio's delivery statuses.

Twilio reports each status change of a message it accepted (queued, sent, delivered...) to the
status callback URL; the API checks the signature and calls :func:`record_delivery_status`.
This module knows only the outbox row and the status words, nothing of HTTP or signatures.

Statuses arrive out of order and more than once, so a status is recorded only if it moves the
row *forward* on this ranking (a higher rank wins; an equal or lower one changes nothing)::

    0  accepted, scheduled, queued   Twilio has it, not yet on its way
    1  sending
    2  sent                          handed to the carrier
    3  delivered, undelivered,       final: the carrier's (or Twilio's) last word
       failed, canceled
    4  read                          WhatsApp/RCS only: read after delivered

So a late ``sent`` after ``delivered`` is ignored, and once a message is final only ``read``
can follow. ``undelivered`` and ``failed`` also set ``last_error`` (with Twilio's error code);
the row's outbox ``status`` is left alone: it says whether *we* handed the message over.

Each update is one conditional UPDATE (``WHERE delivery_status`` is absent or ranks lower), so
two callbacks racing each other cannot move a row backwards either.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from reflections.errors import InvalidInput
from reflections.models import OutboxMessage

RANKS: dict[str, int] = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "undelivered": 3,
    "failed": 3,
    "canceled": 3,
    "read": 4,
}
FAILURES = frozenset({"undelivered", "failed"})
MAX_ERROR_CODE = 16


def rank(status: str) -> int:
    """The status's place in :data:`RANKS`; :class:`InvalidInput` for any other word."""
    try:
        return RANKS[status]
    except KeyError:
        known = ", ".join(RANKS)
        raise InvalidInput("MessageStatus", f"unknown status {status!r}; known: {known}") from None


def failure_text(status: str, error_code: str | None) -> str:
    """``twilio: undelivered (error 30003)``, or without the code when Twilio sent none."""
    return f"twilio: {status}" + (f" (error {error_code})" if error_code else "")


def _find(session: Session, key: str | None, sid: str) -> OutboxMessage | None:
    """The key, when it names a row, decides (and the SID must then be that row's, if it has
    one); otherwise the SID does. A key/SID mismatch is no match: the callback is about
    another message than the one recorded (e.g. a second send after a lost lease)."""
    if key:
        row = session.exec(
            select(OutboxMessage).where(OutboxMessage.idempotency_key == key)
        ).first()
        if row is not None:
            return row if row.provider_id in (None, sid) else None
    return session.exec(select(OutboxMessage).where(OutboxMessage.provider_id == sid)).first()


def record_delivery_status(
    session: Session,
    key: str | None,
    sid: str,
    status: str,
    error_code: str | None,
    now: datetime,
) -> OutboxMessage | None:
    """Record Twilio's ``status`` for the message ``sid`` (outbox idempotency key ``key``, if the
    callback URL carried one) and commit; ``None`` when no outbox row matches.

    A row found by key that has no SID yet (the send's outcome was never stored) gets ``sid``.
    Unknown statuses raise :class:`InvalidInput` before anything is looked up.
    """
    status = status.strip().lower()
    new_rank = rank(status)
    sid = sid.strip()
    if not sid:
        raise InvalidInput("MessageSid", "is empty")
    code = (error_code or "").strip()[:MAX_ERROR_CODE] or None
    row = _find(session, key, sid)
    if row is None:
        return None
    assert row.id is not None
    if row.provider_id is None:
        session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == row.id, col(OutboxMessage.provider_id).is_(None))
            .values(provider_id=sid)
            .execution_options(synchronize_session=False)
        )
    values: dict[str, object] = {"delivery_status": status, "delivery_updated_at": now}
    if status in FAILURES:
        values["last_error"] = failure_text(status, code)
    lower = [name for name, place in RANKS.items() if place < new_rank]
    session.execute(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.id) == row.id,
            or_(
                col(OutboxMessage.delivery_status).is_(None),
                col(OutboxMessage.delivery_status).in_(lower),
            ),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.refresh(row)
    return row
