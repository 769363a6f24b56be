"""Auto-confirmation (DESIGN.md §5), hourly: the system confirms processed reflections whose
citizen let the confirmation window close. As of a future ``at`` it is a drill, on a copy of
the database (DESIGN.md §10)."""

import asyncio
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger

from flows.support import domain_session, instant, local
from reflections.lifecycle import drill_guard, drills, sla
from reflections.platform.settings import get_settings


def _confirm_batch(now: datetime, batch_size: int, drill: bool, url: str | None) -> list[str]:
    with domain_session(now, drill, url) as session:
        return sla.auto_confirm(session, now, batch_size)


@flow(
    name="auto-confirm",
    description="Confirm processed reflections whose confirmation window has closed.",
    retries=2,
    retry_delay_seconds=60,
)
async def auto_confirm(
    at: datetime | None = None, batch_size: int = 200, max_batches: int = 25
) -> dict[str, Any]:
    """Confirm as of ``at`` (default: now); returns the tracking codes confirmed."""
    now = instant(at)
    logger = get_run_logger()
    copy = None
    if drill_guard.is_future(now):
        purpose = f"auto-confirm flow as of {now.isoformat()}"
        copy = await asyncio.to_thread(drills.make_copy, get_settings().database_url, purpose)
        logger.info("drill as of %s on a copy of the database: %s", local(now), copy.where)
    url = copy.url if copy else None
    confirmed: list[str] = []
    for _ in range(max_batches):
        batch = await asyncio.to_thread(_confirm_batch, now, batch_size, at is not None, url)
        confirmed += batch
        if len(batch) < batch_size:
            break  # confirmed rows leave the due set, so a full batch may mean more
    for code in confirmed:
        logger.info("confirmed %s: confirmation window closed", code)
    logger.info("auto-confirm as of %s: %d confirmed", local(now), len(confirmed))
    return {"at": now.isoformat(), "confirmed": confirmed, "copy": copy.where if copy else None}
