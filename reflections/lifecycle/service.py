"""The one service that changes reflections.

Every change goes the same way: load, check the actor, run the pure state machine, write the
new fields and exactly one history row, commit once. Any refusal leaves nothing behind.
"""

from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from reflections.actors import Actor
from reflections.errors import Conflict, Forbidden, InvalidInput, NotFound
from reflections.lifecycle import attachments, history, step_records
from reflections.lifecycle.attachments import Photo
from reflections.lifecycle.permissions import check_may_fire
from reflections.messaging import outbox
from reflections.models import (
    AdministrativeUnit,
    Category,
    HandlingUnit,
    HistoryEvent,
    Reflection,
)
from reflections.models.enums import LifecycleEvent, LifecycleState, Priority, Role
from reflections.platform import clock, logs
from reflections.platform.settings import get_settings
from reflections.timekeeping import deadlines, escalation
from reflections.timekeeping.deadlines import Step
from reflections.timekeeping.policies import confirmation_window
from statemachines import Position, allowed_events, fire


@dataclass(frozen=True)
class EventInput:
    """The data events carry; each event reads the fields it needs."""

    reason: str | None = None
    category_id: int | None = None
    priority: Priority | None = None
    administrative_unit_id: int | None = None
    handling_unit_id: int | None = None
    suggested_unit_id: int | None = None
    new_due_at: datetime | None = None
    result: str | None = None
    rating: int | None = None
    comment: str | None = None
    photos: tuple[Photo, ...] = ()  # with process: photos of the result
    duplicate_of_id: int | None = None  # with reject: the original this one duplicates


# What the pure machine is given; photos and the original of a duplicate are the service's.
_EVENT_FIELDS = [f.name for f in fields(EventInput) if f.name not in ("photos", "duplicate_of_id")]


def apply_event(
    session: Session,
    reflection_id: int,
    event: LifecycleEvent,
    actor: Actor,
    data: EventInput | None = None,
    expected_version: int | None = None,
) -> Reflection:
    """Apply one event; raises a :mod:`reflections.errors` error on refusal."""
    data = data or EventInput()
    try:
        reflection = _apply(session, reflection_id, event, actor, data, expected_version)
        session.commit()
    except (StaleDataError, IntegrityError):
        session.rollback()
        raise Conflict("the reflection was changed by someone else; reload and retry") from None
    except BaseException:
        session.rollback()
        raise
    return reflection


def _apply(
    session: Session,
    reflection_id: int,
    event: LifecycleEvent,
    actor: Actor,
    data: EventInput,
    expected_version: int | None,
) -> Reflection:
    reflection = session.get(Reflection, reflection_id)
    if reflection is None:
        raise NotFound(f"reflection {reflection_id} does not exist")
    logs.note(tracking_code=reflection.tracking_code, actor_role=actor.role)
    if expected_version is not None and expected_version != reflection.version:
        raise Conflict(
            f"reflection {reflection.tracking_code} is at version {reflection.version}, "
            f"not {expected_version}; reload and retry"
        )
    check_may_fire(session, actor, event, reflection, _target_unit(event, data))
    _check_references(session, event, reflection, data, actor)
    data = _with_duplicate_reason(session, event, reflection, data)
    if data.photos and event is not LifecycleEvent.PROCESS:
        raise InvalidInput("photos", f"come only with {LifecycleEvent.PROCESS}")
    photos = attachments.check(data.photos)
    now = clock.now()
    before = _position(reflection)
    event_data = {name: getattr(data, name) for name in _EVENT_FIELDS}
    after = fire(before, event, **event_data, now=now, max_reopens=get_settings().max_reopens)
    seq = reflection.version + 1
    prev_hash = history.last_hash(session, reflection_id)
    with session.no_autoflush:  # one UPDATE, so the version moves by exactly one
        payload = _apply_effects(session, event, reflection, data, now)
        payload |= _update_step(session, event, reflection, actor, data, now)
        reflection.state = after.state
        reflection.assignment_stage = after.stage
        reflection.extension_pending = after.extension_pending
        reflection.reopen_count = after.reopen_count
        reflection.updated_at = now
    session.flush()  # the version check: a concurrent winner makes this raise StaleDataError
    row = HistoryEvent(
        reflection_id=reflection_id,
        seq=seq,
        event=event,
        from_state=before.state,
        from_stage=before.stage,
        to_state=after.state,
        to_stage=after.stage,
        actor_user_id=actor.user_id,
        actor_role=actor.role,
        payload=history.json_safe(payload),
        reason=data.reason,
        occurred_at=now,
    )
    history.append(session, row, prev_hash)
    attachments.attach(session, reflection_id, photos, purpose="result")
    outbox.enqueue_for_event(session, reflection, event, payload, now)  # same transaction
    session.flush()
    return reflection


