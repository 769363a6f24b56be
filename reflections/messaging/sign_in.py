"""Signing in by a one-time code (issue 16): a citizen types their phone or email, gets a
6-digit code through the outbox's urgent path, and the device it is typed on is signed in for
every reflection made with that contact, whoever filed it.

No oracle: a code row is written for any valid contact (so wrong, expired and too-many answers
are the same whether or not the contact has reflections), but a message goes only to a contact
some reflection carries. Codes, session tokens and PINs are stored as keyed hashes.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from notifications import MessageKind
from reflections.errors import InvalidInput, TooManyAttempts
from reflections.messaging import contact_proofs
from reflections.messaging.contacts import normalise_email, normalise_phone
from reflections.messaging.outbox import Recipient, new_message
from reflections.models import CitizenSession, Reporter, SignInCode
from reflections.organisation.auth import signing_key
from reflections.platform.settings import get_settings

SESSION_PREFIX = "cs."  # tells a session token from a citizen key where both are accepted
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Contact:
    """A phone (E.164) or an email address, as reporters' rows keep them."""

    channel: str  # "sms" or "email"
    address: str

    def masked(self) -> str:
        if self.channel == "email":
            name, _, domain = self.address.partition("@")
            return f"{name[:2]}…@{domain}"
        return f"…{self.address[-3:]}"


def parse_contact(raw: str, field: str = "contact") -> Contact:
    """A phone number in any usual form, or an email address; else a 422 naming ``field``."""
    text = raw.strip()
    if not text:
        raise InvalidInput(field, "give a phone number or an email address", "required")
    if "@" in text:
        # people do not mind the case of their address: "An@Mail.vn" is "an@mail.vn"
        return Contact("email", normalise_email(text, field).lower())
    try:
        return Contact("sms", normalise_phone(text, field))
    except InvalidInput:
        raise InvalidInput(
            field, "is neither a phone number nor an email address", "not_a_contact"
        ) from None


def keyed_hash(purpose: str, value: str) -> str:
    """HMAC-SHA256 under the installation's key: a 6-digit code or PIN cannot be found from
    its hash without the key (a plain hash would fall to a million guesses)."""
    message = f"{purpose}:{value}".encode()
    return hmac.new(signing_key().encode(), message, hashlib.sha256).hexdigest()


def reporter_clause(contact: Contact) -> ColumnElement[bool]:
    """The reporters' rows that carry this contact (emails in any case)."""
    if contact.channel == "sms":
        return col(Reporter.phone_e164) == contact.address
    return func.lower(col(Reporter.email)) == contact.address


def known_reporter(session: Session, contact: Contact) -> Reporter | None:
    """The latest reporter row with this contact (its language is the message's)."""
    query = select(Reporter).where(reporter_clause(contact)).order_by(col(Reporter.id).desc())
    return session.exec(query).first()


def send_code(
    session: Session, contact: Contact, client: str | None, now: datetime, language: str = "vi"
) -> None:
    """Write a new code (and its message, when the contact is known); refuse past the limits:
    a few codes per contact and hour, more per client address."""
    settings = get_settings()
    since = now - HOUR
    recent = select(func.count()).select_from(SignInCode).where(col(SignInCode.created_at) > since)
    to_contact = session.exec(
        recent.where(SignInCode.channel == contact.channel, SignInCode.address == contact.address)
    ).one()
    from_client = session.exec(recent.where(SignInCode.client == client)).one() if client else 0
    if to_contact >= settings.sign_in_codes_per_hour or (
        from_client >= settings.sign_in_codes_per_hour_per_client
    ):
        raise TooManyAttempts(
            "too many codes asked for in the last hour; try again later", "too_many_codes", 3600
        )
    code = f"{secrets.randbelow(1_000_000):06d}"
    row = SignInCode(
        channel=contact.channel,
        address=contact.address,
        code_hash=keyed_hash("code", code),
        client=client[:64] if client else None,
        created_at=now,
        expires_at=now + timedelta(minutes=settings.sign_in_code_minutes),
    )
    session.add(row)
    session.flush()
    reporter = known_reporter(session, contact)
    if reporter is None:
        return  # nothing to sign in to: no message, and the same answer
    lang = str(reporter.language or language)
    recipient = Recipient("sms" if contact.channel == "sms" else "email", contact.address, lang)
    context = {
        "code": code,
        "minutes": settings.sign_in_code_minutes,
        "link_url": f"{settings.public_url.rstrip('/')}/sign-in",
    }
    message = new_message(
        MessageKind.SIGN_IN_CODE,
        recipient,
        context,
        now,
        idempotency_key=f"sign-in-{row.id}",
        urgent=True,  # a code waits for nobody's quiet hours
    )
    session.add(message)


def check_code(session: Session, contact: Contact, code: str, now: datetime) -> SignInCode:
    """The live code this is, used up; a wrong one counts a try. The caller commits in every
    case (a counted try must stay when the answer is a refusal)."""
    settings = get_settings()
    live = session.exec(
        select(SignInCode)
        .where(
            SignInCode.channel == contact.channel,
            SignInCode.address == contact.address,
            col(SignInCode.used_at).is_(None),
            col(SignInCode.expires_at) > now,
        )
        .order_by(col(SignInCode.id).desc())
    ).first()
    if live is None:
        raise InvalidInput("code", "no code is waiting: it expired or was used", "code_expired")
    if live.attempts >= settings.sign_in_code_tries:
        raise TooManyAttempts(
            "too many wrong codes; ask for a new one",
            "too_many_tries",
            settings.sign_in_code_minutes * 60,
        )
    typed = "".join(ch for ch in code if ch.isdigit())
    if not hmac.compare_digest(keyed_hash("code", typed), live.code_hash):
        live.attempts += 1
        session.add(live)
        session.flush()
        left = settings.sign_in_code_tries - live.attempts
        if left <= 0:
            raise TooManyAttempts(
                "too many wrong codes; ask for a new one",
                "too_many_tries",
                settings.sign_in_code_minutes * 60,
            )
        raise InvalidInput("code", f"wrong code; {left} tries left", "code_wrong", left=left)
    live.used_at = now
    session.add(live)
    session.flush()
    return live


def open_session(session: Session, contact: Contact, now: datetime) -> tuple[str, CitizenSession]:
    """A new session for the contact: the token (given once) and its row."""
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    row = CitizenSession(
        token_hash=keyed_hash("session", token),
        channel=contact.channel,
        address=contact.address,
        created_at=now,
        expires_at=now + timedelta(days=get_settings().citizen_session_days),
    )
    session.add(row)
    session.flush()
    record_proof(session, contact, now)
    return token, row


def record_proof(session: Session, contact: Contact, at: datetime) -> None:
    """The contact is proven (its owner typed the code sent to it): it gets every update,
    past the daily cap on messages to unproven contacts."""
    contact_proofs.mark_proven(session, contact.channel, contact.address, at)


def contact_of_token(session: Session, token: str, now: datetime) -> Contact | None:
    """The contact a live session token opens; None for anything else."""
    if not token.startswith(SESSION_PREFIX):
        return None
    row = session.exec(
        select(CitizenSession).where(CitizenSession.token_hash == keyed_hash("session", token))
    ).first()
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    return Contact(row.channel, row.address)


def end_session(session: Session, token: str, now: datetime) -> None:
    """Sign out: the token opens nothing from now on."""
    row = session.exec(
        select(CitizenSession).where(CitizenSession.token_hash == keyed_hash("session", token))
    ).first()
    if row is not None and row.ended_at is None:
        row.ended_at = now
        session.add(row)
        session.flush()
