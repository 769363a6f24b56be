"""The handlers' morning digest (DESIGN.md §6): each handler's open tasks, oldest first,
written to the outbox once per handler, channel and local day, so a second run (a retry, a
second worker) adds nothing."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from notifications import DigestTask, MessageKind, digest_tasks, format_local_date
from reflections import outbox, sla
from reflections.models import OutboxMessage, User
from reflections.settings import get_settings


def enqueue_daily_digests(session: Session, now: datetime) -> list[OutboxMessage]:
    """Write (and commit) the digests due today that are not written yet; returns them."""
    settings = get_settings()
    day = now.astimezone(ZoneInfo(settings.time_zone)).date()
    by_handler = sla.open_tasks_by_handler(session)
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
