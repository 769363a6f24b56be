"""Notification preferences (DESIGN.md §6): which channels, which language, or none at all.

A citizen's preferences follow their key: every reflection they submitted with it. A staff
member's are their own. Asking for a channel with no contact on file is refused, not ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from reflections.errors import InvalidInput, NotFound
from reflections.messaging import opt_out
from reflections.models import Reflection, Reporter, User
from reflections.models.enums import Channel, Language


@dataclass(frozen=True)
class Preferences:
    opted_out: bool
    channels: list[Channel]  # empty: every contact (citizens) or email (staff)
    language: Language
    contacts: list[Channel]  # the channels there is an address for


@dataclass(frozen=True)
class Change:
    """Only what is not None changes."""

    opted_out: bool | None = None
    channels: Sequence[Channel] | None = None
    language: Language | None = None


def _contacts(phone: str | None, email: str | None) -> list[Channel]:
    return [
        channel for channel, address in ((Channel.SMS, phone), (Channel.EMAIL, email)) if address
    ]


def _check_channels(channels: Sequence[Channel], contacts: Sequence[Channel]) -> list[Channel]:
    missing = [channel.value for channel in channels if channel not in contacts]
    if missing:
        raise InvalidInput("channels", f"no address on file for {', '.join(missing)}", "no_address")
    return sorted(set(channels), key=list(Channel).index)


def _reporters(session: Session, citizen_key_hash: str) -> list[Reporter]:
    return list(
        session.exec(
            select(Reporter)
            .where(
                col(Reporter.id).in_(
                    select(Reflection.reporter_id).where(Reflection.secret_hash == citizen_key_hash)
                )
            )
            .order_by(col(Reporter.id))
        ).all()
    )


def _citizen_view(reporters: Sequence[Reporter]) -> Preferences:
    latest = reporters[-1]
    contacts = {channel for r in reporters for channel in _contacts(r.phone_e164, r.email)}
    return Preferences(
        opted_out=latest.opted_out,
        channels=list(latest.channels),
        language=latest.language,
        contacts=[channel for channel in Channel if channel in contacts],
    )


def citizen_preferences(session: Session, citizen_key_hash: str) -> Preferences:
    reporters = _reporters(session, citizen_key_hash)
    if not reporters:
        raise NotFound("no contact details were left with this key")
    return _citizen_view(reporters)


def change_citizen_preferences(
    session: Session, citizen_key_hash: str, change: Change
) -> Preferences:
    reporters = _reporters(session, citizen_key_hash)
    if not reporters:
        raise NotFound("no contact details were left with this key")
    channels = None
    if change.channels is not None:
        channels = _check_channels(change.channels, _citizen_view(reporters).contacts)
    if change.opted_out is False:  # messages on again: the stop links' effect ends too
        contacts = [("sms", r.phone_e164) for r in reporters if r.phone_e164]
        contacts += [("email", r.email) for r in reporters if r.email]
        opt_out.opt_back_in(session, contacts)
    for reporter in reporters:  # a reflection without that contact then gets no message
        if channels is not None:
            reporter.channels = channels
        if change.opted_out is not None:
            reporter.opted_out = change.opted_out
        if change.language is not None:
            reporter.language = change.language
        session.add(reporter)
    session.commit()
    return _citizen_view(reporters)


def staff_preferences(user: User) -> Preferences:
    return Preferences(
        user.opted_out, list(user.channels), user.language, _contacts(user.phone, user.email)
    )


def change_staff_preferences(session: Session, user: User, change: Change) -> Preferences:
    if change.channels is not None:
        user.channels = _check_channels(change.channels, _contacts(user.phone, user.email))
    if change.opted_out is not None:
        user.opted_out = change.opted_out
    if change.language is not None:
        user.language = change.language
    session.add(user)
    session.commit()
    return staff_preferences(user)
