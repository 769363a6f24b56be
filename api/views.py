"""Turning stored reflections into what a caller may see."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, bindparam
from sqlalchemy.orm import Mapped
from sqlmodel import Session, SQLModel, col, select
from sqlmodel.sql.expression import SelectOfScalar

from api.pagination import page
from api.schemas import CategoryRef, Deadlines, Page, ReflectionView, ReporterView, UnitRef
from reflections.actors import Actor
from reflections.lifecycle.service import available_events
from reflections.models import (
    AdministrativeUnit,
    Attachment,
    Category,
    HandlingUnit,
    Reflection,
    Reporter,
    User,
)
from reflections.models.enums import Role
from reflections.organisation.visibility import IdentityView, identity_view, mask_contact, mask_name
from reflections.oversight import access_log, public_feed
from reflections.platform import clock
from reflections.platform.db import held
from reflections.timekeeping.deadlines import remaining_minutes, step_of

RowT = TypeVar("RowT", bound=SQLModel)


def _by_id(session: Session, table: type[RowT], ids: set[int | None]) -> dict[int, RowT]:
    """The rows by id: those the session holds already (fully loaded, e.g. the area a submit
    just checked) without a query, the rest in one."""
    found = {i: row for i in ids if i is not None and (row := held(session, table, i)) is not None}
    wanted = {i for i in ids if i is not None and i not in found}
    if wanted:
        rows = session.exec(_rows_by_id(table), params={"ids": sorted(wanted)})
        found.update({row.id: row for row in rows})
    return found


@cache
def _rows_by_id(table: type[RowT]) -> SelectOfScalar[RowT]:
    """Built once per table (built per call, SQLAlchemy walked it for its cache key on every
    read): the ids are an expanding parameter."""
    return select(table).where(col(table.id).in_(bindparam("ids", expanding=True)))  # type: ignore[attr-defined]


# The photos of the reflections viewed, in the order they were attached.
_PHOTOS = (
    select(Attachment.reflection_id, Attachment.sha256, Attachment.purpose)
    .where(col(Attachment.reflection_id).in_(bindparam("ids", expanding=True)))
    .order_by(col(Attachment.id))
)


@dataclass
class Photos:
    """A reflection's photos in the order they were attached (the citizen's and the unit's),
    and the unit's photos of the result among them, apart (issue 16)."""

    every: list[str] = field(default_factory=list)
    results: list[str] = field(default_factory=list)

    def add(self, sha256: str, purpose: str) -> None:
        self.every.append(sha256)
        if purpose == "result":
            self.results.append(sha256)


def _photos_by_reflection(rows: Iterable[tuple[int, str, str]]) -> dict[int, Photos]:
    """(reflection id, sha256, purpose) rows, in the order attached, grouped by reflection."""
    found: dict[int, Photos] = {}
    for reflection_id, sha256, purpose in rows:
        found.setdefault(reflection_id, Photos()).add(sha256, purpose)
    return found


def _unit(row: AdministrativeUnit | HandlingUnit | None) -> UnitRef | None:
    return UnitRef(code=row.code, name=row.name, name_en=row.name_en) if row else None


def _reporter(reporter: Reporter | None, view: IdentityView) -> ReporterView | None:
    if reporter is None:
        return None
    if view is IdentityView.MASKED:
        return ReporterView(
            name=mask_name(reporter.name),
            phone=mask_contact(reporter.phone_e164),
            email=mask_contact(reporter.email),
            language=reporter.language,
            masked=True,
        )
    return ReporterView(
        name=reporter.name,
        phone=reporter.phone_e164,
        email=reporter.email,
        language=reporter.language,
        masked=False,
    )


