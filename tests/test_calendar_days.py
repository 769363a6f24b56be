"""The working calendar as data: moved days from the table, a change that applies only to steps
started after it, the admin API with its refusals and audit trail, the seed and the CLI.

Hand-checked times are local (Asia/Ho_Chi_Minh); working days are 07:30–11:30 and 13:30–17:00.
The seed holds the government's New Year 2026 arrangement: Friday 2 January off, Saturday 10
January worked. Tests that change the calendar of the shared database use dates in 2031, which
no other test's deadlines reach.
"""

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select
from typer.testing import CliRunner

from reflections.actors import Actor
from reflections.cli import app as cli
from reflections.errors import InvalidInput, NotFound
from reflections.lifecycle.intake import Submission, submit
from reflections.models import CalendarDay, Reflection
from reflections.models.enums import CalendarDayKind
from reflections.platform import clock, migrate
from reflections.platform.db import get_engine
from reflections.platform.settings import get_settings
from reflections.seed import loader
from reflections.timekeeping import calendar_days, deadlines
from tests.api_helpers import as_user

VN = ZoneInfo("Asia/Ho_Chi_Minh")
OFF, WORKING = CalendarDayKind.DAY_OFF, CalendarDayKind.WORKING_DAY


def vn(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VN)


def submitted_at(session: Session, at: datetime) -> Reflection:
    with clock.frozen_at(at):
        return submit(
            session, Submission(description="Ổ gà sâu", address="Lê Lợi"), Actor.citizen()
        ).reflection


