"""Contacts proven to belong to the person who gave them (a one-time code, issue 16).

A proven contact gets every update; one nobody has proven gets at most
``REFLECTIONS_UNPROVEN_CONTACT_MESSAGES_PER_DAY`` messages a day (``contact_limits``), so an
anonymous submitter cannot make the service flood a stranger's phone.
"""

from datetime import datetime

from sqlmodel import Session, select

from reflections.models import ProvenContact


def is_proven(session: Session, channel: str, address: str) -> bool:
    found = session.exec(
        select(ProvenContact.id).where(
            ProvenContact.channel == channel, ProvenContact.address == address
        )
    ).first()
    return found is not None


def mark_proven(session: Session, channel: str, address: str, at: datetime) -> None:
    """Record the proof (once; a later proof keeps the first date). Not committed: the
    caller's commit writes it with whatever proved it."""
    if not is_proven(session, channel, address):
        session.add(ProvenContact(channel=channel, address=address, proven_at=at))
        session.flush()
