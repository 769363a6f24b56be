"""The morning digests (DESIGN.md §6): each handler's open tasks, oldest first; and the
coordinators' decisions waiting (results they may send back before the citizen's window
closes, extension requests), so nothing waits unseen without a message per result. Written to
the outbox once per person, channel and local day, so a second run (a retry, a second worker)
adds nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from notifications import DigestTask, MessageKind, digest_tasks, format_local_date
from reflections.messaging import outbox
from reflections.models import Membership, OutboxMessage, Reflection, User
from reflections.models.enums import LifecycleState, Role
from reflections.models.reflection import short_title
from reflections.platform.settings import get_settings
from reflections.timekeeping import deadlines


@dataclass(frozen=True)
class Task:
    tracking_code: str
    title: str
    state: str
    stage: str | None
    due_at: datetime | None
    created_at: datetime


def open_tasks_by_handler(session: Session) -> dict[str, list[Task]]:
    """Each active handler's open reflections, oldest first: the morning digest's content."""
    rows = session.execute(
        select(User.username, Reflection)
        .join(Membership, col(Membership.user_id) == User.id)
        .join(Reflection, col(Reflection.handling_unit_id) == Membership.handling_unit_id)
        .where(
            User.role == Role.HANDLER,
            col(User.disabled).is_(False),
            Reflection.state == LifecycleState.ASSIGNED,
        )
        .order_by(col(User.username), col(Reflection.created_at))
    ).all()
    digest: dict[str, list[Task]] = {}
    for username, reflection in rows:
        step = deadlines.step_of(reflection)
        digest.setdefault(username, []).append(
            Task(
                reflection.tracking_code,
                short_title(reflection.description),
                reflection.state.value,
                reflection.assignment_stage.value if reflection.assignment_stage else None,
                deadlines.due_of(reflection, step) if step else None,
                reflection.created_at,
            )
        )
    return digest


def enqueue_daily_digests(session: Session, now: datetime) -> list[OutboxMessage]:
    """Write (and commit) the digests due today that are not written yet; returns them."""
    settings = get_settings()
    day = now.astimezone(ZoneInfo(settings.time_zone)).date()
    by_handler = open_tasks_by_handler(session)
    users = session.exec(
        select(User).where(col(User.username).in_(list(by_handler))).order_by(col(User.id))
    ).all()
    link = settings.public_url.rstrip("/") + "/console/inbox"
    rows: list[OutboxMessage] = []
    for user in users:
        tasks = [
            DigestTask(task.tracking_code, task.title, task.created_at, task.due_at)
            for task in by_handler[user.username]
        ]
        for recipient in outbox.staff_recipients(user):
            context = {
                "handler_name": user.full_name,
                "digest_date": format_local_date(now, recipient.language),
                "tasks": digest_tasks(tasks, recipient.language),
                "link_url": link,
            }
            key = f"digest-{day.isoformat()}-u{user.id}-{recipient.channel}"
            rows.append(
                outbox.new_message(
                    MessageKind.DAILY_DIGEST, recipient, context, now, idempotency_key=key
                )
            )
    return _write_once(session, rows)


def _write_once(session: Session, rows: list[OutboxMessage]) -> list[OutboxMessage]:
    """Add and commit the rows whose key is not written yet; returns those added."""
    written = set(
        session.exec(
            select(OutboxMessage.idempotency_key).where(
                col(OutboxMessage.idempotency_key).in_([row.idempotency_key for row in rows])
            )
        ).all()
    )
    new = [row for row in rows if row.idempotency_key not in written]
    session.add_all(new)
    try:
        session.commit()
    except IntegrityError:  # another run wrote them in between: theirs are as good
        session.rollback()
        return []
    return new


def coordinator_work(session: Session) -> tuple[list[Task], list[Task]]:
    """Results the coordinators may still send back (the window closing soonest first) and
    extension requests to decide (the requested date, soonest first)."""

    def task(reflection: Reflection, due: datetime | None) -> Task:
        return Task(
            reflection.tracking_code,
            short_title(reflection.description),
            reflection.state.value,
            reflection.assignment_stage.value if reflection.assignment_stage else None,
            due,
            reflection.updated_at,
        )

    processed = session.exec(
        select(Reflection)
        .where(Reflection.state == LifecycleState.PROCESSED)
        .order_by(col(Reflection.confirm_due_at))
    ).all()
    requested = session.exec(
        select(Reflection)
        .where(Reflection.state == LifecycleState.ASSIGNED, col(Reflection.extension_pending))
        .order_by(col(Reflection.extension_requested_due_at))
    ).all()
    return (
        [task(r, r.confirm_due_at) for r in processed],
        [task(r, r.extension_requested_due_at) for r in requested],
    )


def enqueue_coordinator_digests(session: Session, now: datetime) -> list[OutboxMessage]:
    """The coordinators' morning message of what waits for them; none when nothing does."""
    results, extensions = coordinator_work(session)
    if not results and not extensions:
        return []
    settings = get_settings()
    day = now.astimezone(ZoneInfo(settings.time_zone)).date()
    coordinators = session.exec(
        select(User).where(User.role == Role.COORDINATOR).order_by(col(User.id))
    ).all()
    link = settings.public_url.rstrip("/") + "/console/processed"
    rows: list[OutboxMessage] = []
    for user in coordinators:
        for recipient in outbox.staff_recipients(user):
            language = recipient.language

            def listed(tasks: list[Task], lang: str = language) -> list[dict[str, str]]:
                return digest_tasks(
                    [DigestTask(t.tracking_code, t.title, t.created_at, t.due_at) for t in tasks],
                    lang,
                )

            context = {
                "coordinator_name": user.full_name,
                "digest_date": format_local_date(now, language),
                "results": listed(results),
                "extensions": listed(extensions),
                "link_url": link,
            }
            key = f"coordinator-digest-{day.isoformat()}-u{user.id}-{recipient.channel}"
            rows.append(
                outbox.new_message(
                    MessageKind.COORDINATOR_DIGEST, recipient, context, now, idempotency_key=key
                )
            )
    return _write_once(session, rows)
