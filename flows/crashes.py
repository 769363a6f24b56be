"""A flow run whose worker died is marked Crashed, so its concurrency slot is freed and the
next scheduled run does the work (the rows the dead run had claimed come back when the domain's
lease on them expires).

Prefect notices a dead worker only by the silence of its runs: each run sends a heartbeat event
every ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` seconds (set it on the workers, e.g. 30), and this
automation, installed once per Prefect server after ``prefect deploy --all``, marks a run Crashed
when three heartbeats in a row do not come and the run has not ended::

    PREFECT_API_URL=http://prefect.example:4200/api python -m flows.crashes [--heartbeat 30]
"""

import argparse
import asyncio
from datetime import timedelta

from prefect.automations import Automation
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import EventTrigger, Posture

NAME = "reflections: a run whose worker died is crashed"
ENDED = {
    "prefect.flow-run.Completed",
    "prefect.flow-run.Failed",
    "prefect.flow-run.Cancelled",
    "prefect.flow-run.Crashed",
}


def automation(heartbeat_seconds: int) -> Automation:
    return Automation(
        name=NAME,
        description="No heartbeat for three periods and no end: the worker running it died.",
        trigger=EventTrigger(
            match={"prefect.resource.id": "prefect.flow-run.*"},
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat"} | ENDED,
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=3 * heartbeat_seconds),
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message=f"No heartbeat for {3 * heartbeat_seconds} s: its worker died.",
            )
        ],
    )


async def install(heartbeat_seconds: int) -> str:
    """Create the automation, or replace one of the same name; returns what was done."""
    wanted = automation(heartbeat_seconds)
    try:
        existing = await Automation.aread(name=NAME)
    except ValueError:
        await wanted.acreate()
        return "created"
    await existing.adelete()
    await wanted.acreate()
    return "replaced"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--heartbeat", type=int, default=30, help="the workers' heartbeat (s)")
    done = asyncio.run(install(parser.parse_args().heartbeat))
    print(f"{NAME}: {done}")


if __name__ == "__main__":
    main()
