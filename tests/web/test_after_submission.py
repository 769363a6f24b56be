"""After submission (issue 16): the result's photos are labelled as the result, apart from the
citizen's; the page asks "was it fixed?" before the rating, and "no" leads to reopening."""

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from reflections.models import Attachment, Reflection
from tests.api_helpers import as_citizen, as_user, submit
from tests.images import unique_png
from tests.test_citizen_sign_in import new_phone
from tests.web.pages import log_in, new_browser, post_form, text_of
from tests.web.test_citizen_pages import FORM, PNG, WARD, submit_form

CLASSIFY = {"category": "urban_order", "priority": "normal", "administrative_unit": WARD}


def test_result_photos_are_apart_and_the_page_asks_whether_it_was_fixed(
    browser: TestClient, client: TestClient
) -> None:
    files = [("photos", ("truoc.png", PNG, "image/png"))]
    response = post_form(browser, "/submit", FORM | {"phone": new_phone()}, files=files)
    assert response.status_code == 303
    code = response.headers["location"].split("/track/")[1].split("?")[0]
    coordinator, handler = as_user(client, "coordinator"), as_user(client, "handler.phuxuan")
    for event, headers, body in [
        (
            "classify",
            coordinator,
            {"category": "urban_order", "priority": "normal", "administrative_unit": WARD},
        ),
        ("assign", coordinator, {"handling_unit": f"UBND.{WARD}"}),
        ("accept", handler, {}),
    ]:
        assert (
            client.post(
                f"/api/v1/reflections/{code}/{event}", json=body, headers=headers
            ).status_code
            == 200
        )
    done = client.post(
        f"/api/v1/reflections/{code}/process/with-photos",
        data={"result": "Đã dọn sạch"},
        files=[("photos", ("sau.png", unique_png(), "image/png"))],
        headers=handler,
    )
    assert done.status_code == 200, done.text
    assert len(done.json()["result_photos"]) == 1

    page = browser.get(f"/track/{code}").text
    yours = re.search(r"data-report-photos>(.*?)</ul>", page, re.S)
    result = re.search(r"data-result-photos>(.*?)</ul>", page, re.S)
    assert yours and result
    assert 'alt="Ảnh bạn gửi 1"' in yours.group(1) and "Ảnh kết quả" not in yours.group(1)
    assert 'alt="Ảnh kết quả xử lý 1"' in result.group(1)
    question = page.index("Vấn đề đã được giải quyết chưa?")
    assert question < page.index('name="rating"')
    assert 'href="#reopen-heading"' in page and 'id="reopen-heading"' in page


def test_the_citizen_adds_information_and_a_photo_the_handler_reads(
    app: FastAPI, browser: TestClient, client: TestClient, session: Session
) -> None:
    code, _ = submit_form(browser, phone=new_phone())
    coordinator, handler = as_user(client, "coordinator"), as_user(client, "handler.phuxuan")
    for event, headers, body in [
        ("classify", coordinator, CLASSIFY),
        ("assign", coordinator, {"handling_unit": f"UBND.{WARD}"}),
    ]:
        assert client.post(
            f"/api/v1/reflections/{code}/{event}", json=body, headers=headers
        ).is_success
    page = browser.get(f"/track/{code}").text
    assert "Bổ sung thông tin hoặc ảnh" in page
    files = [("photos", ("them.png", unique_png(), "image/png"))]
    added = post_form(
        browser, f"/track/{code}/add-info", {"text": "Ổ gà rộng thêm sau mưa"}, files=files
    )
    assert added.status_code == 303 and added.headers["location"].endswith("done=add_info")
    after = text_of(browser.get(added.headers["location"]))
    assert "Người dân bổ sung thông tin" in after and "Ổ gà rộng thêm sau mưa" in after

    session.expire_all()
    reflection = session.exec(select(Reflection).where(Reflection.tracking_code == code)).one()
    photos = session.exec(select(Attachment).where(Attachment.reflection_id == reflection.id))
    assert [(p.original_name, p.purpose) for p in photos] == [("them.png", "report")]
    staff = new_browser(app)
    log_in(staff, "handler.phuxuan")
    console = text_of(staff.get(f"/console/reflections/{code}"))
    assert "Người dân bổ sung thông tin" in console and "Ổ gà rộng thêm sau mưa" in console

    # once processed there is nothing more to add
    assert client.post(f"/api/v1/reflections/{code}/accept", json={}, headers=handler).is_success
    done = client.post(
        f"/api/v1/reflections/{code}/process", json={"result": "Đã vá"}, headers=handler
    )
    assert done.is_success
    assert "Bổ sung thông tin hoặc ảnh" not in browser.get(f"/track/{code}").text
    late = post_form(browser, f"/track/{code}/add-info", {"text": "còn nữa"})
    assert late.status_code == 409


def test_only_the_reports_own_citizen_adds_information(client: TestClient) -> None:
    mine = submit(client, contact={"phone": new_phone()})
    other = submit(client, contact={"phone": new_phone()})
    url = f"/api/v1/reflections/{mine['tracking_code']}/information"
    body = {"reason": "Thêm: nước tràn vào nhà dân"}
    assert client.post(url, json=body, headers=as_citizen(other["citizen_key"])).status_code == 404
    assert client.post(url, json=body, headers=as_citizen(mine["citizen_key"])).status_code == 200
