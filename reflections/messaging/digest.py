"""The handlers' morning digest (DESIGN.md §6): each handler's open tasks, oldest first,
written to the outbox once per handler, channel and local day, so a second run (a retry, a
second worker) adds nothing."""

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
