"""Intake: a citizen's report becomes a reflection in state ``received`` (DESIGN.md §4, submit).

The one creation path for every channel (app, web, hotline, Open311): checks the report, keeps
the reporter's contact apart, starts the classification deadline and writes the first history
row, all in one transaction.

A submission carries an urgency (DESIGN.md §10): it is an emergency when the citizen ticked
"dangerous / urgent", when the operator taking the call chose so, or when the hinted category
is an emergency by default (power network, flooding); its classify step then runs on the
emergency policy (60 minutes around the clock) from submission, and the IOC duty is told at
once. A coordinator may lower (or raise) the priority when classifying.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlmodel import Session, col, select

from reflections.actors import Actor
from reflections.errors import Forbidden, InvalidInput
from reflections.lifecycle import attachments, history, rows
from reflections.lifecycle.attachments import Photo
from reflections.lifecycle.permissions import may_fire
from reflections.lifecycle.tracking import new_tracking_code
from reflections.messaging import outbox
from reflections.messaging.contacts import check_sms_region, normalise_email, normalise_phone
from reflections.models import Category, Reflection, Reporter
from reflections.models.enums import (
    Channel,
    Language,
    LifecycleEvent,
    LifecycleState,
    Priority,
    Role,
    SubmissionChannel,
)
from reflections.organisation import validity
from reflections.platform import clock, logs
from reflections.platform.security import hash_secret, new_secret
from reflections.timekeeping import deadlines
from reflections.timekeeping.deadlines import Step

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
    urgent: bool = False  # the citizen's "dangerous / urgent" tick, or the operator's choice


@dataclass(frozen=True)
class Submitted:
    reflection: Reflection
    citizen_key: str  # opens all of this citizen's reflections; only its hash is stored
    photos: tuple[str, ...] = ()  # the SHA-256 of each photo attached, in order, once each


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
    logs.note(tracking_code=submitted.reflection.tracking_code, actor_role=actor.role)
    attached = tuple(dict.fromkeys(checked.sha256 for checked in photos))  # as attach() keeps them
    return replace(submitted, photos=attached)


# Who may say a submission is urgent, named as the history row records it.
_URGENT_BY_STAFF = frozenset({Role.OPERATOR, Role.COORDINATOR, Role.ADMIN})


def urgency(
    session: Session, submission: Submission, actor: Actor
) -> tuple[Priority | None, list[str]]:
    """The priority a submission carries before classification, and what made it urgent:
    ``operator`` or ``citizen`` (the tick), ``category`` (the hint's default priority)."""
    hinted = (
        session.exec(
            select(Category).where(Category.code == submission.category_hint, col(Category.active))
        ).first()
        if submission.category_hint
        else None
    )
    because = []
    if submission.urgent:
        because.append("operator" if actor.role in _URGENT_BY_STAFF else "citizen")
    if hinted is not None and hinted.default_priority is Priority.EMERGENCY:
        because.append("category")
    if because:
        return Priority.EMERGENCY, because
    return (hinted.default_priority if hinted is not None else None), []


def _insert_submission(session: Session, submission: Submission, actor: Actor) -> Submitted:
    now = clock.now()
    priority, urgent_because = urgency(session, submission, actor)
    citizen_key = submission.citizen_key or new_secret()
    # Held here until the outbox has read it: the session keeps rows only while someone does,
    # and the outbox would load it again (issue 18).
    reporter = _new_reporter(session, submission, now)
    reflection = Reflection(
        tracking_code="",  # drawn below, as it is written
        secret_hash=hash_secret(citizen_key),
        description=submission.description.strip(),
        latitude=submission.latitude,
        longitude=submission.longitude,
        address=submission.address,
        administrative_unit_id=submission.administrative_unit_id,
        category_hint=submission.category_hint,
        submitted_via=submission.submitted_via,
        reporter_id=reporter.id if reporter is not None else None,
        priority=priority,
        state=LifecycleState.RECEIVED,
        created_at=now,
        updated_at=now,
    )
    deadlines.start_step(session, reflection, Step.CLASSIFY, now)
    _insert_with_unused_code(session, reflection)
    assert reflection.id is not None
    # The row's chain head stays NULL (setting it would be a second UPDATE, moving the version):
    # the first event reads it from this row.
    history.write(
        session.connection(),
        reflection_id=reflection.id,
        seq=1,
        event=LifecycleEvent.SUBMIT,
        to_state=LifecycleState.RECEIVED,
        actor_user_id=actor.user_id,
        actor_role=actor.role,
        payload=history.json_safe(
            {"submitted_via": submission.submitted_via.value}
            | ({"priority": priority.value} if priority else {})
            | ({"urgent_because": urgent_because} if urgent_because else {})
        ),
        occurred_at=now,
        prev_hash=None,
    )
    outbox.enqueue_for_event(session, reflection, LifecycleEvent.SUBMIT, {}, now)
    session.flush()
    return Submitted(reflection, citizen_key)


def _check_submission(session: Session, submission: Submission) -> None:
    description = submission.description.strip()
    if not description:
        raise InvalidInput("description", "is required", "required")
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise InvalidInput(
            "description",
            f"is longer than {MAX_DESCRIPTION_LENGTH} characters",
            "too_long",
            max=MAX_DESCRIPTION_LENGTH,
        )
    has_point = submission.latitude is not None or submission.longitude is not None
    if has_point and (submission.latitude is None or submission.longitude is None):
        raise InvalidInput("location", "needs both latitude and longitude", "coordinates_pair")
    if submission.latitude is not None and not -90 <= submission.latitude <= 90:
        raise InvalidInput(
            "latitude", "must be between -90 and 90", "out_of_range", min=-90, max=90
        )
    if submission.longitude is not None and not -180 <= submission.longitude <= 180:
        raise InvalidInput(
            "longitude", "must be between -180 and 180", "out_of_range", min=-180, max=180
        )
    if not (has_point or (submission.address or "").strip() or submission.administrative_unit_id):
        raise InvalidInput(
            "location", "give coordinates, an address or an administrative unit", "location_needed"
        )
    if submission.administrative_unit_id is not None:  # the map of today, the day it happens
        day = validity.local_date(clock.now())
        validity.require_area(
            session, submission.administrative_unit_id, day, "administrative_unit"
        )


def _new_reporter(session: Session, submission: Submission, now: datetime) -> Reporter | None:
    phone = (
        normalise_phone(submission.reporter_phone, "contact.phone")
        if submission.reporter_phone
        else None
    )
    if phone is not None:
        check_sms_region(phone, "contact.phone")
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
    rows.insert_object(session, reporter)
    return reporter


def _insert_with_unused_code(session: Session, reflection: Reflection) -> None:
    """Written with a code drawn at random; a code already taken writes nothing, and another
    is drawn."""
    while True:
        reflection.tracking_code = new_tracking_code()
        if rows.insert_object(session, reflection, unless_taken="tracking_code"):
            return
