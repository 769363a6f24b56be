"""Audit anchors (DESIGN.md §7), hourly: one digest over the history rows written since the
last anchor, chained to it, so that deleting even a whole reflection's history shows.

Safe to run twice or on two workers at once: runs take turns on the anchors (an advisory lock
on PostgreSQL), and the second finds nothing new. The anchor's hash is logged: Prefect keeps
it outside the product's database, where an auditor can compare it with the stored one.
"""

import asyncio
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger

from flows.support import domain_session, instant, local
from reflections.oversight import anchors


def _anchor(now: datetime, drill: bool) -> dict[str, Any] | None:
    with domain_session(now, drill) as session:
        anchored = anchors.anchor(session, now)
        if anchored is None:
            return None
        return {
            "anchor_id": anchored.id,
            "first_history_id": anchored.first_history_id,
            "last_history_id": anchored.last_history_id,
            "row_count": anchored.row_count,
            "hash": anchored.hash,
        }


@flow(
    name="audit-anchor",
    description="Anchor the settled history rows: one digest, chained to the previous anchor.",
    retries=2,
    retry_delay_seconds=60,
)
async def audit_anchor(at: datetime | None = None) -> dict[str, Any]:
    """Anchor as of ``at`` (default: now); returns the new anchor, or ``anchor_id`` None."""
    now = instant(at)
    logger = get_run_logger()
    anchored = await asyncio.to_thread(_anchor, now, at is not None)
    if anchored is None:
        logger.info("audit anchor as of %s: nothing new to anchor", local(now))
        return {"at": now.isoformat(), "anchor_id": None, "row_count": 0}
    logger.info(
        "audit anchor %d as of %s: history ids %d-%d, %d rows, hash %s",
        anchored["anchor_id"],
        local(now),
        anchored["first_history_id"],
        anchored["last_history_id"],
        anchored["row_count"],
        anchored["hash"],
    )
    return {"at": now.isoformat(), **anchored}
