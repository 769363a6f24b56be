"""Report summaries (issue 18), every ten minutes: rebuild the months whose reflections
changed since they were summarised. Meanwhile a report counts a changed month from the
reflections and step records (the same figures, at the SQL's cost for that month) beside the
other months' summaries, so the lag is one of speed, never of figures: at most ten minutes plus
the rebuild after the month's last change.

Two runs at once: the loser of a month's rebuild rolls back (its report_months row is locked
or already inserted by the winner) and the next run finds nothing to do.
"""

import asyncio

from prefect import flow, get_run_logger

from flows.support import domain_session, instant
from reflections.oversight import report_summary


def _refresh() -> list[str]:
    with domain_session(instant(None), drill=False) as session:
        return report_summary.refresh(session)


@flow(
    name="report-summaries",
    description="Rebuild the report summaries of the months that changed since.",
    retries=1,
    retry_delay_seconds=60,
)
async def refresh_report_summaries() -> dict[str, list[str]]:
    """Returns the months rebuilt (or dropped, when their reflections are gone)."""
    months = await asyncio.to_thread(_refresh)
    get_run_logger().info(
        "report summaries: %s", ", ".join(months) if months else "every month current"
    )
    return {"months": months}
