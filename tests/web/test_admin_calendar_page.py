"""The administrators' working calendar page: the year at a glance, setting and removing a
day, the refusals (in the page's language) and who may open it. Dates set here are in 2031,
which no other test's deadlines reach."""

from datetime import date

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from reflections.models import CalendarDay
from reflections.timekeeping import calendar_days
from tests.web.pages import log_in, new_browser, post_form, text_of


def _count(session: Session) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(CalendarDay)).one()


def test_admin_reads_the_year_with_the_moved_days(browser: TestClient) -> None:
    log_in(browser, "admin")
    page = browser.get("/console/calendar?year=2026")
    assert page.status_code == 200
    text = text_of(page)
    assert "Lịch làm việc năm 2026" in text
    assert "Thứ Sáu 02/01/2026 Ngày nghỉ Quản trị viên" in text
    assert "Thứ Bảy 10/01/2026 Ngày làm việc Quản trị viên" in text
    assert "Tết Nguyên Đán" in text  # the package's holidays, named in Vietnamese
    assert "249 ngày làm việc" in text
    english = browser.get("/language/en?next=/console/calendar")
    assert english.status_code == 303
    assert "Working calendar" in text_of(browser.get("/console/calendar?year=2026"))


def test_admin_sets_and_removes_a_day(browser: TestClient, session: Session) -> None:
    log_in(browser, "admin")
    saved = post_form(
        browser,
        "/console/calendar",
        {"day": "2031-05-16", "kind": "day_off", "note": "Nghỉ bù theo QĐ 7"},
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/console/calendar?year=2031&done=set"
    page = text_of(browser.get(saved.headers["location"]))
    assert "Đã lưu ngày vào lịch làm việc." in page
    assert "16/05/2031 Ngày nghỉ Quản trị viên Nghỉ bù theo QĐ 7" in page
    row = calendar_days.current_row(session, date(2031, 5, 16))
    assert row is not None and row.created_by_id is not None

    removed = post_form(browser, "/console/calendar/2031-05-16/remove", {})
    assert removed.headers["location"] == "/console/calendar?year=2031&done=removed"
    session.expire_all()
    assert calendar_days.current_row(session, date(2031, 5, 16)) is None
    history = text_of(browser.get("/console/calendar?year=2031"))
    assert "Lịch sử thay đổi" in history and "admin" in history


def test_a_refused_day_is_explained_and_saves_nothing(
    browser: TestClient, session: Session
) -> None:
    log_in(browser, "admin")
    before = _count(session)
    refused = post_form(
        browser, "/console/calendar", {"day": "2031-05-17", "kind": "day_off", "note": "nhầm"}
    )
    assert refused.status_code == 422
    assert "Ngày này vốn đã là ngày nghỉ" in text_of(refused)
    assert 'value="2031-05-17"' in refused.text and 'value="nhầm"' in refused.text
    bad = post_form(browser, "/console/calendar", {"day": "17/05/2031", "kind": "day_off"})
    assert bad.status_code == 422 and "Hãy chọn một ngày hợp lệ." in text_of(bad)
    assert _count(session) == before


def test_only_admins_open_the_calendar(app: FastAPI, browser: TestClient) -> None:
    assert browser.get("/console/calendar").status_code == 303  # to the log-in form
    log_in(browser, "coordinator")
    assert browser.get("/console/calendar").status_code == 403
    assert (
        post_form(
            browser, "/console/calendar", {"day": "2031-05-16", "kind": "day_off"}
        ).status_code
        == 403
    )
    with new_browser(app) as admin:
        log_in(admin, "admin")
        forged = admin.post("/console/calendar", data={"day": "2031-05-16", "kind": "day_off"})
        assert forged.status_code == 403
