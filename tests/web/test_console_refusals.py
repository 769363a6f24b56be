"""A refused form keeps the clerk's work: the form as typed with the sentence at the field
(422), what someone else did meanwhile (409), and an ended session that logs in again and gets
the form back with its text. Error pages lead back into the console, not to the public home.
"""

import re
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.web.console_helpers import (
    WARD,
    api,
    assigned_code,
    new_code,
    staff,
    stored,
    version_on,
)
from tests.web.pages import csrf, log_in, new_browser, post_form, text_of
from web.session import STAFF_COOKIE

RESULT = "Đã giải tỏa quán nước, lập biên bản và yêu cầu cam kết không tái phạm."


def test_a_date_not_typed_as_dd_mm_yyyy_comes_back_as_typed(
    client: TestClient, browser: TestClient, session: Session
) -> None:
    code = assigned_code(client)
    api(client, code, "accept", "handler.phuxuan")
    log_in(browser, "handler.phuxuan")
    page = browser.get(f"/console/reflections/{code}").text
    for day, expected in (("31/02/2027", "ngày/tháng/năm"), ("12/30/2027", "ngày/tháng/năm")):
        refused = post_form(
            browser,
            f"/console/reflections/{code}/request_extension",
            {
                "reason": "Chờ vật tư thay thế",
                "new_due_date": day,
                "new_due_time": "09:30",
                "version": version_on(page, "request_extension"),
            },
        )
        assert refused.status_code == 422
        html = refused.text
        assert "<title>Lỗi:" in html
        assert 'id="request_extension-new_due_date" name="new_due_date"' in html
        assert 'aria-invalid="true"' in html and expected in text_of(refused)
        assert ">Chờ vật tư thay thế</textarea>" in html and f'value="{day}"' in html
        assert 'data-form="request_extension" open' in html  # the form open where it was
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%d/%m/%Y")
    refused = post_form(
        browser,
        f"/console/reflections/{code}/request_extension",
        {
            "reason": "x",
            "new_due_date": yesterday,
            "version": version_on(page, "request_extension"),
        },
    )
    assert refused.status_code == 422
    assert "Hạn mới phải ở sau thời điểm hiện tại." in text_of(refused)
    reflection = stored(session, code)
    assert not reflection.extension_pending and reflection.version == 4


def test_two_clerks_at_once_the_second_learns_who_did_what_and_when(
    app: FastAPI, client: TestClient, session: Session
) -> None:
    code = new_code(client, category_hint="urban_order")
    with staff(app, "coordinator") as first, staff(app, "coordinator2") as second:
        first_page = first.get(f"/console/reflections/{code}").text
        second_page = second.get(f"/console/reflections/{code}").text
        form = {"category": "urban_order", "priority": "normal", "ward": WARD, "handling_unit": ""}
        done = post_form(
            first,
            f"/console/reflections/{code}/classify",
            form | {"version": version_on(first_page, "classify")},
        )
        assert done.status_code == 303
        refused = post_form(
            second,
            f"/console/reflections/{code}/reject",
            {"reason": "Trùng với phản ánh khác", "version": version_on(second_page, "reject")},
        )
    assert refused.status_code == 409
    said = text_of(refused)
    assert "Trần Thị Mai (Điều phối viên) đã phân loại phản ánh lúc" in said
    assert ">Trùng với phản ánh khác</textarea>" in refused.text  # still allowed: text kept
    assert 'data-state="classified"' in refused.text  # the page as it is now
    assert stored(session, code).state == "classified"


def test_an_ended_session_logs_in_again_and_gets_the_form_back(
    app: FastAPI, client: TestClient, session: Session
) -> None:
    code = assigned_code(client)
    api(client, code, "accept", "handler.phuxuan")
    with new_browser(app) as browser:
        log_in(browser, "handler.phuxuan")
        page = browser.get(f"/console/reflections/{code}").text
        browser.cookies.delete(STAFF_COOKIE)  # the session ends while the result is typed
        ended = post_form(
            browser,
            f"/console/reflections/{code}/process",
            {"result": RESULT, "version": version_on(page, "process")},
        )
        assert ended.status_code == 401
        assert 'name="draft.result"' in ended.text and "Phiên làm việc đã hết hạn" in text_of(ended)
        fields = dict(
            re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', ended.text)
        )
        fields.pop("csrf", None)
        fields |= {
            "username": "handler.phuxuan",
            "password": "demo-password",
            "csrf": csrf(browser),
        }
        back = browser.post("/login", data=fields)
        assert back.status_code == 200
        assert f">{RESULT}</textarea>" in back.text  # the text typed is back in its form
        assert "đã đăng nhập lại" in text_of(back)
        assert stored(session, code).state == "assigned"  # nothing sent without the clerk
        assert browser.get(f"/console/reflections/{code}/process").status_code == 303  # no 405


def test_staff_error_pages_lead_back_into_the_console(
    client: TestClient, browser: TestClient
) -> None:
    code = new_code(client)
    log_in(browser, "coordinator")
    refused = post_form(browser, f"/console/reflections/{code}/accept", {"version": "1"})
    assert refused.status_code == 403
    assert f'href="/console/reflections/{code}"' in refused.text
    assert 'href="/console/queue"' in refused.text and ">Về trang chủ<" not in refused.text
    log_in(browser, "operator")
    refused = browser.get("/console/queue")
    assert refused.status_code == 403
    assert "this page is for" not in refused.text  # no English on a Vietnamese page
    assert "Bạn không có quyền thực hiện thao tác này." in text_of(refused)
