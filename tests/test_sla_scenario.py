"""Deadlines and escalation over Tet 2026, checked against instants computed by hand.

Working time is Monday–Friday 07:30–11:30 and 13:30–17:00 (Asia/Ho_Chi_Minh). The `holidays`
package gives Tet 2026 as Monday 16 – Friday 20 February, so with the two weekends nobody
works from Saturday 14 to Sunday 22 February. Default normal allowances: classify 240 working
minutes, accept 480; emergencies count around the clock (accept 60 minutes).
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.lookup import id_for_code
from reflections.actors import Actor
from reflections.lifecycle.history import timeline
from reflections.lifecycle.intake import Submission, submit
from reflections.lifecycle.service import EventInput, apply_event
from reflections.lifecycle.sla import SweepReport, auto_confirm, sweep
from reflections.models import AdministrativeUnit, Category, HandlingUnit, Reflection
from reflections.models.enums import LifecycleEvent, Priority, Role
from reflections.platform import clock

E = LifecycleEvent
HUE = ZoneInfo("Asia/Ho_Chi_Minh")
COORDINATOR = Actor(Role.COORDINATOR)


def local(day: int, hour: int, minute: int = 0, month: int = 2) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=HUE)


def _id(
    session: Session,
    table: type[AdministrativeUnit] | type[HandlingUnit] | type[Category],
    code: str,
) -> int:
    found = id_for_code(session, table, code, "code")
    assert found is not None
    return found


def _submit(session: Session, at: datetime, area_code: str) -> Reflection:
    with clock.frozen_at(at):
        return submit(
            session,
            Submission(
                description="Rác thải tập kết trái phép",
                address="Huế",
                administrative_unit_id=_id(session, AdministrativeUnit, area_code),
            ),
            Actor.citizen(),
        ).reflection


def _act(
    session: Session,
    reflection: Reflection,
    at: datetime,
    event: LifecycleEvent,
    actor: Actor = COORDINATOR,
    **data: object,
) -> Reflection:
    assert reflection.id is not None
    with clock.frozen_at(at):
        return apply_event(session, reflection.id, event, actor, EventInput(**data))  # type: ignore[arg-type]


def _sweep(session: Session, at: datetime, codes: set[str]) -> list[tuple[str, str, int]]:
    """What the sweep did to these reflections at ``at``: (code, kind, level)."""
    with clock.frozen_at(at):
        report: SweepReport = sweep(session, at)
    done = [(r.tracking_code, "remind", 0) for r in report.reminders]
    done += [(e.tracking_code, "escalate", e.level) for e in report.escalations]
    return [item for item in done if item[0] in codes]


def test_classify_step_escalates_across_the_weekend_and_tet(session: Session) -> None:
    # The three-tier map was in force until 30 June 2025, so this case is of Tet 2025 (Monday
    # 27 – Friday 31 January; with the weekends nobody works from 25 January to 2 February).
    # Phường Vỹ Dạ, Quận Thuận Hóa: its ladder is the district, then the city. Submitted
    # Friday 24 Jan 2025 at 10:00; classify allows 240 minutes.
    def jan(day: int, hour: int, minute: int = 0, month: int = 1) -> datetime:
        return datetime(2025, month, day, hour, minute, tzinfo=HUE)

    reflection = _submit(session, jan(24, 10), "46.D474.W19777")
    code = reflection.tracking_code
    # 240 minutes from Fri 10:00: 90 until lunch, 150 after 13:30 -> 16:00.
    assert reflection.classify_due_at == jan(24, 16)
    expected = [
        # 75% = 180 min: 90 before lunch + 90 after -> Fri 15:00.
        (jan(24, 15), [(code, "remind", 0)]),
        # 100% = 240 min -> Fri 16:00: overdue, the district's leaders.
        (jan(24, 16), [(code, "escalate", 1)]),
        # 150% = 360 min: Friday holds 300 (10:00-11:30, 13:30-17:00); the other 60 wait for
        # Monday 3 Feb after the weekend and Tet: 07:30 + 60 -> 08:30. The city's leaders.
        (jan(3, 8, 30, month=2), [(code, "escalate", 2)]),
    ]
    for at, actions in expected:
        assert _sweep(session, at - timedelta(minutes=1), {code}) == [], f"too early at {at}"
        assert _sweep(session, at, {code}) == actions
        assert _sweep(session, at, {code}) == [], "each action happens once"
    # 200% would be Mon 3 Feb 10:30, but the ladder ends at the city: nothing more, ever.
    assert _sweep(session, jan(7, 17, month=2), {code}) == []
    session.expire_all()
    stored = session.get(Reflection, reflection.id)
    assert stored is not None
    assert (stored.escalation_level, stored.next_sla_at) == (2, None)
    rows = timeline(session, stored.id or 0)
    escalations = [row for row in rows if row.event is E.ESCALATE]
    areas = [row.payload["to_administrative_unit_id"] for row in escalations]
    assert areas == [
        _id(session, AdministrativeUnit, "46.D474"),
        _id(session, AdministrativeUnit, "46"),
    ]
    assert [row.occurred_at for row in escalations] == [jan(24, 16), jan(3, 8, 30, month=2)]


def test_accept_step_then_processing_and_auto_confirm(session: Session) -> None:
    # Today's two-tier map: Phường Phú Xuân; its ladder is the city alone.
    reflection = _submit(session, local(12, 15), "46.W19768")
    code = reflection.tracking_code
    _act(
        session,
        reflection,
        local(12, 15, 30),
        E.CLASSIFY,
        category_id=_id(session, Category, "urban_order"),
        priority=Priority.NORMAL,
        administrative_unit_id=_id(session, AdministrativeUnit, "46.W19768"),
    )
    unit = _id(session, HandlingUnit, "UBND.46.W19768")
    assigned = _act(session, reflection, local(12, 16), E.ASSIGN, handling_unit_id=unit)
    # Accept allows 480 minutes from Thu 12 Feb 16:00: 60 on Thursday, 420 on Friday
    # (240 in the morning, 180 after lunch) -> Fri 13 Feb 16:30.
    assert assigned.accept_due_at == local(13, 16, 30)
    # 75% = 360: 60 Thursday + 300 Friday (240 + 60) -> Fri 14:30.
    assert _sweep(session, local(13, 14, 30), {code}) == [(code, "remind", 0)]
    assert _sweep(session, local(13, 16, 30), {code}) == [(code, "escalate", 1)]
    assert _sweep(session, local(25, 17), {code}) == []  # the city is the top
    handler = Actor(Role.HANDLER, handling_unit_ids=frozenset({unit}))
    accepted = _act(session, reflection, local(23, 9), E.ACCEPT, handler)
    # Process allows 5 working days (2250 minutes) from Mon 23 Feb 09:00 -> Mon 2 Mar 09:00.
    assert accepted.process_due_at == local(2, 9, month=3)
    assert (accepted.step_reminded, accepted.step_escalations) == (False, 0)
    processed = _act(session, reflection, local(24, 10), E.PROCESS, handler, result="Đã xử lý")
    # The confirmation window is 7 days around the clock: Tue 3 Mar 10:00.
    assert processed.confirm_due_at == local(3, 10, month=3)
    assert processed.next_sla_at is None
    with clock.frozen_at(local(3, 9, 59, month=3)):
        assert code not in auto_confirm(session, local(3, 9, 59, month=3))
    with clock.frozen_at(local(3, 10, month=3)):
        assert code in auto_confirm(session, local(3, 10, month=3))
        assert code not in auto_confirm(session, local(3, 10, month=3))
    session.expire_all()
    confirmed = session.get(Reflection, reflection.id)
    assert confirmed is not None and confirmed.state == "confirmed"
    last = timeline(session, confirmed.id or 0)[-1]
    assert (last.event, last.actor_role, last.occurred_at) == (
        E.CONFIRM,
        Role.SYSTEM,
        local(3, 10, month=3),
    )


def test_emergency_counts_around_the_clock_on_tet_eve(session: Session) -> None:
    reflection = _submit(session, local(14, 21), "46.W19768")
    code = reflection.tracking_code
    _act(
        session,
        reflection,
        local(14, 21, 10),
        E.CLASSIFY,
        category_id=_id(session, Category, "power_network"),
        priority=Priority.EMERGENCY,
        administrative_unit_id=_id(session, AdministrativeUnit, "46.W19768"),
    )
    assigned = _act(
        session,
        reflection,
        local(14, 22),
        E.ASSIGN,
        handling_unit_id=_id(session, HandlingUnit, "PCHUE"),
    )
    # Saturday night, Tet eve: emergencies have 60 wall-clock minutes to be accepted.
    assert assigned.accept_due_at == local(14, 23)
    assert _sweep(session, local(14, 22, 45), {code}) == [(code, "remind", 0)]
    assert _sweep(session, local(14, 23), {code}) == [(code, "escalate", 1)]


def test_granted_extension_moves_the_marks(session: Session) -> None:
    reflection = _submit(session, local(2, 8, month=3), "46.W19768")
    code = reflection.tracking_code
    unit = _id(session, HandlingUnit, "UBND.46.W19768")
    handler = Actor(Role.HANDLER, handling_unit_ids=frozenset({unit}))
    _act(
        session,
        reflection,
        local(2, 8, month=3),
        E.CLASSIFY,
        category_id=_id(session, Category, "urban_order"),
        priority=Priority.NORMAL,
        administrative_unit_id=_id(session, AdministrativeUnit, "46.W19768"),
    )
    _act(session, reflection, local(2, 8, month=3), E.ASSIGN, handling_unit_id=unit)
    accepted = _act(session, reflection, local(2, 9, month=3), E.ACCEPT, handler)
    assert accepted.process_due_at == local(9, 9, month=3)  # 5 working days later
    _act(
        session,
        reflection,
        local(3, 9, month=3),
        E.REQUEST_EXTENSION,
        handler,
        reason="Chờ phối hợp",
        new_due_at=local(16, 9, month=3),
    )
    granted = _act(
        session, reflection, local(3, 10, month=3), E.GRANT_EXTENSION, reason="Chính đáng"
    )
    assert granted.process_due_at == local(16, 9, month=3)
    grant = timeline(session, granted.id or 0)[-1]
    assert grant.payload["moved_by_minutes"] == 7 * 24 * 60
    assert grant.reason == "Chính đáng"
    # The old 100% mark (Mon 9 Mar 09:00) passes quietly; the allowance is now 10 working
    # days (4500 minutes), so 75% falls 3375 minutes after Mon 2 Mar 09:00: 7 days and a half
    # (7 x 450 = 3150, then 225 more from Wed 11 Mar 09:00: 150 to 11:30 + 75 -> 14:45).
    assert _sweep(session, local(9, 9, month=3), {code}) == []
    assert _sweep(session, local(11, 14, 45, month=3), {code}) == [(code, "remind", 0)]


@pytest.mark.postgres
def test_two_sweeps_at_once_act_once(engine: Engine, session: Session) -> None:
    """Two workers sweeping the same due reflections: each reminder and escalation once."""
    codes = {_submit(session, local(4, 8, month=5), "46.W19768").tracking_code for _ in range(30)}
    at = local(6, 17, month=5)  # two working days later: past 100% of 240 minutes
    barrier = threading.Barrier(2)

    def run() -> SweepReport:
        with Session(engine, expire_on_commit=False) as own:
            barrier.wait()
            return sweep(own, at, batch_size=7)

    # The clock is frozen once for both threads: each freezing it in turn would restore the
    # other's instant on the way out and leave it frozen for every test after this one.
    with clock.frozen_at(at), ThreadPoolExecutor(max_workers=2) as pool:
        reports = list(pool.map(lambda _: run(), range(2)))
    reminded = [
        r.tracking_code for report in reports for r in report.reminders if r.tracking_code in codes
    ]
    escalated = [
        e.tracking_code
        for report in reports
        for e in report.escalations
        if e.tracking_code in codes
    ]
    # One batch of 7 each: the rest waits for the next sweep, none is acted on twice.
    assert len(reminded) == len(set(reminded))
    assert len(escalated) == len(set(escalated))
    with clock.frozen_at(at):
        while sweep(session, at).reminders:
            pass
    for code in codes:
        stored = session.exec(select(Reflection).where(Reflection.tracking_code == code)).one()
        events = [row.event for row in timeline(session, stored.id or 0)]
        assert events.count(E.REMIND) == 1
        assert events.count(E.ESCALATE) == 1