@pytest.fixture
def own_session(fresh_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    """A seeded database of the test's own, for changes other tests must not see."""
    migrate.upgrade(fresh_database_url)
    monkeypatch.setattr(loader, "hash_password", lambda password: "not-a-hash")  # speed
    with Session(get_engine(fresh_database_url), expire_on_commit=False) as session:
        loader.seed(session, demo_password="unused")
        yield session
    get_engine(fresh_database_url).dispose()


# -- the seeded New Year 2026 arrangement --------------------------------------------------


def test_the_moved_new_year_days_of_2026(session: Session) -> None:
    # Wednesday 31 Dec 2025 16:00: 1 h that day; Thursday 1 Jan (holiday), Friday 2 Jan (moved
    # day off) and the weekend are off; Monday 5 Jan 07:30 + 3 h = 10:30.
    before = submitted_at(session, vn(2025, 12, 31, 16, 0))
    assert before.classify_due_at == vn(2026, 1, 5, 10, 30)
    # Friday 9 Jan 16:00: 1 h; Saturday 10 Jan is worked: 07:30 + 3 h = 10:30.
    saturday = submitted_at(session, vn(2026, 1, 9, 16, 0))
    assert saturday.classify_due_at == vn(2026, 1, 10, 10, 30)
    # The reminder at 75% (180 min): Friday 16:00–17:00, then Saturday 07:30 + 2 h = 09:30.
    assert deadlines.reminder_at(session, saturday) == vn(2026, 1, 10, 9, 30)


# -- a change applies to steps started after it -----------------------------------------------


def test_a_change_applies_to_steps_started_after_it(own_session: Session) -> None:
    session = own_session
    # Monday 2 March 2026 16:00: 1 h that day, Tuesday 3 March 07:30 + 3 h = 10:30.
    running = submitted_at(session, vn(2026, 3, 2, 16, 0))
    assert running.classify_due_at == vn(2026, 3, 3, 10, 30)

    changed_at = vn(2026, 3, 2, 16, 30)
    row, changed = calendar_days.set_day(
        session, date(2026, 3, 3), OFF, "Nghỉ đột xuất", None, changed_at
    )
    assert changed and row.effective_from == changed_at + timedelta(seconds=60)

    # Within the minute every process takes to reload: still the old calendar. Monday
    # 16:30:30 leaves 29 min 30 s; Tuesday 07:30 + 3 h 30 min 30 s = 11:00:30.
    in_window = submitted_at(session, changed_at + timedelta(seconds=30))
    assert in_window.classify_due_at == vn(2026, 3, 3, 11, 0) + timedelta(seconds=30)
    # Started after it: Monday 16:45 is 15 min, Tuesday is off, Wednesday 07:30 + 3 h 45 min.
    later = submitted_at(session, vn(2026, 3, 2, 16, 45))
    assert later.classify_due_at == vn(2026, 3, 4, 11, 15)

    # The running step keeps its deadline, its marks and its time left.
    session.expire_all()
    running = session.get(Reflection, running.id) or pytest.fail("gone")
    assert running.classify_due_at == vn(2026, 3, 3, 10, 30)
    assert deadlines.reminder_at(session, running) == vn(2026, 3, 3, 9, 30)
    assert deadlines.remaining_minutes(session, running, vn(2026, 3, 3, 9, 30)) == 60

    # Removing it gives the date back to the weekly schedule, for later steps only.
    calendar_days.remove_day(session, date(2026, 3, 3), None, vn(2026, 3, 2, 17, 0))
    again = submitted_at(session, vn(2026, 3, 2, 16, 59))
    assert again.classify_due_at == vn(2026, 3, 4, 11, 29)  # still off: removal not in force
    monday = vn(2026, 3, 9, 16, 0)
    after_removal = submitted_at(session, monday)
    assert after_removal.classify_due_at == vn(2026, 3, 10, 10, 30)
    assert deadlines.reminder_at(session, later) == vn(2026, 3, 4, 10, 15)


def test_refusals_change_nothing(own_session: Session) -> None:
    session = own_session
    count = session.exec(select(func.count()).select_from(CalendarDay)).one()
    now = vn(2026, 3, 2, 9, 0)
    with pytest.raises(InvalidInput, match="working day anyway"):
        calendar_days.set_day(session, date(2026, 3, 4), WORKING, None, None, now)  # a Wednesday
    with pytest.raises(InvalidInput, match="day off anyway"):
        calendar_days.set_day(session, date(2026, 3, 8), OFF, None, None, now)  # a Sunday
    with pytest.raises(InvalidInput, match="day off anyway"):
        calendar_days.set_day(session, date(2026, 9, 2), OFF, None, None, now)  # National Day
    with pytest.raises(InvalidInput, match="2000"):
        calendar_days.set_day(session, date(1999, 3, 4), OFF, None, None, now)
    with pytest.raises(NotFound):
        calendar_days.remove_day(session, date(2026, 3, 4), None, now)
    assert session.exec(select(func.count()).select_from(CalendarDay)).one() == count
    # A holiday may be worked, and a moved day off may be turned back into a working day.
    _, changed = calendar_days.set_day(session, date(2026, 9, 2), WORKING, "thử", None, now)
    assert changed


def test_the_environment_seeds_the_table_and_never_overwrites_an_admin(
    fresh_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REFLECTIONS_EXTRA_DAYS_OFF", '["2026-04-29"]')
    monkeypatch.setenv("REFLECTIONS_EXTRA_WORKING_DAYS", '["2026-04-25"]')
    monkeypatch.setattr(loader, "hash_password", lambda password: "not-a-hash")
    get_settings.cache_clear()
    try:
        migrate.upgrade(fresh_database_url)
        with Session(get_engine(fresh_database_url), expire_on_commit=False) as session:
            report = loader.seed(session, demo_password="unused")
            assert report.created["calendar_days"] == 4  # two from the environment, two moved
            rows = {r.day: r for r in calendar_days.rows_of_year(session, 2026, current_only=True)}
            assert rows[date(2026, 4, 29)].kind is OFF
            assert rows[date(2026, 4, 25)].kind is WORKING
            assert rows[date(2026, 4, 25)].effective_from == calendar_days.ALWAYS
            # Saturday 25 April is worked: Friday 24 16:00–17:00, then Saturday 07:30 + 3 h.
            friday = submitted_at(session, vn(2026, 4, 24, 16, 0))
            assert friday.classify_due_at == vn(2026, 4, 25, 10, 30)

            calendar_days.remove_day(session, date(2026, 4, 29), None, clock.now())
            assert loader.seed(session).created["calendar_days"] == 0
            assert calendar_days.current_row(session, date(2026, 4, 29)) is None
    finally:
        get_settings.cache_clear()
        get_engine(fresh_database_url).dispose()


# -- the admin API ---------------------------------------------------------------------------


def _rows_of(session: Session, day: date) -> list[CalendarDay]:
    session.expire_all()
    return list(
        session.exec(
            select(CalendarDay).where(CalendarDay.day == day).order_by(col(CalendarDay.id))
        )
    )


def test_admin_api_sets_changes_and_removes_a_day_with_an_audit_trail(
    client: TestClient, session: Session
) -> None:
    admin = as_user(client, "admin")
    day = "2031-05-02"  # a Friday
    created = client.put(
        f"/api/v1/admin/calendar/{day}", headers=admin, json={"kind": "day_off", "note": "Nghỉ bù"}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["kind"], body["note"], body["set_by"], body["removed_at"]) == (
        "day_off",
        "Nghỉ bù",
        "admin",
        None,
    )
    same = client.put(
        f"/api/v1/admin/calendar/{day}", headers=admin, json={"kind": "day_off", "note": "Nghỉ bù"}
    )
    assert same.status_code == 200 and len(_rows_of(session, date(2031, 5, 2))) == 1
    noted = client.put(
        f"/api/v1/admin/calendar/{day}", headers=admin, json={"kind": "day_off", "note": "QĐ 12"}
    )
    assert noted.status_code == 200 and noted.json()["note"] == "QĐ 12"

    listed = client.get("/api/v1/admin/calendar?year=2031", headers=admin).json()
    assert [(d["date"], d["note"]) for d in listed] == [(day, "QĐ 12")]
    assert client.delete(f"/api/v1/admin/calendar/{day}", headers=admin).status_code == 204
    assert client.get("/api/v1/admin/calendar?year=2031", headers=admin).json() == []

    history = client.get("/api/v1/admin/calendar/history?year=2031", headers=admin).json()
    trail = [d for d in history if d["date"] == day]  # other tests keep days of 2031 too
    assert [(d["note"], d["set_by"], d["removed_by"]) for d in trail] == [
        ("QĐ 12", "admin", "admin"),
        ("Nghỉ bù", "admin", "admin"),
    ]
    assert all(d["removed_at"] is not None for d in trail)


def test_admin_api_refusals_are_problems_and_change_nothing(
    client: TestClient, session: Session
) -> None:
    admin = as_user(client, "admin")
    before = session.exec(select(func.count()).select_from(CalendarDay)).one()
    cases = [
        ("put", "/api/v1/admin/calendar/2031-05-07", {"kind": "working_day"}, 422, "kind"),
        ("put", "/api/v1/admin/calendar/2031-05-04", {"kind": "day_off"}, 422, "kind"),
        ("put", "/api/v1/admin/calendar/2031-13-01", {"kind": "day_off"}, 422, None),
        ("put", "/api/v1/admin/calendar/2031-05-02", {"kind": "holiday"}, 422, None),
        ("put", "/api/v1/admin/calendar/2031-05-02", {"kind": "day_off", "x": 1}, 422, None),
        ("delete", "/api/v1/admin/calendar/2031-05-09", None, 404, None),
        ("get", "/api/v1/admin/calendar?year=1900", None, 422, None),
    ]
    for method, path, body, status, field in cases:
        response = client.request(method, path, headers=admin, json=body)
        assert response.status_code == status, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        if field:
            assert [e["field"] for e in response.json()["errors"]] == [field]
    for user in ("coordinator", "auditor", "supervisor.ioc"):
        response = client.put(
            "/api/v1/admin/calendar/2031-05-02",
            headers=as_user(client, user),
            json={"kind": "day_off"},
        )
        assert response.status_code == 403
    assert (
        client.put("/api/v1/admin/calendar/2031-05-02", json={"kind": "day_off"}).status_code == 401
    )
    session.expire_all()
    assert session.exec(select(func.count()).select_from(CalendarDay)).one() == before


# -- the command line --------------------------------------------------------------------------


def test_calendar_show_prints_the_working_days_and_the_exceptions(database_url: str) -> None:
    result = CliRunner().invoke(cli, ["calendar", "show", "2026"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "249 working days" in lines[0]
    # January: 22 weekdays, minus New Year's Day and the moved Friday, plus the Saturday.
    assert any(line.split()[:2] == ["01/2026", "21"] for line in lines)
    assert any(line.split()[:2] == ["02/2026", "15"] for line in lines)  # Tet 16–20 February
    found = {line.split()[0]: line for line in lines if line.strip()[:2].isdigit()}
    assert "day off" in found["02/01/2026"] and "administrator" in found["02/01/2026"]
    assert "working day" in found["10/01/2026"] and "Sat" in found["10/01/2026"]
    assert "official make-up day" in found["22/08/2026"]
    assert "public holiday" in found["17/02/2026"]
    assert CliRunner().invoke(cli, ["calendar", "show", "1999"]).exit_code == 2


def test_calendar_rows_are_read_once_per_process_until_changed(own_session: Session) -> None:
    session = own_session
    first = calendar_days.config_as_of(session, datetime(2026, 1, 9, tzinfo=UTC))
    assert date(2026, 1, 10) in first.extra_working_days
    session.add(
        CalendarDay(
            day=date(2026, 3, 13),
            kind=OFF,
            effective_from=calendar_days.ALWAYS,
            created_at=clock.now(),
            note=f"written behind the cache's back {uuid.uuid4().hex[:4]}",
        )
    )
    session.commit()
    cached = calendar_days.config_as_of(session, datetime(2026, 3, 1, tzinfo=UTC))
    assert date(2026, 3, 13) not in cached.extra_days_off  # not re-read on every deadline
    calendar_days.invalidate(session)
    fresh = calendar_days.config_as_of(session, datetime(2026, 3, 1, tzinfo=UTC))
    assert date(2026, 3, 13) in fresh.extra_days_off
