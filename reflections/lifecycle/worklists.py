"""The lists the IOC desk works through at volume: the coordinator's queue with search, filters,
sort, a total and numbered pages, and "the next item"; the extension requests and processed
results waiting for a coordinator's decision; the supervisor's current escalations.

Numbered pages (offset and count) rather than keyset ones: these lists hold open work, a few
thousand rows at the very most, and a clerk wants "page 3 of 12" and a total.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import phonenumbers
from sqlalchemy import ColumnElement, and_, case, exists, func, or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from reflections.actors import Actor
from reflections.lifecycle.queries import OPEN_STATES, current_due_at, due_sort_key
from reflections.models import (
    AdministrativeUnit,
    Category,
    HistoryEvent,
    Reflection,
    Reporter,
)
from reflections.models.enums import LifecycleEvent, LifecycleState, Priority
from reflections.organisation.visibility import units_in_scope
from reflections.platform import clock

MAX_PAGE_SIZE = 200


class QueueSort(StrEnum):
    OLDEST = "oldest"  # first come, first served: the default
    NEWEST = "newest"
    DEADLINE = "deadline"  # soonest classification deadline first


@dataclass(frozen=True)
class QueueFilters:
    """What the coordinator narrows the queue to; emergencies always come first."""

    text: str | None = None  # words of the description or address, a tracking code, a phone
    state: LifecycleState | None = None  # received, or classified (waiting for a unit)
    category_code: str | None = None  # the classification, else the citizen's choice
    ward_code: str | None = None
    priority: Priority | None = None
    overdue: bool = False
    returned: bool = False  # sent back by a unit
    emergency: bool = False
    sort: QueueSort = QueueSort.OLDEST


@dataclass(frozen=True)
class Page:
    items: list[Reflection]
    total: int
    number: int  # 1-based
    size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


def _returned() -> ColumnElement[bool]:
    """Classified, with no unit, and sent back by one: a unit returned it and it waits again."""
    was_returned = exists().where(
        col(HistoryEvent.reflection_id) == col(Reflection.id),
        col(HistoryEvent.event) == LifecycleEvent.RETURN,
    )
    return and_(
        col(Reflection.state) == LifecycleState.CLASSIFIED,
        col(Reflection.handling_unit_id).is_(None),
        was_returned,
    )


def text_clause(text: str, by_phone: bool = True) -> ColumnElement[bool]:
    """Words of the description or address, a tracking code, or (``by_phone``: for IOC staff,
    who may know the reporter) the reporter's phone number in any usual form."""
    words = text.strip()
    lowered = words.lower()  # % and _ match themselves, not anything
    found = [
        func.lower(col(Reflection.description)).contains(lowered, autoescape=True),
        func.lower(col(Reflection.address)).contains(lowered, autoescape=True),
        col(Reflection.tracking_code) == words.upper(),
    ]
    phone = _phone(words) if by_phone else None
    if phone is not None:  # a caller asking about "my report"
        reporters = select(Reporter.id).where(Reporter.phone_e164 == phone)
        found.append(col(Reflection.reporter_id).in_(reporters))
    return or_(*found)