def _position(reflection: Reflection) -> Position:
    return Position(
        state=reflection.state,
        stage=reflection.assignment_stage,
        extension_pending=reflection.extension_pending,
        reopen_count=reflection.reopen_count,
        confirm_due_at=reflection.confirm_due_at,
    )


def _target_unit(event: LifecycleEvent, data: EventInput) -> int | None:
    if event in (LifecycleEvent.ASSIGN, LifecycleEvent.REASSIGN):
        return data.handling_unit_id
    return None


def _apply_effects(
    session: Session,
    event: LifecycleEvent,
    reflection: Reflection,
    data: EventInput,
    now: datetime,
) -> dict[str, Any]:
    """Set the fields the event changes; return what the history row should record."""
    E = LifecycleEvent  # noqa: N806
    payload: dict[str, Any] = {}
    if event is E.CLASSIFY:
        reflection.category_id = data.category_id
        reflection.priority = data.priority
        reflection.administrative_unit_id = data.administrative_unit_id
        payload = {
            "category_id": data.category_id,
            "priority": data.priority.value if data.priority else None,
            "administrative_unit_id": data.administrative_unit_id,
        }
    elif event is E.REJECT:
        reflection.rejection_reason = data.reason
        if data.duplicate_of_id is not None:
            original = session.get(Reflection, data.duplicate_of_id)
            assert original is not None  # checked by _with_duplicate_reason
            payload = {"duplicate_of": original.tracking_code}
    elif event in (E.ASSIGN, E.REASSIGN):
        payload = {
            "from_unit_id": reflection.handling_unit_id,
            "handling_unit_id": data.handling_unit_id,
        }
        reflection.handling_unit_id = data.handling_unit_id
    elif event is E.RETURN:
        payload = {
            "from_unit_id": reflection.handling_unit_id,
            "suggested_unit_id": data.suggested_unit_id,
        }
        reflection.handling_unit_id = None
    elif event is E.REQUEST_EXTENSION:
        reflection.extension_requested_due_at = data.new_due_at
        payload = {"new_due_at": data.new_due_at}
    elif event is E.DENY_EXTENSION:
        payload = {"requested_due_at": reflection.extension_requested_due_at}
        reflection.extension_requested_due_at = None
    elif event is E.PROCESS:
        reflection.result_text = data.result
        window = confirmation_window(session, reflection.category_id, reflection.priority)
        reflection.confirm_due_at = now + window
        payload = {"result": data.result, "confirm_due_at": reflection.confirm_due_at}
    elif event in (E.SEND_BACK, E.REOPEN):
        reflection.confirm_due_at = None
    elif event is E.CONFIRM:
        reflection.rating = data.rating
        reflection.rating_comment = data.comment
        payload = {"rating": data.rating, "comment": data.comment}
    elif event is E.ESCALATE:
        reflection.escalation_level += 1
        reflection.escalated_to_id = data.administrative_unit_id or escalation.next_area(
            session, reflection
        )
        payload = {
            "escalation_level": reflection.escalation_level,
            "to_administrative_unit_id": reflection.escalated_to_id,
        }
    return payload


# Events that start a step, and the step they start (DESIGN.md §5).
_STARTS = {
    LifecycleEvent.ASSIGN: Step.ACCEPT,
    LifecycleEvent.REASSIGN: Step.ACCEPT,
    LifecycleEvent.RETURN: Step.CLASSIFY,
    LifecycleEvent.ACCEPT: Step.PROCESS,
    LifecycleEvent.SEND_BACK: Step.PROCESS,
    LifecycleEvent.REOPEN: Step.PROCESS,
}
_ENDS = {LifecycleEvent.PROCESS, LifecycleEvent.CONFIRM, LifecycleEvent.REJECT}


def _update_step(
    session: Session,
    event: LifecycleEvent,
    reflection: Reflection,
    actor: Actor,
    data: EventInput,
    now: datetime,
) -> dict[str, Any]:
    """Deadlines and the sweep's marks; returns what the history row should add."""
    if event in _STARTS or event in _ENDS:  # the running step, if any, ends: record it first
        step_records.record_ended_step(session, event, reflection, now)
    if event in _STARTS:
        deadlines.start_step(session, reflection, _STARTS[event], now)
        return {"due_at": deadlines.due_of(reflection, _STARTS[event])}
    if event in _ENDS:
        deadlines.end_step(reflection)
    elif event is LifecycleEvent.GRANT_EXTENSION:
        return _grant_extension(reflection, data)
    elif event is LifecycleEvent.REMIND:
        reflection.step_reminded = True
        reflection.next_sla_at = deadlines.next_mark(reflection)
    elif event is LifecycleEvent.ESCALATE and actor.role is Role.SYSTEM:
        reflection.step_escalations += 1
        reflection.next_sla_at = deadlines.next_mark(
            reflection, ladder_length=len(escalation.ladder(session, reflection))
        )
    return {}


