"""What reaches a citizen's contact (issue 13): nothing after a stop link, a link to stop in
the first message, and at most a few messages a day until the contact is proven.

Anyone may submit without an account and name any phone number or email: without these
rules the service would send a stranger as many messages as someone cares to provoke. A
message over the day's cap is still written, as ``held`` (never sent), so nothing vanishes
silently: the outbox shows what was held and why.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, exists, func, select
from sqlmodel import Session

from reflections.messaging import contact_proofs
from reflections.models import ContactOptOut, OutboxMessage, OutboxStatus
from reflections.models.types import table_of
from reflections.platform.settings import get_settings

HELD_REASON = "held: daily limit of messages to a contact not yet proven by a one-time code"


@dataclass(frozen=True)
class Standing:
    """What the rules say of a contact before a message to it is written."""

    stopped: bool  # it followed a stop link: write nothing
    new: bool  # nothing was ever sent (or held) to it: the message says how to stop
    held: bool  # unproven and over the day's cap: the message is written held, never sent


_OUTBOX, _OPT_OUTS = table_of(OutboxMessage), table_of(ContactOptOut)
_TO_CONTACT = and_(
    _OUTBOX.c.recipient == bindparam("address"), _OUTBOX.c.channel == bindparam("channel")
)
# The day's messages are counted up to the cap and no further: whether the cap is reached is
# all the rule asks, and a contact named in thousands of submissions (a proven one, or any
# while the limits are off) must not make each new one read all of them (issue 18).
_SENT_TODAY = (
    select(_OUTBOX.c.id)
    .where(
        _TO_CONTACT,
        _OUTBOX.c.status != OutboxStatus.HELD.value,
        _OUTBOX.c.created_at >= bindparam("since", type_=_OUTBOX.c.created_at.type),
    )
    .limit(bindparam("cap"))
    .subquery()
)
# One statement for the three facts: every citizen message asks them (issue 18).
_FACTS = select(
    exists()
    .where(_OPT_OUTS.c.channel == bindparam("channel"), _OPT_OUTS.c.address == bindparam("address"))
    .label("stopped"),
    exists().where(_TO_CONTACT).label("known"),
    select(func.count()).select_from(_SENT_TODAY).scalar_subquery().label("sent_today"),
)


def standing(session: Session, channel: str, address: str, now: datetime) -> Standing:
    """The contact's standing now; the daily cap counts the last 24 hours' messages (held ones
    not) and applies only while the abuse limits are on and the contact is unproven."""
    settings = get_settings()
    cap = settings.unproven_contact_messages_per_day if settings.abuse_limits else 0
    since = now - timedelta(days=1)
    facts = (
        session.connection()
        .execute(_FACTS, {"channel": channel, "address": address, "since": since, "cap": cap})
        .one()
    )
    held = (
        settings.abuse_limits
        and facts.sent_today >= cap
        and not contact_proofs.is_proven(session, channel, address)
    )
    return Standing(stopped=bool(facts.stopped), new=not facts.known, held=bool(held))
