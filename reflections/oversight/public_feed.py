"""The public feed of results (DESIGN.md §2 step 4 and §7): what a unit did, with no personal data.

A reflection is *published* once processed (the unit's result stands, the citizen is asked to
confirm) and stays published when confirmed; a send-back or a reopen takes it off the feed
until it is processed again. For each one the feed gives what the city did and where, at ward
level:

- tracking code, state, category, ward (the administrative unit it was classified to),
  handling unit, when it was submitted, processed (the latest ``process``) and confirmed;
- the unit's result text and the result photos (attachments with purpose ``result``);
- the citizen's 1-5 rating, an aggregate the city publishes anyway (satisfaction %).

What the citizen wrote is public only once a coordinator publishes it (DESIGN.md §10, see
:mod:`reflections.lifecycle.publication`). This module is the single source of what anyone may
see of any reflection (:func:`disclosures`), the feed, Open311 and the public pages alike:

- before publication: category, ward, status, dates and the agency (handling unit); the place
  is the ward's (no coordinates: the seed's wards carry no centroid);
- published: also the public summary (the coordinator's edited text, or else the citizen's
  description) and the coordinates rounded to 3 decimals (about 100 m);
- rejected: only the public reason (what the coordinator wrote to refuse it), published or not.

Left out, on purpose, unless published as said above:

- the reporter (name, phone, email, citizen key): confidential by DESIGN.md §2;
- the citizen's description (until published) and rating comment (always): free text written
  by the citizen, which often carries a name, a phone number, a house number or a neighbour's
  business ("tôi ở số 12…"); a coordinator reads it before publishing it or an edited summary.
  The result text is different: staff write it to be published (DESIGN.md §2 step 4) and
  the unit that writes it never sees the reporter (§3);
- the street address (always) and the exact coordinates, which can point at the reporter's
  door: the ward, or once published the coordinates rounded to 3 decimals;
- the citizen's photos (purpose ``report``), which show faces, plates and homes.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from reflections.errors import NotFound
from reflections.models import (
    AdministrativeUnit,
    Attachment,
    Category,
    HandlingUnit,
    HistoryEvent,
    PublicationDecision,
    Reflection,
)
from reflections.models.enums import LifecycleEvent, LifecycleState

# The states whose results the feed lists (what the city did), published text or not.
PUBLISHED_STATES = frozenset({LifecycleState.PROCESSED, LifecycleState.CONFIRMED})
PLACE_DECIMALS = 3  # about 110 m of latitude: a street, not a door
# Open311 keeps a POSTed media_url as the description's last line; it is not part of the text.
_MEDIA_AT_END = re.compile(r"\n*\[media_url\] (\S+)\Z")
RESULT_PURPOSE = "result"

FeedKey = tuple[datetime, int]  # (processed_at, reflection id) of the last item of a page


@dataclass(frozen=True)
class Named:
    code: str
    name: str
    name_en: str


@dataclass(frozen=True)
class Disclosure:
    """What the public may see of one reflection beyond category, ward, status, dates, agency."""

    published: bool
    summary: str | None  # the public summary, else the description; None until published
    latitude: float | None  # rounded; None until published (or when the citizen gave none)
    longitude: float | None
    media_url: str | None  # a URL the citizen gave (Open311 POST); None until published
    public_reason: str | None  # a rejected reflection's reason, published or not


NOT_PUBLISHED = Disclosure(False, None, None, None, None, None)


@dataclass(frozen=True)
class PublicResult:
    tracking_code: str
    state: LifecycleState
    category: Named | None
    ward: Named | None
    handling_unit: Named | None
    submitted_at: datetime
    processed_at: datetime
    confirmed_at: datetime | None
    result_text: str | None
    rating: int | None
    photos: list[str]  # SHA-256 names of the result photos, oldest first
    summary: str | None = None  # published only (see Disclosure)
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class FeedFilters:
    category_code: str | None = None
    area_code: str | None = None  # a ward, or a larger unit: everything under it
    processed_from: datetime | None = None  # inclusive
    processed_to: datetime | None = None  # exclusive


def is_published(reflection: Reflection) -> bool:
    """Whether the reflection's result is on the feed (its own text may still be private)."""
    return reflection.state in PUBLISHED_STATES


def decisions(session: Session, ids: Iterable[int | None]) -> dict[int, PublicationDecision]:
    """The latest publication decision of each reflection that has one."""
    wanted = _ids(ids)
    if not wanted:
        return {}
    latest: dict[int, PublicationDecision] = {}
    for row in session.exec(
        select(PublicationDecision)
        .where(col(PublicationDecision.reflection_id).in_(wanted))
        .order_by(col(PublicationDecision.id))
    ):
        latest[row.reflection_id] = row
    return latest