def reflection_views(
    session: Session,
    actor: Actor,
    reflections: Sequence[Reflection],
    photos_known: dict[int, Photos] | None = None,
) -> list[ReflectionView]:
    """Views for a page of reflections, with one query per related table. ``photos_known``:
    photos the caller read already (a submission's, a read's in the reflection's statement),
    not queried again."""
    areas = _by_id(
        session,
        AdministrativeUnit,
        {r.administrative_unit_id for r in reflections} | {r.escalated_to_id for r in reflections},
    )
    units = _by_id(session, HandlingUnit, {r.handling_unit_id for r in reflections})
    categories = _by_id(session, Category, {r.category_id for r in reflections})
    identity = identity_view(actor)
    reporters = (
        _by_id(session, Reporter, {r.reporter_id for r in reflections})
        if identity is not IdentityView.NONE
        else {}
    )
    staff = actor.role is not Role.CITIZEN
    assignees = _by_id(session, User, {r.assignee_id for r in reflections}) if staff else {}
    decided = public_feed.decisions(session, (r.id for r in reflections)) if staff else {}
    photos = dict(photos_known or {})
    ids = [r.id for r in reflections if r.id not in photos]
    if ids:
        photos.update(_photos_by_reflection(session.exec(_PHOTOS, params={"ids": ids})))
    none = Photos()
    views = []
    now = clock.now()
    for r in reflections:
        category = categories.get(r.category_id) if r.category_id else None
        fields: dict[str, Any] = {
            "tracking_code": r.tracking_code,
            "state": r.state,
            "assignment_stage": r.assignment_stage,
            "description": r.description,
            "latitude": r.latitude,
            "longitude": r.longitude,
            "address": r.address,
            "administrative_unit": _unit(areas.get(r.administrative_unit_id or 0)),
            "category": CategoryRef(
                code=category.code, name_vi=category.name_vi, name_en=category.name_en
            )
            if category
            else None,
            "category_hint": r.category_hint,
            "priority": r.priority,
            "handling_unit": _unit(units.get(r.handling_unit_id or 0)),
            "escalation_level": r.escalation_level,
            "escalated_to": _unit(areas.get(r.escalated_to_id or 0)),
            "deadlines": Deadlines(
                step=step.value if (step := step_of(r)) else None,
                remaining_minutes=remaining_minutes(session, r, now),
                around_the_clock=r.step_around_the_clock,
                classify_due_at=r.classify_due_at,
                accept_due_at=r.accept_due_at,
                process_due_at=r.process_due_at,
                confirm_due_at=r.confirm_due_at,
            ),
            "extension_pending": r.extension_pending,
            "extension_requested_due_at": r.extension_requested_due_at,
            "result": r.result_text,
            "rating": r.rating,
            "rating_comment": r.rating_comment,
            "rejection_reason": r.rejection_reason,
            "reopen_count": r.reopen_count,
            "photos": photos.get(r.id or 0, none).every,
            "result_photos": photos.get(r.id or 0, none).results,
            "version": r.version,
            "created_at": r.created_at,
            "updated_at": r.updated_at,
            "allowed_events": available_events(session, _for(actor, r), r),
        }
        if identity is not IdentityView.NONE:
            fields["reporter"] = _reporter(reporters.get(r.reporter_id or 0), identity)
        if staff:
            assignee = assignees.get(r.assignee_id or 0)
            fields["assignee"] = assignee.username if assignee else None
            decision = decided.get(r.id or 0)
            fields["published"] = bool(decision and decision.published)
            fields["public_summary"] = decision.public_summary if decision else None
        views.append(ReflectionView.model_validate(fields))
    if identity is IdentityView.FULL:  # reporters shown unmasked: one logged read each
        shown = [r.id for r in reflections if r.id is not None and r.reporter_id in reporters]
        access_log.record_reads(session, actor, shown)
    return views


def _for(actor: Actor, reflection: Reflection) -> Actor:
    """A citizen's key opened these reflections (routes check it), so they act on each."""
    if actor.role is Role.CITIZEN and actor.reflection_id is None:
        return Actor.citizen(reflection.id)
    return actor


def reflection_view(
    session: Session,
    actor: Actor,
    reflection: Reflection,
    photos_known: dict[int, Photos] | None = None,
) -> ReflectionView:
    return reflection_views(session, actor, [reflection], photos_known)[0]


def reflection_page(
    session: Session,
    actor: Actor,
    statement: SelectOfScalar[Reflection],
    sort: ColumnElement[datetime] | Mapped[datetime],
    limit: int,
    cursor: str | None,
    descending: bool = False,
    rank: ColumnElement[int] | None = None,
) -> Page[ReflectionView]:
    """One keyset page of ``statement`` as the actor may see it."""
    items, next_cursor = page(session, statement, sort, limit, cursor, descending, rank)
    return Page(items=reflection_views(session, actor, items), next_cursor=next_cursor)
