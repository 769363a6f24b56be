"""The morning digests (DESIGN.md §6), daily at 07:00 Hue time: each handler's open tasks,
oldest first, the coordinators' decisions waiting (results to review, extension requests),
written to the outbox (once per person and day) for the dispatcher to send and summarised in
the flow run's log; and the admins' digest of escalations and emergencies that reached nobody."""

import asyncio
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger

from flows.support import domain_session, instant, local
from reflections.messaging import admin_digest, digest


def _collect(now: datetime, drill: bool) -> tuple[dict[str, list[digest.Task]], int, int]:
    with domain_session(now, drill) as session:
        tasks = digest.open_tasks_by_handler(session)
        written = digest.enqueue_daily_digests(session, now)
        written += digest.enqueue_coordinator_digests(session, now)
        warnings = len(admin_digest.pending_warnings(session))
        admin_digest.enqueue_admin_digest(session, now)
        return tasks, len(written), warnings


def _line(task: digest.Task, now: datetime) -> str:
    stage = f"/{task.stage}" if task.stage else ""
    due = f"due {local(task.due_at)}" if task.due_at else "no deadline"
    late = " OVERDUE" if task.due_at is not None and task.due_at < now else ""
    return f"{task.tracking_code} {task.state}{stage} since {local(task.created_at)}, {due}{late}"


@flow(name="daily-digest", description="Each handler's open tasks, oldest first.")
async def daily_digest(at: datetime | None = None) -> dict[str, Any]:
    """The digest as of ``at`` (default: now), which decides what counts as overdue."""
    now = instant(at)
    logger = get_run_logger()
    by_handler, messages, warnings = await asyncio.to_thread(_collect, now, at is not None)
    for username, tasks in by_handler.items():
        overdue = sum(1 for task in tasks if task.due_at is not None and task.due_at < now)
        logger.info("%s: %d open task(s), %d overdue, oldest first", username, len(tasks), overdue)
        for task in tasks:
            logger.info("  %s", _line(task, now))
    logger.info(
        "digest as of %s: %d handler(s), %d message(s) queued",
        local(now),
        len(by_handler),
        messages,
    )
    if warnings:
        logger.warning("%d notice(s) reached nobody; listed in the admin digest", warnings)
    return {
        "at": now.isoformat(),
        "handlers": len(by_handler),
        "tasks": sum(len(tasks) for tasks in by_handler.values()),
        "messages": messages,
        "unheard_warnings": warnings,
        "by_handler": {
            name: [task.tracking_code for task in tasks] for name, tasks in by_handler.items()
        },
    }
