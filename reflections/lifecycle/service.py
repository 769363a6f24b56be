"""The one service that changes reflections.

Every change goes the same way: load, check the actor, run the pure state machine, write the
new fields and exactly one history row, commit once. Any refusal leaves nothing behind.
"""

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from reflections.actors import Actor
from reflections.errors import Conflict, EventNotAllowed, InvalidInput, NotFound
from reflections.lifecycle import (
    attachments,
    followers,
    history,
    reflection_row,
    rows,
    step_records,
)
from reflections.lifecycle.attachments import Photo
from reflections.lifecycle.checks import (
    NOTIFY_COORDINATORS,
    check_references,
    with_duplicate_reason,
)
from reflections.lifecycle.permissions import check_may_fire
from reflections.lifecycle.policy import allowed_now, available_events, position_of
from reflections.messaging import outbox
from reflections.models import Reflection
from reflections.models.enums import LifecycleEvent, Priority, Role
from reflections.platform import clock, logs
from reflections.platform.settings import get_settings
from reflections.timekeeping import deadlines, escalation
from reflections.timekeeping.deadlines import Step
from reflections.timekeeping.policies import confirmation_window
from statemachines.memo import fire  # the chart, its decided cases remembered (issue 18)


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
    assignee_user_id: int | None = None  # with take: the handler taking the task
    notify: str | None = None  # with note: "coordinators" to tell them (a supervisor's nudge)


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
    return apply_events(
        session, reflection_id, [(event, data or EventInput())], actor, expected_version
    )


def apply_events(
    session: Session,
    reflection_id: int,
    steps: Sequence[tuple[LifecycleEvent, EventInput]],
    actor: Actor,
    expected_version: int | None = None,
) -> Reflection:
    """Apply several events as one change (classify and assign from one form): each is checked
    and writes its own history row, and all of them commit together or none does."""
    try:
        reflection: Reflection | None = None
        for index, (event, data) in enumerate(steps):
            expected = expected_version if index == 0 else None
            reflection = _apply(session, reflection_id, event, actor, data, expected)
        assert reflection is not None, "no event to apply"
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
    reflection = rows.get(session, Reflection, reflection_id)
    if reflection is None:
        raise NotFound(f"reflection {reflection_id} does not exist")
    logs.note(tracking_code=reflection.tracking_code, actor_role=actor.role)
    if expected_version is not None and expected_version != reflection.version:
        raise Conflict(
            f"reflection {reflection.tracking_code} is at version {reflection.version}, "
            f"not {expected_version}; reload and retry"
        )
    check_may_fire(session, actor, event, reflection, _target_unit(event, data))
    # The event's reads and writes go through its transaction's connection, asked for once
    # (asking the session each time cost more than some statements' own work; issue 18).
    connection = session.connection()
    # The chain's head is kept on the row (the version check below makes it the head of the
    # history this event extends); NULL after a submission (its hash needs the row's id) and for
    # rows from before the column: then read with the references, in the same query.
    kept_head = reflection.chain_hash
    head = check_references(
        session,
        connection,
        event,
        reflection,
        data,
        actor,
        chain_head=kept_head is None,
    )
    data = with_duplicate_reason(session, event, reflection, data)
    if data.photos and event not in (LifecycleEvent.PROCESS, LifecycleEvent.ADD_INFO):
        raise InvalidInput("photos", f"come only with {LifecycleEvent.PROCESS}")
    photos = attachments.check(data.photos)
    now = clock.now()
    before = position_of(reflection)
    allowed = allowed_now(before)
    if event not in allowed:  # what the machine allows and the current policy does not hold back
        raise EventNotAllowed(event, before.state, before.stage, allowed)
    event_data = {name: getattr(data, name) for name in _EVENT_FIELDS}
    after = fire(before, event, **event_data, now=now, max_reopens=get_settings().max_reopens)
    seq = reflection.version + 1
    prev_hash = kept_head or head
    with session.no_autoflush:  # the ORM must not write the row: reflection_row.write does
        payload = _apply_effects(session, event, reflection, actor, data, now)
        payload |= _update_step(session, connection, event, reflection, actor, data, now)
        reflection.state = after.state
        reflection.assignment_stage = after.stage
        reflection.extension_pending = after.extension_pending
        reflection.reopen_count = after.reopen_count
        reflection.updated_at = now
        reflection.chain_hash = history.write(
            connection,
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
            prev_hash=prev_hash,
        )
    # The one UPDATE, with the version check: a concurrent winner makes it a Conflict (or its
    # history row's unique seq made ours raise IntegrityError above); the rollback takes back
    # the history row too. It also says whether anyone follows the reflection.
    followed = reflection_row.write(session, connection, reflection)
    purpose = "report" if event is LifecycleEvent.ADD_INFO else "result"  # the citizen's, later
    attachments.attach(session, reflection_id, photos, purpose=purpose)
    told = payload | {"reason": data.reason}  # messages may quote the reason, as history keeps it
    outbox.enqueue_for_event(session, reflection, event, told, now, followed=followed)
    session.flush()  # followers, photos, warnings: the reflection itself is clean
    return reflection


