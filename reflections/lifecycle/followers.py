"""Followers (issue 16): a merged duplicate's reporter follows the original, hears of its
progress like its own reporter (:mod:`reflections.messaging.outbox`), and opens it with what
opened their own report. The original counts everyone who reported it."""

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from reflections.models import Follower, Reflection


def follow(session: Session, reflection_id: int, reporter_id: int, via: str, now: datetime) -> None:
    """Add the follower once (a second merge or follow changes nothing)."""
    known = session.exec(
        select(Follower.id).where(
            Follower.reflection_id == reflection_id, Follower.reporter_id == reporter_id
        )
    ).first()
    if known is None:
        session.add(
            Follower(reflection_id=reflection_id, reporter_id=reporter_id, via=via, created_at=now)
        )


def merged_into(
    session: Session, duplicate: Reflection, original: Reflection, now: datetime
) -> None:
    """The duplicate's reporter, and whoever followed the duplicate, follow the original."""
    assert original.id is not None
    reporters = [duplicate.reporter_id] if duplicate.reporter_id is not None else []
    reporters += session.exec(
        select(Follower.reporter_id).where(Follower.reflection_id == duplicate.id)
    ).all()
    for reporter_id in dict.fromkeys(reporters):
        if reporter_id != original.reporter_id:
            follow(session, original.id, reporter_id, "merge", now)


def reported_by(session: Session, reflection: Reflection) -> int:
    """How many people reported it: its reporter and those whose reports were merged into it."""
    merged = session.exec(
        select(func.count())
        .select_from(Follower)
        .where(Follower.reflection_id == reflection.id, col(Follower.via) == "merge")
    ).one()
    return 1 + int(merged)


def opened_by_key(session: Session, key_hash: str, reflection: Reflection) -> bool:
    """Whether a citizen key's reports were merged into this one (or follow it)."""
    mine = select(Reflection.reporter_id).where(Reflection.secret_hash == key_hash)
    found = session.exec(
        select(Follower.id).where(
            Follower.reflection_id == reflection.id, col(Follower.reporter_id).in_(mine)
        )
    ).first()
    return found is not None