def disclose(reflection: Reflection, decision: PublicationDecision | None) -> Disclosure:
    """What of ``reflection`` is public, given its latest publication decision."""
    reason = reflection.rejection_reason if reflection.state is LifecycleState.REJECTED else None
    if decision is None or not decision.published:
        return Disclosure(False, None, None, None, None, reason)
    media = _MEDIA_AT_END.search(reflection.description)
    description = reflection.description[: media.start()] if media else reflection.description
    return Disclosure(
        published=True,
        summary=decision.public_summary or description,
        latitude=_rounded(reflection.latitude),
        longitude=_rounded(reflection.longitude),
        media_url=media.group(1) if media else None,
        public_reason=reason,
    )


def disclosures(session: Session, reflections: Sequence[Reflection]) -> dict[int, Disclosure]:
    """:func:`disclose` for many reflections, one query."""
    found = decisions(session, (r.id for r in reflections))
    return {r.id: disclose(r, found.get(r.id)) for r in reflections if r.id is not None}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, PLACE_DECIMALS)


def results(
    session: Session, filters: FeedFilters, limit: int = 50, after: FeedKey | None = None
) -> tuple[list[PublicResult], FeedKey | None]:
    """One page, newest processed first, and the key of the next page, if any.

    The sort key is the time of each reflection's latest ``process`` event, read from the
    history (no column on the reflection holds it). The query has no GROUP BY: it keeps the
    ``process`` rows with no later one (by ``seq``, on the unique ``(reflection_id, seq)``
    index) and orders by the indexed ``occurred_at``; its plan at Hue's volumes is unmeasured.
    """
    latest, is_latest = _latest_process()
    processed_at = col(latest.occurred_at)
    ident = col(Reflection.id)
    statement = (
        select(Reflection, processed_at)
        .join(latest, col(latest.reflection_id) == ident)
        .where(is_latest, col(Reflection.state).in_(sorted(PUBLISHED_STATES)))
    )
    if filters.category_code is not None:
        category_ids = select(Category.id).where(Category.code == filters.category_code)
        statement = statement.where(col(Reflection.category_id).in_(category_ids))
    if filters.area_code is not None:
        areas = _area_and_below(session, filters.area_code)
        statement = statement.where(col(Reflection.administrative_unit_id).in_(sorted(areas)))
    if filters.processed_from is not None:
        statement = statement.where(processed_at >= filters.processed_from)
    if filters.processed_to is not None:
        statement = statement.where(processed_at < filters.processed_to)
    if after is not None:
        at, last_id = after
        statement = statement.where(
            or_(processed_at < at, and_(processed_at == at, ident < last_id))
        )
    rows = session.exec(statement.order_by(processed_at.desc(), ident.desc()).limit(limit + 1))
    found = [(reflection, when) for reflection, when in rows]
    items = _details(session, found[:limit])
    if len(found) <= limit:
        return items, None
    last = items[-1]
    last_reflection = found[limit - 1][0]
    assert last_reflection.id is not None
    return items, (last.processed_at, last_reflection.id)


def result(session: Session, tracking_code: str) -> PublicResult:
    """One published reflection; NotFound for any other, published or not yet."""
    reflection = _reflection(session, tracking_code)
    found = published(session, [reflection]) if reflection else {}
    if reflection is None or reflection.id not in found:
        raise NotFound(f"no published result {tracking_code}")
    return found[reflection.id]


def published(session: Session, reflections: Sequence[Reflection]) -> dict[int, PublicResult]:
    """The public form of those of ``reflections`` that are published, by reflection id."""
    ids = [r.id for r in reflections if r.id is not None and is_published(r)]
    if not ids:
        return {}
    latest, is_latest = _latest_process()
    processed: dict[int, datetime] = dict(
        session.exec(
            select(col(latest.reflection_id), col(latest.occurred_at)).where(
                col(latest.reflection_id).in_(ids), is_latest
            )
        ).all()
    )
    rows = [(r, processed[r.id]) for r in reflections if r.id in processed]
    return {
        reflection.id: item
        for (reflection, _), item in zip(rows, _details(session, rows), strict=True)
        if reflection.id is not None
    }