def _grant_extension(reflection: Reflection, data: EventInput) -> dict[str, Any]:
    """Move the running step's deadline; the history says from when to when, and by how much."""
    step = deadlines.step_of(reflection)
    assert step is not None  # the machine grants extensions only while assigned
    previous = deadlines.due_of(reflection, step)
    new_due = data.new_due_at or reflection.extension_requested_due_at
    assert new_due is not None  # requested with a date, or granted with one
    deadlines.move_due(reflection, step, new_due)
    reflection.extension_requested_due_at = None
    moved = (new_due - previous).total_seconds() // 60 if previous else None
    return {
        "step": step.value,
        "previous_due_at": previous,
        "new_due_at": new_due,
        "moved_by_minutes": int(moved) if moved is not None else None,
    }


def _check_references(
    session: Session, event: LifecycleEvent, reflection: Reflection, data: EventInput, actor: Actor
) -> None:
    """Refuse ids that point nowhere, before anything is written."""
    if data.category_id is not None:
        category = session.get(Category, data.category_id)
        if category is None or not category.active:
            raise InvalidInput("category_id", f"no active category {data.category_id}")
    if data.administrative_unit_id is not None and not session.get(
        AdministrativeUnit, data.administrative_unit_id
    ):
        raise InvalidInput(
            "administrative_unit_id", f"no administrative unit {data.administrative_unit_id}"
        )
    for name in ("handling_unit_id", "suggested_unit_id"):
        unit_id = getattr(data, name)
        if unit_id is None:
            continue
        unit = session.get(HandlingUnit, unit_id)
        if unit is None or not unit.active:
            raise InvalidInput(name, f"no active handling unit {unit_id}")
    if event is LifecycleEvent.REASSIGN and data.handling_unit_id == reflection.handling_unit_id:
        raise InvalidInput("handling_unit_id", "is already the handling unit")
    if event is LifecycleEvent.CONFIRM and actor.role is Role.CITIZEN and data.rating is None:
        raise InvalidInput("rating", "is required when a citizen confirms")


def _with_duplicate_reason(
    session: Session, event: LifecycleEvent, reflection: Reflection, data: EventInput
) -> EventInput:
    """A merge is a reject naming the original (DESIGN.md §4, "duplicate of X"): check the
    original, and make sure the reason the citizen is told names its tracking code."""
    if data.duplicate_of_id is None:
        return data
    if event is not LifecycleEvent.REJECT:
        raise InvalidInput("duplicate_of_id", f"comes only with {LifecycleEvent.REJECT}")
    original = session.get(Reflection, data.duplicate_of_id)
    if original is None:
        raise InvalidInput("duplicate_of_id", f"no reflection {data.duplicate_of_id}")
    if original.id == reflection.id:
        raise InvalidInput("duplicate_of_id", "a reflection cannot duplicate itself")
    if original.state is LifecycleState.REJECTED:
        raise InvalidInput(
            "duplicate_of_id",
            f"{original.tracking_code} is rejected; merge into the reflection it stands for",
        )
    code = original.tracking_code
    reason = (data.reason or "").strip()
    if not reason:
        reason = f"duplicate of {code}"
    elif code not in reason:  # the citizen must learn where to follow their report
        reason = f"{reason} (duplicate of {code})"
    return replace(data, reason=reason)


def available_events(
    session: Session, actor: Actor, reflection: Reflection
) -> list[LifecycleEvent]:
    """The events this actor could fire now: allowed in the state, by the role and scope, and
    with their state-dependent guards open (pending extension, reopen allowance)."""
    position = _position(reflection)
    events = []
    for event in allowed_events(position):
        try:
            check_may_fire(session, actor, event, reflection)
        except Forbidden:
            continue
        deciding = event in (LifecycleEvent.GRANT_EXTENSION, LifecycleEvent.DENY_EXTENSION)
        if deciding and not position.extension_pending:
            continue
        if event is LifecycleEvent.REQUEST_EXTENSION and position.extension_pending:
            continue
        if event is LifecycleEvent.REOPEN and not _reopen_open(position):
            continue
        events.append(event)
    return events


def _reopen_open(position: Position) -> bool:
    due = position.confirm_due_at
    within_window = due is None or clock.now() <= due
    return within_window and position.reopen_count < get_settings().max_reopens
