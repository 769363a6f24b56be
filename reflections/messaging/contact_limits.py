"""What reaches a citizen's contact (issue 13): nothing after a stop link, a link to stop in
the first message, and at most a few messages a day until the contact is proven.

Anyone may submit without an account and name any phone number or email: without these
rules the service would send a stranger as many messages as someone cares to provoke. A
message over the day's cap is still written, as ``held`` (never sent), so nothing vanishes
silently: the outbox shows what was held and why.
"""

from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from reflections.messaging import contact_proofs, opt_out
from reflections.models import OutboxMessage, OutboxStatus
from reflections.platform.settings import get_settings

HELD_REASON = "held: daily limit of messages to a contact not yet proven by a one-time code"


def _sent_since(session: Session, channel: str, address: str, since: datetime | None) -> int:
    query = (
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.recipient == address,
            OutboxMessage.channel == channel,
            OutboxMessage.status != OutboxStatus.HELD,
        )
    )
    if since is not None:
        query = query.where(col(OutboxMessage.created_at) >= since)
    return int(session.exec(query).one())


def is_new_contact(session: Session, channel: str, address: str) -> bool:
    """Nothing was ever sent (or held) to this contact: its first message says how to stop."""
    found = session.exec(
        select(OutboxMessage.id).where(
            OutboxMessage.recipient == address, OutboxMessage.channel == channel
        )
    ).first()
    return found is None


def over_daily_cap(session: Session, channel: str, address: str, now: datetime) -> bool:
    """True when the contact is unproven and had its day's messages (the last 24 hours)."""
    settings = get_settings()
    if not settings.abuse_limits:
        return False
    cap = settings.unproven_contact_messages_per_day
    if _sent_since(session, channel, address, now - timedelta(days=1)) < cap:
        return False
    return not contact_proofs.is_proven(session, channel, address)


def stopped(session: Session, channel: str, address: str) -> bool:
    return opt_out.is_opted_out(session, channel, address)