def _target_unit(event: LifecycleEvent, data: EventInput) -> int | None:
    if event in (LifecycleEvent.ASSIGN, LifecycleEvent.REASSIGN):
        return data.handling_unit_id
    return None


def _apply_effects(
    session: Session,
    event: LifecycleEvent,
    reflection: Reflection,
    actor: Actor,
    data: EventInput,
    now: datetime,
) -> dict[str, Any]:
    """Set the fields the event changes; return what the history row should record."""
    E = LifecycleEvent  # noqa: N806
    payload: dict[str, Any] = {}
    if event is E.CLASSIFY:
        previous = reflection.priority
        reflection.category_id = data.category_id
        reflection.priority = data.priority
        reflection.administrative_unit_id = data.administrative_unit_id
        payload = {
            "category_id": data.category_id,
            "priority": data.priority.value if data.priority else None,
            "administrative_unit_id": data.administrative_unit_id,
        }
        if previous is not None and previous is not data.priority:
            payload["previous_priority"] = previous.value
    elif event is E.REJECT:
        reflection.rejection_reason = data.reason
        if data.duplicate_of_id is not None:
            original = session.get(Reflection, data.duplicate_of_id)
            assert original is not None  # checked by _with_duplicate_reason
            payload = {"duplicate_of": original.tracking_code}
            followers.merged_into(session, reflection, original, now)  # hears of the original
    elif event in (E.ASSIGN, E.REASSIGN):
        payload = {
            "from_unit_id": reflection.handling_unit_id,
            "handling_unit_id": data.handling_unit_id,
        }
        reflection.handling_unit_id = data.handling_unit_id
        reflection.assignee_id = None  # the new unit decides who takes it
    elif event is E.RETURN:
        payload = {
            "from_unit_id": reflection.handling_unit_id,
            "suggested_unit_id": data.suggested_unit_id,
        }
        reflection.handling_unit_id = None
        reflection.assignee_id = None
        reflection.extension_requested_due_at = None
    elif event is E.ACCEPT and reflection.assignee_id is None and actor.user_id is not None:
        reflection.assignee_id = actor.user_id  # who accepts takes it, unless someone has
        payload = {"assignee_user_id": actor.user_id}
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
    elif event is E.TAKE:
        reflection.assignee_id = data.assignee_user_id
        payload = {"assignee_user_id": data.assignee_user_id}
    elif event is E.NOTE:
        payload = {"notify": data.notify}
    elif event is E.ADD_INFO:
        payload = {"photos": [photo.filename or "" for photo in data.photos]}
    elif event is E.ESCALATE:
        reflection.escalated_at = now
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
    connection: Connection,
    event: LifecycleEvent,
    reflection: Reflection,
    actor: Actor,
    data: EventInput,
    now: datetime,
) -> dict[str, Any]:
    """Deadlines and the sweep's marks; returns what the history row should add."""
    if event in _STARTS or event in _ENDS:  # the running step, if any, ends: record it first
        step_records.record_ended_step(session, connection, event, reflection, now)
    if event in _STARTS:
        deadlines.start_step(session, reflection, _STARTS[event], now)
        return {"due_at": deadlines.due_of(reflection, _STARTS[event])}
    if event in _ENDS:
        deadlines.end_step(reflection)
    elif event is LifecycleEvent.CLASSIFY:
        return deadlines.follow_policy(session, reflection)
    elif event is LifecycleEvent.GRANT_EXTENSION:
        return _grant_extension(session, reflection, data)
    elif event is LifecycleEvent.REMIND:
        reflection.step_reminded = True
        reflection.next_sla_at = deadlines.next_mark(session, reflection)
    elif event is LifecycleEvent.ESCALATE and actor.role is Role.SYSTEM:
        reflection.step_escalations += 1
        reflection.next_sla_at = deadlines.next_mark(
            session, reflection, ladder_length=len(escalation.ladder(session, reflection))
        )
    return {}


def _grant_extension(session: Session, reflection: Reflection, data: EventInput) -> dict[str, Any]:
    """Move the running step's deadline; the history says from when to when, and by how much."""
    step = deadlines.step_of(reflection)
    assert step is not None  # the machine grants extensions only while assigned
    previous = deadlines.due_of(reflection, step)
    new_due = data.new_due_at or reflection.extension_requested_due_at
    assert new_due is not None  # requested with a date, or granted with one
    deadlines.move_due(session, reflection, step, new_due)
    reflection.extension_requested_due_at = None
    moved = (new_due - previous).total_seconds() // 60 if previous else None
    return {
        "step": step.value,
        "previous_due_at": previous,
        "new_due_at": new_due,
        "moved_by_minutes": int(moved) if moved is not None else None,
    }


__all__ = [
    "NOTIFY_COORDINATORS",
    "EventInput",
    "allowed_now",
    "apply_event",
    "apply_events",
    "available_events",
]
