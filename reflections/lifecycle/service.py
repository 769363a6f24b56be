"""The one service that changes reflections.

Every change goes the same way: load, check the actor, run the pure state machine, write the
new fields and exactly one history row, commit once. Any refusal leaves nothing behind.
"""

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, select

from reflections import attachments, clock, deadlines, escalation
from reflections.attachments import Photo
from reflections.contacts import normalise_email, normalise_phone
from reflections.deadlines import Step
from reflections.lifecycle import history
from reflections.lifecycle.actors import Actor
from reflections.lifecycle.errors import Conflict, Forbidden, InvalidInput, NotFound
from reflections.lifecycle.permissions import check_may_fire, may_fire
from reflections.models import (
    AdministrativeUnit,
    Category,
    HandlingUnit,
    HistoryEvent,
    Reflection,
    Reporter,
)
from reflections.models.enums import (
    Channel,
    Language,
    LifecycleEvent,
    LifecycleState,
    Priority,
    Role,
    SubmissionChannel,
)
from reflections.policies import confirmation_window
from reflections.security import hash_secret, new_secret
from reflections.settings import get_settings
from reflections.tracking import new_tracking_code
from statemachines import Position, allowed_events, fire

MAX_DESCRIPTION_LENGTH = 5000


@dataclass(frozen=True)
class Submission:
    description: str
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = None
    administrative_unit_id: int | None = None
    category_hint: str | None = None
    submitted_via: SubmissionChannel = SubmissionChannel.APP
    reporter_name: str | None = None
    reporter_phone: str | None = None
    reporter_email: str | None = None
    language: Language = Language.VI
    channels: tuple[Channel, ...] = field(default_factory=tuple)
    citizen_key: str | None = None  # given back by a citizen who has submitted before
    photos: tuple[Photo, ...] = ()


@dataclass(frozen=True)
class Submitted:
    reflection: Reflection
    citizen_key: str  # opens all of this citizen's reflections; only its hash is stored


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


_EVENT_FIELDS = [f.name for f in fields(EventInput) if f.name != "photos"]


def submit(session: Session, submission: Submission, actor: Actor) -> Submitted:
    if not may_fire(actor.role, LifecycleEvent.SUBMIT):
        raise Forbidden(f"a {actor.role} may not submit a reflection")
    _check_submission(session, submission)
    photos = attachments.check(submission.photos)
    try:
        submitted = _insert_submission(session, submission, actor)
        assert submitted.reflection.id is not None
        attachments.attach(session, submitted.reflection.id, photos, purpose="report")
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return submitted


def _insert_submission(session: Session, submission: Submission, actor: Actor) -> Submitted:
    now = clock.now()
    citizen_key = submission.citizen_key or new_secret()
    reflection = Reflection(
        tracking_code=_unused_tracking_code(session),
        secret_hash=hash_secret(citizen_key),
        description=submission.description.strip(),
        latitude=submission.latitude,
        longitude=submission.longitude,
        address=submission.address,
        administrative_unit_id=submission.administrative_unit_id,
        category_hint=submission.category_hint,
        submitted_via=submission.submitted_via,
        reporter_id=_reporter_id(session, submission, now),
        state=LifecycleState.RECEIVED,
        created_at=now,
        updated_at=now,
    )
    deadlines.start_step(session, reflection, Step.CLASSIFY, now)
    session.add(reflection)
    session.flush()
    assert reflection.id is not None
    row = HistoryEvent(
        reflection_id=reflection.id,
        seq=1,
        event=LifecycleEvent.SUBMIT,
        to_state=LifecycleState.RECEIVED,
        actor_user_id=actor.user_id,
        actor_role=actor.role,
        payload=history.json_safe({"submitted_via": submission.submitted_via.value}),
        occurred_at=now,
    )
    history.append(session, row, prev_hash=None)
    session.flush()
    return Submitted(reflection, citizen_key)


def apply_event(
    session: Session,
    reflection_id: int,
    event: LifecycleEvent,
    actor: Actor,
    data: EventInput | None = None,
    expected_version: int | None = None,
) -> Reflection:
    """Apply one event; raises a :mod:`reflections.lifecycle.errors` error on refusal."""
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
    if expected_version is not None and expected_version != reflection.version:
        raise Conflict(
            f"reflection {reflection.tracking_code} is at version {reflection.version}, "
            f"not {expected_version}; reload and retry"
        )
    check_may_fire(session, actor, event, reflection, _target_unit(event, data))
    _check_references(session, event, reflection, data, actor)
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


def _check_submission(session: Session, submission: Submission) -> None:
    description = submission.description.strip()
    if not description:
        raise InvalidInput("description", "is required")
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise InvalidInput("description", f"is longer than {MAX_DESCRIPTION_LENGTH} characters")
    has_point = submission.latitude is not None or submission.longitude is not None
    if has_point and (submission.latitude is None or submission.longitude is None):
        raise InvalidInput("location", "needs both latitude and longitude")
    if submission.latitude is not None and not -90 <= submission.latitude <= 90:
        raise InvalidInput("latitude", "must be between -90 and 90")
    if submission.longitude is not None and not -180 <= submission.longitude <= 180:
        raise InvalidInput("longitude", "must be between -180 and 180")
    if not (has_point or (submission.address or "").strip() or submission.administrative_unit_id):
        raise InvalidInput("location", "give coordinates, an address or an administrative unit")
    if submission.administrative_unit_id is not None and not session.get(
        AdministrativeUnit, submission.administrative_unit_id
    ):
        raise InvalidInput(
            "administrative_unit_id", f"no administrative unit {submission.administrative_unit_id}"
        )


def _reporter_id(session: Session, submission: Submission, now: datetime) -> int | None:
    phone = (
        normalise_phone(submission.reporter_phone, "contact.phone")
        if submission.reporter_phone
        else None
    )
    email = (
        normalise_email(submission.reporter_email, "contact.email")
        if submission.reporter_email
        else None
    )
    name = (submission.reporter_name or "").strip() or None
    if not (phone or email or name):
        return None  # anonymous: nothing to keep
    reporter = Reporter(
        name=name,
        phone_e164=phone,
        email=email,
        language=submission.language,
        channels=list(submission.channels),
        anonymous=name is None,
        created_at=now,
    )
    session.add(reporter)
    session.flush()
    return reporter.id


def _unused_tracking_code(session: Session) -> str:
    while True:
        code = new_tracking_code()
        taken = session.exec(select(Reflection.id).where(Reflection.tracking_code == code)).first()
        if taken is None:
            return code


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
