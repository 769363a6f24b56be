"""The Prefect flows under Prefect's real engine (one temporary server for the session).

The flows sweep every due reflection of the database they are pointed at, so they get a
database of their own here: a sweep "as of next month" on the shared one would escalate the
other tests' reflections, and theirs would come before ours in each batch.
"""

import asyncio
import importlib
import inspect
import os
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml  # type: ignore[import-untyped]  # what prefect parses prefect.yaml with
from prefect.client.schemas.objects import State
from prefect.client.schemas.schedules import CronSchedule
from sqlmodel import Session, col, select

from flows.confirmations import auto_confirm
from flows.deployments import SCHEDULED, runner_deployments
from flows.digest import daily_digest
from flows.dispatch import dispatch_notifications
from flows.sla import sla_sweep
from flows.support import TIME_ZONE, instant
from reflections.models import (
    HistoryEvent,
    Membership,
    OutboxMessage,
    OutboxStatus,
    Reflection,
    User,
)
from reflections.models.enums import LifecycleEvent, LifecycleState, Role
from reflections.platform import clock, copies, migrate
from reflections.platform.db import get_engine, reset_engines
from reflections.platform.settings import get_settings
from reflections.seed import loader
from reflections.timekeeping import deadlines
from tests.conftest import new_database
from tests.lifecycle_helpers import E, fire, new_reflection, reflection_at, refs

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def flow_database(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, seeded database of this module's own, configured while the module runs."""
    for url in new_database(tmp_path_factory.mktemp("flows")):
        migrate.upgrade(url)
        with pytest.MonkeyPatch.context() as patch, Session(get_engine(url)) as session:
            patch.setattr(loader, "hash_password", lambda password: "not-a-hash")  # speed
            loader.seed(session, demo_password="unused")
        os.environ["REFLECTIONS_DATABASE_URL"] = url
        get_settings.cache_clear()
        reset_engines()
        try:
            yield url
        finally:
            get_engine(url).dispose()
            os.environ["REFLECTIONS_DATABASE_URL"] = database_url
            get_settings.cache_clear()
            reset_engines()


@pytest.fixture
def console_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Where the console channel (nothing else configured) writes the dispatched messages."""
    path = tmp_path / "messages.txt"
    monkeypatch.setenv("REFLECTIONS_NOTIFICATIONS_FILE", str(path))
    get_settings.cache_clear()
    yield path
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def db(flow_database: str) -> Iterator[Session]:
    with Session(get_engine(flow_database), expire_on_commit=False) as session:
        yield session


def _reload(session: Session, reflection: Reflection) -> Reflection:
    session.expire_all()
    fresh = session.get(Reflection, reflection.id)
    assert fresh is not None
    return fresh


def _history(session: Session, reflection: Reflection, event: LifecycleEvent) -> list[HistoryEvent]:
    return list(
        session.exec(
            select(HistoryEvent).where(
                HistoryEvent.reflection_id == reflection.id, HistoryEvent.event == event
            )
        )
    )


async def _escalated_events(tracking_code: str) -> list[Any]:
    """The ``reflection.escalated`` events the Prefect server has stored for one reflection."""
    from prefect import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter
    from prefect.events.worker import EventsWorker

    drained = EventsWorker.drain_all()
    if inspect.isawaitable(drained):
        await drained
    wanted = EventFilter(
        event=EventNameFilter(name=["reflection.escalated"]),
        resource=EventResourceFilter(id=[f"reflection.{tracking_code}"]),
    )
    async with get_client() as client:
        deadline = time.monotonic() + 10
        while True:  # the server persists events in batches (every 0.2 s in tests)
            page = await client.read_events(filter=wanted, limit=50)
            if page.events or time.monotonic() > deadline:
                return list(page.events)
            await asyncio.sleep(0.1)


@pytest.mark.usefixtures("prefect_harness")
def test_sweep_reminds_then_escalates_each_once_and_announces_the_escalation(db: Session) -> None:
    with clock.frozen_at(clock.now() - timedelta(days=40)):  # its marks are all past by now
        reflection = new_reflection(db)
    code = reflection.tracking_code
    remind_at = deadlines.reminder_at(db, reflection)
    overdue_at = deadlines.escalation_at(db, reflection, 1)

    early = asyncio.run(sla_sweep(at=remind_at - timedelta(minutes=1)))
    assert code not in {r["tracking_code"] for r in early["reminders"]}

    reminded = asyncio.run(sla_sweep(at=remind_at))
    assert [r for r in reminded["reminders"] if r["tracking_code"] == code] == [
        {
            "tracking_code": code,
            "reflection_id": reflection.id,
            "step": "classify",
            "due_at": overdue_at.isoformat(),
        }
    ]
    assert code not in {e["tracking_code"] for e in reminded["escalations"]}

    escalated = asyncio.run(sla_sweep(at=overdue_at))
    mine = [e for e in escalated["escalations"] if e["tracking_code"] == code]
    assert len(mine) == 1
    assert mine[0]["level"] == 1
    assert mine[0]["step"] == "classify"

    again = asyncio.run(sla_sweep(at=overdue_at))
    later = asyncio.run(sla_sweep(at=overdue_at + timedelta(days=20)))
    for run in (again, later):
        assert code not in {r["tracking_code"] for r in run["reminders"]}
        assert code not in {e["tracking_code"] for e in run["escalations"]}

    stored = _reload(db, reflection)
    assert (stored.step_reminded, stored.step_escalations, stored.escalation_level) == (True, 1, 1)
    [remind] = _history(db, reflection, LifecycleEvent.REMIND)
    [escalate] = _history(db, reflection, LifecycleEvent.ESCALATE)
    # An explicit `at` is a drill: the history carries that instant, not the wall clock.
    assert (remind.occurred_at, escalate.occurred_at) == (remind_at, overdue_at)

    events = asyncio.run(_escalated_events(code))
    assert len(events) == 1  # read back from the Prefect server, not a patched emitter
    assert events[0].resource["reflection.id"] == str(reflection.id)
    assert events[0].payload == {"level": 1, "area_code": mine[0]["area_code"], "step": "classify"}


@pytest.mark.usefixtures("prefect_harness")
def test_auto_confirm_confirms_once_the_window_has_closed(db: Session) -> None:
    with clock.frozen_at(clock.now() - timedelta(days=20)):  # its window closed by now
        reflection = reflection_at(db, "processed", refs(db))
    assert reflection.confirm_due_at is not None
    due = reflection.confirm_due_at

    early = asyncio.run(auto_confirm(at=due - timedelta(minutes=1)))
    assert reflection.tracking_code not in early["confirmed"]
    assert _reload(db, reflection).state is LifecycleState.PROCESSED

    closed = asyncio.run(auto_confirm(at=due))
    assert reflection.tracking_code in closed["confirmed"]
    assert _reload(db, reflection).state is LifecycleState.CONFIRMED

    again = asyncio.run(auto_confirm(at=due + timedelta(days=1)))
    assert reflection.tracking_code not in again["confirmed"]
    assert len(_history(db, reflection, LifecycleEvent.CONFIRM)) == 1


@pytest.mark.usefixtures("prefect_harness")
def test_a_drill_flow_runs_on_a_copy_and_leaves_the_live_database_alone(db: Session) -> None:
    reflection = new_reflection(db)  # due for its reminder within hours, not a month
    before = (reflection.version, reflection.next_sla_at)
    next_month = clock.now() + timedelta(days=30)

    drill = asyncio.run(sla_sweep(at=next_month))
    assert "_drill_" in drill["copy"]  # a file under drills/, or a scratch database
    mine = [e for e in drill["escalations"] if e["tracking_code"] == reflection.tracking_code]
    assert [e["level"] for e in mine] == [1]  # on the copy, a month on: overdue
    confirmed = asyncio.run(auto_confirm(at=next_month))
    assert confirmed["copy"] and confirmed["copy"] != drill["copy"]

    live = _reload(db, reflection)
    assert (live.version, live.next_sla_at) == before
    assert _history(db, live, LifecycleEvent.ESCALATE) == []
    assert asyncio.run(_escalated_events(reflection.tracking_code)) == []  # nothing announced
    for url in copies.copies_of(get_settings().database_url):
        copies.drop_copy(url)


@pytest.mark.usefixtures("prefect_harness")
def test_daily_digest_logs_and_queues_each_handlers_open_tasks_oldest_first(
    db: Session, caplog: pytest.LogCaptureFixture, console_file: Path
) -> None:
    username, unit_id = db.exec(
        select(User.username, Membership.handling_unit_id)
        .join(Membership, col(Membership.user_id) == User.id)
        .where(User.role == Role.HANDLER, col(Membership.handling_unit_id).is_not(None))
        .order_by(col(User.username))
    ).first() or pytest.fail("the seed has no handler in a unit")
    assert unit_id is not None
    base = refs(db)
    theirs = replace(base, unit_id=unit_id, other_unit_id=base.unit_id)
    now = clock.now()
    codes = []
    for days_ago in (3, 1):  # the older one first
        with clock.frozen_at(now - timedelta(days=days_ago)):
            reflection = new_reflection(db)
            for event in (E.CLASSIFY, E.ASSIGN):
                reflection = fire(db, reflection, event, theirs)
        codes.append(reflection.tracking_code)

    state = asyncio.run(_digest_state(now))
    digest = state.result()
    assert isinstance(digest, dict)
    listed = [code for code in digest["by_handler"][username] if code in codes]
    assert listed == codes
    assert digest["tasks"] >= 2 and digest["handlers"] >= 1

    run_id = str(state.state_details.flow_run_id)
    logged = [  # what the flow run's logger recorded (and sent to the Prefect server)
        record.getMessage().strip()
        for record in caplog.records
        if record.name == "prefect.flow_runs" and getattr(record, "flow_run_id", None) == run_id
    ]
    assert any(line.startswith(f"{username}: ") for line in logged)
    lines = [line for line in logged if any(code in line for code in codes)]
    assert [line.split()[0] for line in lines] == codes

    # The digest is queued for the handler once a day; the dispatcher flow delivers it.
    [message] = _digests_for(db, username)
    assert [
        task["tracking_code"] for task in message.context["tasks"] if task["tracking_code"] in codes
    ] == codes
    again = asyncio.run(daily_digest(at=now + timedelta(minutes=5)))
    assert again["messages"] == 0 and len(_digests_for(db, username)) == 1

    sent = asyncio.run(dispatch_notifications(at=now))
    assert sent["sent"] >= 1
    db.expire_all()
    [message] = _digests_for(db, username)
    assert message.status is OutboxStatus.SENT
    written = console_file.read_text(encoding="utf-8")
    assert f"key: {message.idempotency_key}" in written
    assert "nhiệm vụ đang mở" in written  # the Vietnamese digest


def _digests_for(session: Session, username: str) -> list[OutboxMessage]:
    user = session.exec(select(User).where(User.username == username)).one()
    return list(
        session.exec(
            select(OutboxMessage).where(
                OutboxMessage.kind == "daily_digest",
                OutboxMessage.recipient == user.email,
            )
        )
    )


async def _digest_state(at: datetime) -> State[dict[str, Any]]:
    return await daily_digest(at=at, return_state=True)


def test_instant_is_the_given_aware_instant_in_utc_or_the_clock() -> None:
    hue = datetime(2026, 3, 2, 9, 0, tzinfo=UTC).astimezone(ZoneInfo(TIME_ZONE))
    assert instant(hue) == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert instant(hue).tzinfo is UTC
    with clock.frozen_at(datetime(2026, 1, 1, tzinfo=UTC)):
        assert instant(None) == datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="time zone"):
        instant(datetime(2026, 3, 2, 9, 0))


def test_scheduled_flows_are_async_so_short_runs_skip_the_heartbeat_wait() -> None:
    for item in SCHEDULED:
        assert inspect.iscoroutinefunction(item.flow.fn), item.full_name


def test_served_deployments_run_on_hue_time() -> None:
    served = {f"{d.flow_name}/{d.name}": d for d in runner_deployments()}
    assert set(served) == {item.full_name for item in SCHEDULED}
    for item in SCHEDULED:
        [schedule] = served[item.full_name].schedules or []
        assert isinstance(schedule.schedule, CronSchedule)
        assert (schedule.schedule.cron, schedule.schedule.timezone) == (item.cron, TIME_ZONE)
        assert served[item.full_name].concurrency_limit == item.concurrency
        options = served[item.full_name].concurrency_options
        assert options is not None and options.collision_strategy == "CANCEL_NEW"


def test_prefect_yaml_declares_the_same_deployments_for_a_process_pool() -> None:
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    assert config["pull"] == [{"flows.preflight.check_worker": {}}]
    declared = {d["entrypoint"]: d for d in config["deployments"]}
    assert set(declared) == {item.entrypoint for item in SCHEDULED}
    for item in SCHEDULED:
        deployment = declared[item.entrypoint]
        assert deployment["name"] == item.deployment
        assert deployment["schedules"] == [{"cron": item.cron, "timezone": TIME_ZONE}]
        assert deployment["work_pool"]["name"] == "reflections-process"
        assert deployment["concurrency_limit"] == {
            "limit": item.concurrency,
            "collision_strategy": "CANCEL_NEW",
        }
        module, function = item.entrypoint.split(":")
        assert getattr(importlib.import_module(module), function) is item.flow
