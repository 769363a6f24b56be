"""The automation that marks a run Crashed when its worker died, installed on a real Prefect
server (the session's test harness). The drill (bench/cluster.py) kills a worker mid-run and
shows the run marked Crashed and the next run doing the work."""

import asyncio
from datetime import timedelta

import pytest
from prefect.automations import Automation
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import EventTrigger

from flows.crashes import NAME, install


@pytest.mark.usefixtures("prefect_harness")
def test_installing_twice_leaves_one_automation_with_the_new_heartbeat() -> None:
    assert asyncio.run(install(30)) == "created"
    assert asyncio.run(install(60)) == "replaced"
    automation = asyncio.run(Automation.aread(name=NAME))
    trigger = automation.trigger
    assert isinstance(trigger, EventTrigger)
    assert trigger.within == timedelta(seconds=180)  # three heartbeats of 60 s missed
    assert trigger.for_each == {"prefect.resource.id"}  # each run on its own
    [action] = automation.actions
    assert isinstance(action, ChangeFlowRunState) and action.state == "CRASHED"