def _phone(text: str) -> str | None:
    if not any(c.isdigit() for c in text) or any(c.isalpha() for c in text):
        return None
    try:
        number = phonenumbers.parse(text, "VN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def coordinator_queue(filters: QueueFilters) -> SelectOfScalar[Reflection]:
    """New reflections, and those waiting for a unit (returned ones among them), filtered."""
    statement = select(Reflection).where(
        or_(
            col(Reflection.state) == LifecycleState.RECEIVED,
            and_(
                col(Reflection.state) == LifecycleState.CLASSIFIED,
                col(Reflection.handling_unit_id).is_(None),
            ),
        )
    )
    if filters.state is not None:
        statement = statement.where(col(Reflection.state) == filters.state)
    if filters.category_code:
        by_code = select(Category.id).where(Category.code == filters.category_code)
        statement = statement.where(
            or_(
                col(Reflection.category_id).in_(by_code),
                and_(
                    col(Reflection.category_id).is_(None),
                    col(Reflection.category_hint) == filters.category_code,
                ),
            )
        )
    if filters.ward_code:
        ward = select(AdministrativeUnit.id).where(AdministrativeUnit.code == filters.ward_code)
        statement = statement.where(col(Reflection.administrative_unit_id).in_(ward))
    if filters.priority is not None:
        statement = statement.where(col(Reflection.priority) == filters.priority)
    if filters.emergency:
        statement = statement.where(col(Reflection.priority) == Priority.EMERGENCY)
    if filters.overdue:
        statement = statement.where(current_due_at() < clock.now())
    if filters.returned:
        statement = statement.where(_returned())
    if filters.text and filters.text.strip():
        statement = statement.where(text_clause(filters.text))
    return statement


# (expression, descending): SQL expressions and mapped columns alike.
Ordering = list[tuple[Any, bool]]


def queue_ordering(sort: QueueSort) -> Ordering:
    """Emergencies first (they run around the clock), then the chosen order, then the id."""
    urgent = case((col(Reflection.priority) == Priority.EMERGENCY, 0), else_=1)
    created, ident = col(Reflection.created_at), col(Reflection.id)
    if sort is QueueSort.NEWEST:
        return [(urgent, False), (created, True), (ident, True)]
    if sort is QueueSort.DEADLINE:
        return [(urgent, False), (due_sort_key(), False), (ident, False)]
    return [(urgent, False), (created, False), (ident, False)]


def numbered_page(
    session: Session,
    statement: SelectOfScalar[Reflection],
    ordering: Ordering,
    number: int,
    size: int,
) -> Page:
    """Page ``number`` (clamped to the last one) of ``statement`` in ``ordering``, with the
    total."""
    size = max(1, min(size, MAX_PAGE_SIZE))
    total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    last = max(1, -(-total // size))
    number = max(1, min(number, last))
    order = [expression.desc() if descending else expression for expression, descending in ordering]
    rows = session.exec(statement.order_by(*order).offset((number - 1) * size).limit(size))
    return Page(list(rows), total, number, size)


def next_in_order(
    session: Session,
    statement: SelectOfScalar[Reflection],
    ordering: Ordering,
    current_id: int,
) -> str | None:
    """The tracking code of the reflection after ``current_id`` in the list's order (the first
    one when ``current_id`` is the last or no longer listed), never ``current_id`` itself."""
    values = session.execute(
        select(*(expression for expression, _ in ordering)).where(col(Reflection.id) == current_id)
    ).first()
    others = statement.where(col(Reflection.id) != current_id)
    order = [expression.desc() if descending else expression for expression, descending in ordering]
    if values is not None:
        after = _after(ordering, tuple(values))
        found = session.exec(others.where(after).order_by(*order).limit(1)).first()
        if found is not None:
            return found.tracking_code
    first = session.exec(others.order_by(*order).limit(1)).first()
    return first.tracking_code if first is not None else None


def _after(ordering: Ordering, values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows that come after ``values`` in ``ordering``: a keyset condition, any directions."""
    branches = []
    for index, (expression, descending) in enumerate(ordering):
        equal = [ordering[j][0] == values[j] for j in range(index)]
        beyond = expression < values[index] if descending else expression > values[index]
        branches.append(and_(*equal, beyond))
    return or_(*branches)


# -- what waits for a coordinator's decision -------------------------------------------------


def extension_requests() -> SelectOfScalar[Reflection]:
    """Assigned reflections whose unit asked for more time, soonest deadline first."""
    return select(Reflection).where(
        col(Reflection.state) == LifecycleState.ASSIGNED, col(Reflection.extension_pending)
    )


def extension_ordering() -> Ordering:
    return [(due_sort_key(), False), (col(Reflection.id), False)]


def processed_results() -> SelectOfScalar[Reflection]:
    """Processed reflections the coordinator may still send back, before the citizen's
    confirmation window closes."""
    return select(Reflection).where(col(Reflection.state) == LifecycleState.PROCESSED)


def processed_ordering() -> Ordering:
    """The confirmation window that closes soonest first: after that it is too late."""
    return [(col(Reflection.confirm_due_at), False), (col(Reflection.id), False)]


@dataclass(frozen=True)
class LatestEvent:
    """The latest row of one event of a reflection: who asked, when, why, and its payload."""

    reason: str | None
    payload: dict[str, Any]
    occurred_at: datetime
    actor_user_id: int | None


def latest_events(
    session: Session, reflection_ids: Sequence[int], event: LifecycleEvent
) -> dict[int, LatestEvent]:
    """For each reflection, its latest ``event`` row (a return's reason, a request's reason
    and date), in one query for a page of reflections."""
    if not reflection_ids:
        return {}
    latest = (
        select(func.max(HistoryEvent.seq))
        .where(HistoryEvent.reflection_id == Reflection.id, HistoryEvent.event == event)
        .correlate(Reflection)
        .scalar_subquery()
    )
    rows = session.exec(
        select(HistoryEvent)
        .join(Reflection, col(Reflection.id) == HistoryEvent.reflection_id)
        .where(col(Reflection.id).in_(reflection_ids), col(HistoryEvent.seq) == latest)
    )
    return {
        row.reflection_id: LatestEvent(row.reason, row.payload, row.occurred_at, row.actor_user_id)
        for row in rows
    }


# -- the supervisor's escalations ------------------------------------------------------------


def supervisor_escalations(session: Session, actor: Actor) -> SelectOfScalar[Reflection]:
    """Open reflections whose running step was escalated to one of the supervisor's areas, or
    escalated past them from a unit under their areas ("moved up"): what waits on them, or
    went over their heads. Once the step restarts (reassigned, accepted, ...) it leaves."""
    current = and_(
        col(Reflection.escalated_at).is_not(None),
        or_(
            col(Reflection.step_started_at).is_(None),
            col(Reflection.escalated_at) > col(Reflection.step_started_at),
        ),
    )
    ours = [col(Reflection.escalated_to_id).in_(actor.administrative_unit_ids)]
    units = units_in_scope(session, actor)
    if units:
        ours.append(col(Reflection.handling_unit_id).in_(units))
    return select(Reflection).where(col(Reflection.state).in_(OPEN_STATES), current, or_(*ours))


def escalation_ordering() -> Ordering:
    return [(due_sort_key(), False), (col(Reflection.id), False)]


def moved_up(actor: Actor, reflection: Reflection) -> bool:
    """Escalated beyond the supervisor's areas: they see it, the level above decides."""
    return reflection.escalated_to_id not in actor.administrative_unit_ids
