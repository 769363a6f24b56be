"""Resolving what requests name (codes, tracking codes) and what the caller may open."""

from datetime import UTC, datetime
from typing import Literal

from fastapi.responses import FileResponse, Response, StreamingResponse
from sqlalchemy import bindparam
from sqlmodel import Session, SQLModel, col, select

from api.deps import Caller
from api.views import Photos
from reflections.actors import Actor
from reflections.errors import InvalidInput, NotFound
from reflections.lifecycle import followers
from reflections.lifecycle.queries import contact_opens, contact_owns
from reflections.models import AdministrativeUnit, Attachment, Category, HandlingUnit, Reflection
from reflections.models.enums import Role
from reflections.organisation.visibility import can_see
from reflections.platform.db import keep
from reflections.platform.storage import FolderStore, MissingObject, get_store

FOLLOWS = 0  # no reflection has id 0: a follower's actor may fire nothing on it
Coded = type[AdministrativeUnit] | type[HandlingUnit] | type[Category]


def row_for_code(session: Session, table: Coded, code: str | None, field: str) -> SQLModel | None:
    """The row with this code; a 422 naming the field if there is none. A caller that keeps
    the row while it works spares the later loads of it: the session finds it by id."""
    if code is None:
        return None
    row: SQLModel | None = session.exec(select(table).where(table.code == code)).first()
    if row is None or getattr(row, "id", None) is None:
        raise InvalidInput(field, f"no {table.__tablename__} with code {code!r}", "unknown_choice")
    return row


def id_for_code(session: Session, table: Coded, code: str | None, field: str) -> int | None:
    """The id of the row with this code; a 422 naming the field if there is none."""
    row = row_for_code(session, table, code, field)
    return None if row is None else int(getattr(row, "id"))  # noqa: B009


# Built once: every read and action starts here. The area comes in the same row: every view
# shows it, and the session keeps it for them.
_BY_CODE = (
    select(Reflection, AdministrativeUnit)
    .outerjoin(
        AdministrativeUnit, col(AdministrativeUnit.id) == col(Reflection.administrative_unit_id)
    )
    .where(Reflection.tracking_code == bindparam("code"))
)


# A read shows the photos too: they come in the same statement, a row per photo in the order
# attached (or one row without), sparing the read a second round trip (issue 18).
_WITH_PHOTOS = (
    select(Reflection, AdministrativeUnit, Attachment.sha256, Attachment.purpose)
    .outerjoin(
        AdministrativeUnit, col(AdministrativeUnit.id) == col(Reflection.administrative_unit_id)
    )
    .outerjoin(Attachment, col(Attachment.reflection_id) == col(Reflection.id))
    .where(Reflection.tracking_code == bindparam("code"))
    .order_by(col(Attachment.id))
)


def open_reflection(
    session: Session, caller: Caller, tracking_code: str
) -> tuple[Reflection, Actor]:
    """The reflection and the actor the caller acts as on it.

    404 both when it does not exist and when the caller may not see it: a handling unit
    must not learn of other units' reflections by probing codes.
    """
    found = session.exec(_BY_CODE, params={"code": tracking_code.upper()}).first()
    if found is None:
        raise NotFound(f"no reflection {tracking_code}")
    reflection, area = found
    return reflection, _opened(session, caller, reflection, area, tracking_code)


def open_reflection_with_photos(
    session: Session, caller: Caller, tracking_code: str
) -> tuple[Reflection, Actor, Photos]:
    """As :func:`open_reflection`, with the reflection's photos read in the same statement."""
    rows = session.exec(_WITH_PHOTOS, params={"code": tracking_code.upper()}).all()
    if not rows:
        raise NotFound(f"no reflection {tracking_code}")
    reflection, area, _, _ = rows[0]
    actor = _opened(session, caller, reflection, area, tracking_code)
    photos = Photos()
    for _, _, sha256, purpose in rows:
        if sha256 is not None:  # the one row of a reflection without photos
            photos.add(sha256, purpose)
    return reflection, actor, photos


def _opened(
    session: Session,
    caller: Caller,
    reflection: Reflection,
    area: AdministrativeUnit | None,
    tracking_code: str,
) -> Actor:
    """The actor the caller acts as on the reflection found; 404 if it may not see it."""
    if area is not None:
        keep(session, area)
    actor = caller.actor
    if actor.role is Role.CITIZEN:
        access = citizen_access(session, caller, reflection)
        if access is None:
            raise NotFound(f"no reflection {tracking_code}")
        # a follower reads it and hears of it, but confirming or reopening is its reporter's
        actor = Actor.citizen(reflection.id if access == "own" else FOLLOWS)
    elif not can_see(session, actor, reflection):
        raise NotFound(f"no reflection {tracking_code}")
    return actor


def citizen_access(
    session: Session, caller: Caller, reflection: Reflection
) -> Literal["own", "follows"] | None:
    """ "own": its key, a link or PIN that opened it on this device, or a session signed in
    with its reporter's contact. "follows": the caller's report was merged into it (by key or
    contact). None: nothing of the caller's opens it."""
    key_hash = caller.citizen_key_hash
    if key_hash is not None and key_hash == reflection.secret_hash:
        return "own"
    if reflection.tracking_code in caller.grants:
        return "own"
    if caller.contact is not None and contact_owns(session, caller.contact, reflection):
        return "own"
    if key_hash is not None and followers.opened_by_key(session, key_hash, reflection):
        return "follows"
    if caller.contact is not None and contact_opens(session, caller.contact, reflection):
        return "follows"
    return None


def photo_file(session: Session, reflection: Reflection, sha256: str) -> Response:
    """A photo of a reflection the caller has opened (API and pages alike)."""
    row = session.exec(
        select(Attachment).where(
            Attachment.reflection_id == reflection.id, Attachment.sha256 == sha256
        )
    ).first()
    missing = f"no photo {sha256} on reflection {reflection.tracking_code}"
    if row is None:
        raise NotFound(missing)
    return stored_photo(row, missing)


def stored_photo(row: Attachment, missing: str, thumbnail: bool = False) -> Response:
    """The photo's bytes (or its thumbnail's, when one was made) from the configured store,
    after the caller's access was checked: reads are proxied, so a bucket never needs to be
    public. A folder file is sent as a file (ranges, ETag); a bucket object is streamed."""
    sha256, content_type, size = row.sha256, row.content_type, row.size_bytes
    if thumbnail and row.thumbnail_sha256:
        sha256, content_type, size = row.thumbnail_sha256, "image/jpeg", 0
    store = get_store()
    if isinstance(store, FolderStore):
        path = store.path(sha256)
        if not path.is_file():
            raise NotFound(missing)
        return FileResponse(path, media_type=content_type)
    try:
        chunks = store.chunks(sha256)
    except MissingObject:
        raise NotFound(missing) from None
    headers = {"Content-Length": str(size)} if size else None
    return StreamingResponse(chunks, media_type=content_type, headers=headers)


def aware(value: datetime | None, field: str) -> datetime | None:
    """Instants from callers must say their time zone; a naive one is a 422 naming the field."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInput(field, "needs a time zone, e.g. 2026-03-02T17:00:00+07:00")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 is past the last instant Python can hold
        raise InvalidInput(field, "is out of range", "invalid_date") from None
