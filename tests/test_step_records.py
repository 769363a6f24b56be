"""Step records: the working time they measure, and which events write them for whom."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from reflections.models import Reflection, StepRecord
from reflections.models.enums import LifecycleEvent
from reflections.timekeeping import deadlines
from reflections.timekeeping.calendar import DEFAULT_WORKING_DAY_MINUTES
from tests.lifecycle_helpers import E, fire, reflection_at, refs

VN = ZoneInfo("Asia/Ho_Chi_Minh")
fast = settings(max_examples=200, deadline=None)
instants = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2027, 12, 31, 23, 59, 59),
    # "right/" zones count leap seconds, which no clock that sends us an instant does (their
    # offsets are 27 s off the civil ones): a client's instant carries a civil offset.
    timezones=st.timezones().filter(lambda zone: not str(zone).startswith("right/")),
    allow_imaginary=False,
)
allowances = st.integers(min_value=0, max_value=40 * DEFAULT_WORKING_DAY_MINUTES)


def vn(month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=VN)


# -- working time --------------------------------------------------------------------------


@fast
@given(instants, allowances)
def test_working_time_gives_back_what_the_calendar_added(
    engine: Engine, start: datetime, minutes: int
) -> None:
    with Session(engine) as session:
        end = deadlines.calendar(session, False, start).add(start, minutes)
        assert deadlines.working_time(session, False, start, end) == timedelta(minutes=minutes)


@fast
@given(instants, instants, instants)
def test_working_time_is_additive_and_bounded(
    engine: Engine, a: datetime, b: datetime, c: datetime
) -> None:
    first, middle, last = sorted((a, b, c))
    with Session(engine) as session:  # the shared database's calendar is the seeded one
        whole = deadlines.working_time(session, False, first, last)
        parts = deadlines.working_time(session, False, first, middle) + deadlines.working_time(
            session, False, middle, last
        )
    assert whole == parts
    assert timedelta(0) <= whole <= last - first


@fast
@given(instants, instants)
def test_around_the_clock_is_wall_clock_time(engine: Engine, a: datetime, b: datetime) -> None:
    start, end = sorted((a, b))
    with Session(engine) as session:
        assert deadlines.working_time(session, True, start, end) == end - start
        assert deadlines.working_time(session, True, end, start) == timedelta(0)


def test_working_time_by_hand(session: Session) -> None:
    def spent(start: datetime, end: datetime) -> timedelta:
        return deadlines.working_time(session, False, start, end)

    # Friday 16:59:30 to Monday 07:30:15: 30 s before the weekend, 15 s on Monday morning.
    assert spent(vn(3, 6, 16, 59, 30), vn(3, 9, 7, 30, 15)) == timedelta(seconds=45)
    # 11:00:20 to 13:30:40: 29 min 40 s, then 40 s after lunch.
    assert spent(vn(3, 2, 11, 0, 20), vn(3, 2, 13, 30, 40)) == timedelta(minutes=30, seconds=20)
    # Over Tet 2026 (16–20 February off): Friday 13 17:00 to Monday 23 07:30 is nothing.
    assert spent(vn(2, 13, 17, 0), vn(2, 23, 7, 30)) == timedelta(0)
    # In UTC too: 00:30 UTC is 07:30 in Hue.
    start = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)
    assert spent(start, start + timedelta(hours=5)) == timedelta(hours=4)


# -- which events write records ------------------------------------------------------------


def _records(session: Session, reflection: Reflection) -> list[tuple[str, int | None, str]]:
    rows = session.exec(
        select(StepRecord)
        .where(col(StepRecord.reflection_id) == reflection.id)
        .order_by(col(StepRecord.id))
    ).all()
    return [(row.step, row.handling_unit_id, row.ended_by) for row in rows]


def test_the_path_to_confirmed(session: Session) -> None:
    r = refs(session)
    reflection = reflection_at(session, "confirmed", r)
    assert _records(session, reflection) == [
        ("classify", None, "assign"),
        ("accept", r.unit_id, "accept"),
        ("process", r.unit_id, "process"),
    ]


def test_reject_ends_classification(session: Session) -> None:
    r = refs(session)
    reflection = fire(session, reflection_at(session, "classified", r), E.REJECT, r)
    assert _records(session, reflection) == [("classify", None, "reject")]


def test_reassign_counts_for_the_unit_it_was_taken_from(session: Session) -> None:
    r = refs(session)
    reflection = reflection_at(session, "in_progress", r)
    reflection = fire(session, reflection, E.REASSIGN, r)  # to the other unit
    reflection = fire(session, reflection, E.REASSIGN, r)  # and back, before accepting
    assert _records(session, reflection)[1:] == [
        ("accept", r.unit_id, "accept"),
        ("process", r.unit_id, "reassign"),
        ("accept", r.other_unit_id, "reassign"),
    ]


def test_return_counts_for_the_unit_that_returned(session: Session) -> None:
    r = refs(session)
    reflection = fire(session, reflection_at(session, "in_progress", r), E.RETURN, r)
    assert _records(session, reflection)[-1] == ("process", r.unit_id, "return")
    reflection = fire(session, reflection, E.ASSIGN, r)
    assert _records(session, reflection)[-1] == ("classify", None, "assign")


def test_events_that_end_no_step_write_nothing(session: Session) -> None:
    r = refs(session)
    reflection = reflection_at(session, "in_progress", r)
    for event in (
        LifecycleEvent.REMIND,
        LifecycleEvent.ESCALATE,
        LifecycleEvent.REQUEST_EXTENSION,
        LifecycleEvent.GRANT_EXTENSION,
    ):
        reflection = fire(session, reflection, event, r)
    assert len(_records(session, reflection)) == 2  # classify, accept
    reflection = fire(session, reflection, E.PROCESS, r)
    for event in (E.SEND_BACK, E.PROCESS, E.REOPEN, E.PROCESS, E.CONFIRM):
        reflection = fire(session, reflection, event, r)
    # send back and reopen start a process step (nothing ran since processing); confirm ends none
    assert [step for step, _, _ in _records(session, reflection)] == [
        "classify",
        "accept",
        "process",
        "process",
        "process",
    ]