def result_photo(session: Session, tracking_code: str, sha256: str) -> Attachment:
    """A result photo of a published reflection; NotFound for anything else, including the
    citizen's own photos (purpose ``report``) of the same reflection."""
    reflection = _reflection(session, tracking_code)
    attachment = (
        session.exec(
            select(Attachment).where(
                Attachment.reflection_id == reflection.id,
                Attachment.sha256 == sha256,
                Attachment.purpose == RESULT_PURPOSE,
            )
        ).first()
        if reflection is not None and is_published(reflection)
        else None
    )
    if attachment is None:
        raise NotFound(f"no published result photo {sha256} on {tracking_code}")
    return attachment


def _latest_process() -> tuple[type[HistoryEvent], ColumnElement[bool]]:
    """An alias of the history and the condition that keeps, per reflection, only its latest
    ``process`` event (by seq): the one that made the current result."""
    latest = aliased(HistoryEvent)
    later = aliased(HistoryEvent)
    return latest, and_(
        col(latest.event) == LifecycleEvent.PROCESS,
        ~exists().where(
            col(later.reflection_id) == col(latest.reflection_id),
            col(later.event) == LifecycleEvent.PROCESS,
            col(later.seq) > col(latest.seq),
        ),
    )


def _ids(values: Iterable[int | None]) -> list[int]:
    return sorted({value for value in values if value is not None})


def _reflection(session: Session, tracking_code: str) -> Reflection | None:
    return session.exec(
        select(Reflection).where(Reflection.tracking_code == tracking_code.strip().upper())
    ).first()


def area_and_below(session: Session, code: str) -> set[int]:
    """The ids of the administrative unit with this code and of every unit under it."""
    return _area_and_below(session, code)


def _area_and_below(session: Session, code: str) -> set[int]:
    """The administrative unit with this code and every unit under it, one query per level."""
    root = session.exec(
        select(AdministrativeUnit.id).where(AdministrativeUnit.code == code)
    ).first()
    found: set[int] = set() if root is None else {root}
    frontier = set(found)
    while frontier:
        children = session.exec(
            select(AdministrativeUnit.id).where(
                col(AdministrativeUnit.parent_id).in_(sorted(frontier))
            )
        ).all()
        frontier = {child for child in children if child is not None} - found
        found |= frontier
    return found


def _details(session: Session, rows: Sequence[tuple[Reflection, datetime]]) -> list[PublicResult]:
    """The public form of (reflection, processed_at) rows: one query per related table."""
    ids = [r.id for r, _ in rows if r.id is not None]
    if not ids:
        return []
    categories = {
        c.id: c
        for c in session.exec(
            select(Category).where(col(Category.id).in_(_ids(r.category_id for r, _ in rows)))
        )
    }
    areas = {
        a.id: a
        for a in session.exec(
            select(AdministrativeUnit).where(
                col(AdministrativeUnit.id).in_(_ids(r.administrative_unit_id for r, _ in rows))
            )
        )
    }
    units = {
        u.id: u
        for u in session.exec(
            select(HandlingUnit).where(
                col(HandlingUnit.id).in_(_ids(r.handling_unit_id for r, _ in rows))
            )
        )
    }
    confirmed = dict(
        session.exec(
            select(HistoryEvent.reflection_id, HistoryEvent.occurred_at).where(
                col(HistoryEvent.reflection_id).in_(ids),
                HistoryEvent.event == LifecycleEvent.CONFIRM,
            )
        ).all()
    )
    photos: dict[int, list[str]] = {}
    for reflection_id, sha in session.exec(
        select(Attachment.reflection_id, Attachment.sha256)
        .where(col(Attachment.reflection_id).in_(ids), Attachment.purpose == RESULT_PURPOSE)
        .order_by(col(Attachment.id))
    ):
        photos.setdefault(reflection_id, []).append(sha)
    shown = disclosures(session, [r for r, _ in rows])
    out = []
    for r, processed_at in rows:
        disclosure = shown.get(r.id or 0, NOT_PUBLISHED)
        category = categories.get(r.category_id)
        area = areas.get(r.administrative_unit_id)
        unit = units.get(r.handling_unit_id)
        out.append(
            PublicResult(
                tracking_code=r.tracking_code,
                state=r.state,
                category=Named(category.code, category.name_vi, category.name_en)
                if category
                else None,
                ward=Named(area.code, area.name, area.name_en) if area else None,
                handling_unit=Named(unit.code, unit.name, unit.name_en) if unit else None,
                submitted_at=r.created_at,
                processed_at=processed_at,
                confirmed_at=confirmed.get(r.id or 0)
                if r.state == LifecycleState.CONFIRMED
                else None,
                result_text=r.result_text,
                rating=r.rating,
                photos=photos.get(r.id or 0, []),
                summary=disclosure.summary,
                latitude=disclosure.latitude,
                longitude=disclosure.longitude,
            )
        )
    return out
