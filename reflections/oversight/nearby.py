"""Nearby published reflections and following one (issue 16): before filing, a citizen who
placed a pin and chose a category sees the published open reflections of that category within
a few hundred metres, and may follow one instead of filing a duplicate; the public map lists
the published open ones beside the feed's results.

What is public is decided by :mod:`reflections.oversight.public_feed` alone: only reflections a
coordinator published carry coordinates (rounded to 3 decimals), and the distances here are
measured from those rounded coordinates, never from the citizen's exact pin.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, exists, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from reflections.errors import InvalidInput, NotFound
from reflections.lifecycle.followers import follow
from reflections.lifecycle.queries import OPEN_STATES
from reflections.messaging.contacts import check_sms_region
from reflections.models import (
    AdministrativeUnit,
    Category,
    Follower,
    PublicationDecision,
    Reflection,
    Reporter,
)
from reflections.models.enums import Channel, Language, LifecycleState
from reflections.oversight.public_feed import Named, area_and_below, disclosures

RADIUS_M = 300  # a street block or two: what a citizen would call "the same place"
MAX_ROWS = 10
EARTH_RADIUS_M = 6_371_000.0
# Rounding to 3 decimals moves a point by up to ~80 m: look that much wider in SQL.
_MARGIN_M = 100.0
MAP_OPEN_ROWS = 200  # the public map's bound on open reflections (newest first)


@dataclass(frozen=True)
class PublicOpen:
    """A published reflection still being handled, as anyone may see it."""

    tracking_code: str
    state: LifecycleState
    category: Named | None
    ward: Named | None
    summary: str | None
    latitude: float | None  # rounded to 3 decimals
    longitude: float | None
    submitted_at: datetime
    distance_m: int | None = None  # from the asked point, for nearby


@dataclass(frozen=True)
class FollowContact:
    """Who follows: a contact (channel ``sms`` with an E.164 number, or ``email``)."""

    channel: str
    address: str
    language: Language = Language.VI


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine): plenty for a few hundred metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


def check_point(latitude: float, longitude: float) -> None:
    """A 422 for a point no map holds (NaN, infinities, beyond the poles or the date line)."""
    if not (math.isfinite(latitude) and -90 <= latitude <= 90):
        raise InvalidInput("lat", "must be a latitude between -90 and 90", "out_of_range")
    if not (math.isfinite(longitude) and -180 <= longitude <= 180):
        raise InvalidInput("lon", "must be a longitude between -180 and 180", "out_of_range")


def nearby(
    session: Session,
    latitude: float,
    longitude: float,
    category_code: str,
    radius_m: int = RADIUS_M,
    limit: int = MAX_ROWS,
) -> list[PublicOpen]:
    """Published open reflections of the category within ``radius_m``, nearest first."""
    check_point(latitude, longitude)
    reach = radius_m + _MARGIN_M
    dlat = math.degrees(reach / EARTH_RADIUS_M)
    dlon = dlat / max(math.cos(math.radians(latitude)), 0.01)
    category_ids = select(Category.id).where(Category.code == category_code)
    rows = session.exec(
        select(Reflection).where(
            col(Reflection.state).in_(OPEN_STATES),
            col(Reflection.category_id).in_(category_ids),
            col(Reflection.latitude).between(latitude - dlat, latitude + dlat),
            col(Reflection.longitude).between(longitude - dlon, longitude + dlon),
            _published(),
        )
    ).all()
    found = []
    for item in public_open(session, rows):
        if item.latitude is None or item.longitude is None:
            continue
        away = distance_m(latitude, longitude, item.latitude, item.longitude)
        if away <= radius_m:
            found.append((away, item))
    found.sort(key=lambda pair: (pair[0], pair[1].tracking_code))
    return [
        PublicOpen(**{**item.__dict__, "distance_m": round(away)}) for away, item in found[:limit]
    ]


def open_on_map(
    session: Session,
    category_code: str | None = None,
    area_code: str | None = None,
    limit: int = MAP_OPEN_ROWS,
) -> list[PublicOpen]:
    """The newest published open reflections, for the public map (bounded by ``limit``)."""
    statement = select(Reflection).where(col(Reflection.state).in_(OPEN_STATES))
    if category_code is not None:
        category_ids = select(Category.id).where(Category.code == category_code)
        statement = statement.where(col(Reflection.category_id).in_(category_ids))
    if area_code is not None:
        areas = area_and_below(session, area_code)
        statement = statement.where(col(Reflection.administrative_unit_id).in_(sorted(areas)))
    ordered = statement.where(_published()).order_by(
        col(Reflection.created_at).desc(), col(Reflection.id).desc()
    )
    return public_open(session, session.exec(ordered.limit(limit)).all())


def _published() -> ColumnElement[bool]:
    """The reflection's latest publication decision publishes it (narrows the query in SQL;
    :func:`public_open` still asks ``public_feed``, the one judge of what is public)."""
    latest = aliased(PublicationDecision)
    later = aliased(PublicationDecision)
    return exists().where(
        col(latest.reflection_id) == col(Reflection.id),
        col(latest.published).is_(True),
        ~exists().where(
            col(later.reflection_id) == col(latest.reflection_id), col(later.id) > col(latest.id)
        ),
    )


def public_open(session: Session, rows: Sequence[Reflection]) -> list[PublicOpen]:
    """The published ones of ``rows`` (open reflections) in their public form, order kept."""
    shown = disclosures(session, rows)
    published = [r for r in rows if r.id is not None and shown[r.id].published]
    categories = {
        c.id: c
        for c in session.exec(
            select(Category).where(
                col(Category.id).in_(sorted({r.category_id for r in published if r.category_id}))
            )
        )
    }
    areas = {
        a.id: a
        for a in session.exec(
            select(AdministrativeUnit).where(
                col(AdministrativeUnit.id).in_(
                    sorted(
                        {r.administrative_unit_id for r in published if r.administrative_unit_id}
                    )
                )
            )
        )
    }
    out = []
    for r in published:
        assert r.id is not None
        disclosure = shown[r.id]
        category = categories.get(r.category_id)
        area = areas.get(r.administrative_unit_id)
        out.append(
            PublicOpen(
                tracking_code=r.tracking_code,
                state=r.state,
                category=Named(category.code, category.name_vi, category.name_en)
                if category
                else None,
                ward=Named(area.code, area.name, area.name_en) if area else None,
                summary=disclosure.summary,
                latitude=disclosure.latitude,
                longitude=disclosure.longitude,
                submitted_at=r.created_at,
            )
        )
    return out


def followable(session: Session, tracking_code: str) -> Reflection:
    """A published open reflection; NotFound for any other (unknown, unpublished, closed):
    the public may follow only what it may see being handled."""
    reflection = session.exec(
        select(Reflection).where(Reflection.tracking_code == tracking_code.strip().upper())
    ).first()
    if (
        reflection is None
        or reflection.state not in OPEN_STATES
        or not public_open(session, [reflection])
    ):
        raise NotFound(f"no published open reflection {tracking_code}")
    return reflection


def follow_with_contact(
    session: Session, reflection: Reflection, contact: FollowContact, now: datetime
) -> None:
    """The citizen follows ``reflection`` by a contact: a reporter row of their own (as each
    submission has), which the outbox writes to like the original's reporter. The caller
    commits."""
    assert reflection.id is not None
    phone = contact.address if contact.channel == "sms" else None
    if phone is not None:
        check_sms_region(phone, "contact")
    if _already_told(session, reflection, contact):
        return  # a second follow by the same contact changes nothing
    reporter = Reporter(
        phone_e164=phone,
        email=contact.address if contact.channel == "email" else None,
        language=contact.language,
        channels=[Channel.SMS if phone else Channel.EMAIL],
        anonymous=True,
        created_at=now,
    )
    session.add(reporter)
    session.flush()
    assert reporter.id is not None
    follow(session, reflection.id, reporter.id, "follow", now)


def follow_as_reporter(
    session: Session, reflection: Reflection, reporter_id: int, now: datetime
) -> None:
    """The citizen follows by a reporter row they already have (their citizen key's); a 422
    when it carries no contact to write to. The caller commits."""
    assert reflection.id is not None
    reporter = session.get(Reporter, reporter_id)
    if reporter is None or not (reporter.phone_e164 or reporter.email):
        raise InvalidInput("contact", "give a phone number or an email to hear of it", "required")
    if reporter_id != reflection.reporter_id:
        follow(session, reflection.id, reporter_id, "follow", now)


def _already_told(session: Session, reflection: Reflection, contact: FollowContact) -> bool:
    """Whether this contact is the reporter's or a follower's already."""
    column = Reporter.phone_e164 if contact.channel == "sms" else Reporter.email
    following = select(Follower.reporter_id).where(Follower.reflection_id == reflection.id)
    found = session.exec(
        select(Reporter.id).where(
            col(column) == contact.address,
            or_(
                col(Reporter.id) == reflection.reporter_id,
                col(Reporter.id).in_(following),
            ),
        )
    ).first()
    return found is not None
