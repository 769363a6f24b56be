"""One-click opt-out: the first message to a contact carries a link that stops every further
message to it, with no key and no account (issue 13). The link holds the contact, signed with
the service's secret, so nobody can stop someone else's messages by guessing."""

import base64
import hashlib
import hmac
from datetime import datetime

from sqlmodel import Session, col, select

from reflections.errors import NotFound
from reflections.models import ContactOptOut, Reporter
from reflections.organisation.auth import signing_key
from reflections.platform.settings import get_settings

_PURPOSE = b"contact-opt-out:"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(payload: bytes) -> bytes:
    return hmac.new(signing_key().encode(), _PURPOSE + payload, hashlib.sha256).digest()[:16]


def stop_token(channel: str, address: str) -> str:
    payload = f"{channel}:{address}".encode()
    return f"{_b64(payload)}.{_b64(_mac(payload))}"


def stop_url(channel: str, address: str) -> str:
    return f"{get_settings().public_url.rstrip('/')}/stop/{stop_token(channel, address)}"


def contact_of(token: str) -> tuple[str, str]:
    """The (channel, address) a link names; NotFound for anything not signed by us."""
    try:
        payload_text, mac_text = token.split(".", 1)
        payload = _unb64(payload_text)
        if not hmac.compare_digest(_unb64(mac_text), _mac(payload)):
            raise ValueError("bad signature")
        channel, address = payload.decode().split(":", 1)
    except (ValueError, UnicodeDecodeError):
        raise NotFound("this stop link is not valid; use the whole link from the message") from None
    if channel not in ("sms", "email"):
        raise NotFound("this stop link is not valid; use the whole link from the message")
    return channel, address


def is_opted_out(session: Session, channel: str, address: str) -> bool:
    found = session.exec(
        select(ContactOptOut.id).where(
            ContactOptOut.channel == channel, ContactOptOut.address == address
        )
    ).first()
    return found is not None


def opt_out(session: Session, channel: str, address: str, now: datetime) -> None:
    """Stop every message to the contact, now and for later reflections naming it; the
    reporters who left it are marked opted out too (their preferences say so). Committed."""
    if not is_opted_out(session, channel, address):
        session.add(ContactOptOut(channel=channel, address=address, opted_out_at=now))
    column = Reporter.phone_e164 if channel == "sms" else Reporter.email
    for reporter in session.exec(select(Reporter).where(col(column) == address)).all():
        reporter.opted_out = True
        session.add(reporter)
    session.commit()


def opt_back_in(session: Session, channels_and_addresses: list[tuple[str, str]]) -> None:
    """A citizen who turns messages on again in their preferences lifts their stop links'
    effect on their own contacts (not committed)."""
    for channel, address in channels_and_addresses:
        for row in session.exec(
            select(ContactOptOut).where(
                ContactOptOut.channel == channel, ContactOptOut.address == address
            )
        ).all():
            session.delete(row)
