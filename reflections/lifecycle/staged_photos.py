"""Photos a refused form already accepted (issue 16): kept for the form's next try, so a
citizen on a slow phone connection never chooses and uploads them twice.

The form carries a random token; the rows carry its hash. They live a day at most (older ones
are dropped whenever photos are staged), and go as soon as the form is accepted.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from reflections.errors import DomainError
from reflections.lifecycle.attachments import Photo, check
from reflections.models import StagedPhoto
from reflections.platform.security import hash_secret, new_secret

KEPT_FOR = timedelta(days=1)


@dataclass(frozen=True)
class Staged:
    id: int
    photo: Photo


def load(session: Session, token: str, now: datetime) -> list[Staged]:
    if not token:
        return []
    rows = session.exec(
        select(StagedPhoto)
        .where(StagedPhoto.batch_hash == hash_secret(token))
        .where(col(StagedPhoto.created_at) > now - KEPT_FOR)
        .order_by(col(StagedPhoto.id))
    ).all()
    return [Staged(row.id or 0, Photo(row.content, row.filename)) for row in rows]


def acceptable(photos: list[Photo], limit: int) -> list[Photo]:
    """The photos that pass the checks one by one, at most ``limit`` of them."""
    kept: list[Photo] = []
    for photo in photos:
        try:
            check((photo,))
        except DomainError:
            continue
        if len(kept) < limit:
            kept.append(photo)
    return kept


def keep(
    session: Session, token: str, photos: list[Photo], now: datetime
) -> tuple[str, list[Staged]]:
    """Stage exactly ``photos`` under the token (a new one if none): what the form shows."""
    token = token or new_secret()
    key = hash_secret(token)
    session.execute(delete(StagedPhoto).where(col(StagedPhoto.batch_hash) == key))
    session.execute(delete(StagedPhoto).where(col(StagedPhoto.created_at) <= now - KEPT_FOR))
    rows = [
        StagedPhoto(batch_hash=key, content=p.content, filename=p.filename, created_at=now)
        for p in photos
    ]
    session.add_all(rows)
    session.flush()
    return token, [Staged(row.id or 0, Photo(row.content, row.filename)) for row in rows]


def drop(session: Session, token: str) -> None:
    if token:
        key = hash_secret(token)
        session.execute(delete(StagedPhoto).where(col(StagedPhoto.batch_hash) == key))
