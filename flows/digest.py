"""The handlers' morning digest (DESIGN.md §6), daily at 07:00 Hue time: each handler's open
tasks, oldest first. For now it is written to the flow run's log; sending it by email or SMS
arrives with the notifications work."""

import asyncio
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger

from flows.support import domain_session, instant, local
from reflections import sla


def _collect(now: datetime) -> dict[str, list[sla.Task]]:
    with domain_session(now, drill=False) as session:
        return sla.open_tasks_by_handler(session)


def _line(task: sla.Task, now: datetime) -> str:
    stage = f"/{task.stage}" if task.stage else ""
    due = f"due {local(task.due_at)}" if task.due_at else "no deadline"
    late = " OVERDUE" if task.due_at is not None and task.due_at < now else ""
    return f"{task.tracking_code} {task.state}{stage} since {local(task.created_at)}, {due}{late}"


@flow(name="daily-digest", description="Each handler's open tasks, oldest first.")
async def daily_digest(at: datetime | None = None) -> dict[str, Any]:
    """The digest as of ``at`` (default: now), which decides what counts as overdue."""
    now = instant(at)
    logger = get_run_logger()
    digest = await asyncio.to_thread(_collect, now)
    for username, tasks in digest.items():
        overdue = sum(1 for task in tasks if task.due_at is not None and task.due_at < now)
        logger.info("%s: %d open task(s), %d overdue, oldest first", username, len(tasks), overdue)
        for task in tasks:
            logger.info("  %s", _line(task, now))
    logger.info("digest as of %s: %d handler(s)", local(now), len(digest))
    return {
        "at": now.isoformat(),
        "handlers": len(digest),
        "tasks": sum(len(tasks) for tasks in digest.values()),
        "by_handler": {
            name: [task.tracking_code for task in tasks] for name, tasks in digest.items()
        },
    }
