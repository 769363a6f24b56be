"""The notification dispatcher (DESIGN.md §6): delivers the transactional outbox.

Scheduled every minute; each run keeps draining for ``run_seconds`` (polling every
``poll_seconds`` when idle), so a message waits seconds, not a minute, while Prefect records
one run a minute rather than one every few seconds. Runs may overlap or run on two workers:
rows are claimed with ``FOR UPDATE SKIP LOCKED`` and a lease, so each is sent once.
"""

import asyncio
import time
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger
from sqlmodel import Session

from flows.support import instant, local
from reflections.messaging.channels import configured_channels
from reflections.messaging.dispatcher import DispatchReport, drain_async
from reflections.platform import clock
from reflections.platform.db import get_engine
from reflections.platform.settings import get_settings


@flow(name="notification-dispatch", description="Deliver the outbox: SMS, email, console.")
async def dispatch_notifications(
    at: datetime | None = None,
    batch_size: int | None = None,
    run_seconds: float = 55.0,
    poll_seconds: float = 5.0,
) -> dict[str, Any]:
    """Drain the outbox as of ``at`` (a drill: one drain at that instant) or of now, again
    and again until ``run_seconds`` have passed."""
    logger = get_run_logger()
    channels = configured_channels()  # one set per run: the rate limits hold across batches
    size = batch_size or get_settings().outbox_batch_size
    fixed = instant(at) if at is not None else None
    total = DispatchReport()
    deadline = time.monotonic() + (0 if fixed else run_seconds)
    with Session(get_engine(), expire_on_commit=False) as session:
        while True:
            total.add(await drain_async(session, channels, fixed, size))
            if time.monotonic() + poll_seconds > deadline:
                break
            await asyncio.sleep(poll_seconds)
    counts = total.counts()
    done = fixed or clock.now()
    summary = ", ".join(f"{n} {name}" for name, n in counts.items() if n) or "nothing due"
    logger.info("dispatch as of %s: %s", local(done), summary)
    return {"at": done.isoformat(), **counts}
