"""One plain status for citizens (issue 16): the state in words and one expected date with the
working days left, never the internal step deadlines."""

from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from sqlmodel import Session, select

from reflections.models import Reflection
from reflections.platform import clock
from tests.lifecycle_helpers import PATHS, E, fire, refs
from tests.test_citizen_sign_in import new_phone
from tests.web.pages import new_browser, text_of
from tests.web.test_citizen_pages import submit_form

MONDAY_9 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # Monday 7 December 2026, 09:00 in Huế


def test_a_new_report_says_when_its_result_is_expected_in_working_days(app: FastAPI) -> None:
    browser = new_browser(app)
    with clock.frozen_at(MONDAY_9):
        code, _ = submit_form(browser, phone=new_phone(), category="")
        page = text_of(browser.get(f"/track/{code}"))
    # classify 4 working hours (15:00), accept 8 (Tuesday 15:30), process 5 working days
    assert "Dự kiến có kết quả trước 15/12/2026." in page
    assert "Còn 6 ngày rưỡi làm việc." in page
    for internal in ("Hạn phân loại", "Hạn nhận xử lý", "Hạn xử lý", "Hạn xác nhận"):
        assert internal not in page


def test_in_english_too(app: FastAPI) -> None:
    browser = new_browser(app)
    browser.get("/language/en")
    with clock.frozen_at(MONDAY_9):
        code, _ = submit_form(browser, phone=new_phone(), category="")
        page = text_of(browser.get(f"/track/{code}"))
    assert "Result expected by 15/12/2026." in page and "Classify by" not in page


def test_late_in_the_process_step_it_says_so_and_once_processed_until_when_to_answer(
    app: FastAPI, session: Session
) -> None:
    browser = new_browser(app)
    with clock.frozen_at(MONDAY_9):
        code, _ = submit_form(browser, phone=new_phone())
    reflection = session.exec(select(Reflection).where(Reflection.tracking_code == code)).one()
    r = refs(session)
    with clock.frozen_at(MONDAY_9 + timedelta(minutes=30)):
        for event in PATHS["in_progress"]:
            reflection = fire(session, reflection, event, r)
    with clock.frozen_at(MONDAY_9 + timedelta(days=20)):
        page = text_of(browser.get(f"/track/{code}"))
        assert "Đã quá ngày dự kiến (14/12/2026)" in page
        fire(session, reflection, E.PROCESS, r)
        page = text_of(browser.get(f"/track/{code}"))
    assert "Bạn có thể đánh giá hoặc phản ánh lại đến hết 03/01/2027." in page
