"""The deadline sweep (DESIGN.md §5), every minute: reminders and escalations, each once.

The domain's ``sweep`` claims due reflections in batches; this flow drains the batches due at
one instant (up to ``max_batches``) and announces each escalation as a Prefect event
``reflection.escalated``, after the batch that made it has committed, so automations can react.

A drill (``at`` in the future, or ``drill=True``) runs on a copy of the database, never on the
live one (DESIGN.md §10): the run's log and result say where the copy is, and it announces
nothing.
"""

import asyncio
from dataclasses import asdict
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.events import emit_event

from flows.support import domain_session, instant, local
from reflections.lifecycle import drill_guard, drills, sla
from reflections.platform.settings import get_settings


def _sweep_batch(
    now: datetime, batch_size: int, drill: bool, url: str | None = None
) -> sla.SweepReport:
    with domain_session(now, drill, url) as session:
        return sla.sweep(session, now, batch_size)


def emit_escalated(escalation: sla.Escalation) -> None:
    emit_event(
        event="reflection.escalated",
        resource={
            "prefect.resource.id": f"reflection.{escalation.tracking_code}",
            "prefect.resource.name": escalation.tracking_code,
            "reflection.id": str(escalation.reflection_id),
        },
        related=[
            {
                "prefect.resource.id": f"administrative-unit.{escalation.area_code}",
                "prefect.resource.role": "escalated-to",
            }
        ],
        payload={
            "level": escalation.level,
            "area_code": escalation.area_code,
            "step": escalation.step,
        },
    )


@flow(name="sla-sweep", description="Remind at 75% of a step, escalate at 100% and each 50% more.")
async def sla_sweep(
    at: datetime | None = None, batch_size: int = 200, max_batches: int = 10, drill: bool = False
) -> dict[str, Any]:
    """Sweep as of ``at`` (default: now); returns what was reminded and escalated, and for a
    drill where the copy it ran on is."""
    now = instant(at)
    logger = get_run_logger()
    copy = None
    if drill or drill_guard.is_future(now):
        purpose = f"sla-sweep flow as of {now.isoformat()}"
        copy = await asyncio.to_thread(drills.make_copy, get_settings().database_url, purpose)
        logger.info("drill as of %s on a copy of the database: %s", local(now), copy.where)
    reminders: list[sla.Reminder] = []
    escalations: list[sla.Escalation] = []
    for _ in range(max_batches):
        url = copy.url if copy else None
        report = await asyncio.to_thread(_sweep_batch, now, batch_size, at is not None, url)
        reminders += report.reminders
        escalations += report.escalations
        for escalation in report.escalations if copy is None else []:
            emit_escalated(escalation)
        if report.claimed == 0:
            break  # claimed rows are leased past `now`, so an empty batch means drained
    for reminder in reminders:
        logger.info(
            "reminded %s: %s due %s", reminder.tracking_code, reminder.step, local(reminder.due_at)
        )
    for escalation in escalations:
        logger.info(
            "escalated %s (%s) to level %d, area %s",
            escalation.tracking_code,
            escalation.step,
            escalation.level,
            escalation.area_code,
        )
    logger.info(
        "sweep as of %s: %d reminder(s), %d escalation(s)",
        local(now),
        len(reminders),
        len(escalations),
    )
    return {
        "at": now.isoformat(),
        "reminders": [{**asdict(r), "due_at": r.due_at.isoformat()} for r in reminders],
        "escalations": [asdict(e) for e in escalations],
        "copy": copy.where if copy else None,
    }
