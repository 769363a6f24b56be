"""The citizen's pages: submit with a form, follow with code and secret, confirm, reopen."""

import base64
import re

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from reflections.models import Reflection, Reporter
from tests.api_helpers import as_user
from tests.web.pages import csrf, new_browser, post_form, text_of

WARD = "46.W19768"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
FORM = {
    "description": "Hàng quán lấn chiếm vỉa hè trước số 5 Đinh Tiên Hoàng",
    "category": "urban_order",
    "ward": WARD,
    "address": "5 Đinh Tiên Hoàng, Huế",
    "latitude": "16.4698",
    "longitude": "107.5786",
    "name": "Trần Văn Bình",
    "phone": "0905 111 222",
    "email": "binh.tran@example.com",
    "language": "vi",
    "channels": ["sms"],
}


def submit_form(browser: TestClient, **overrides: object) -> tuple[str, str]:
    """Submit through the page; the tracking code and the secret the page shows once."""
    response = post_form(browser, "/submit", FORM | overrides)
    assert response.status_code == 303, text_of(response)
    code = response.headers["location"].split("/track/")[1].split("?")[0]
    page = browser.get(response.headers["location"])
    secret = re.search(r"data-secret>([^<]+)<", page.text)
    assert secret, "the new reflection's page shows its secret"
    return code, secret.group(1)


def test_the_form_offers_categories_wards_and_labels_every_field(browser: TestClient) -> None:
    page = browser.get("/submit")
    assert page.status_code == 200
    assert 'value="urban_order"' in page.text and f'value="{WARD}"' in page.text
    ids = set(re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', page.text))
    labelled = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', page.text))
    assert ids and ids <= labelled, f"fields without a label: {ids - labelled}"


def test_submitting_stores_the_reflection_and_opens_its_tracking_page(
    browser: TestClient, session: Session
) -> None:
    files = [("photos", ("via-he.png", PNG, "image/png"))]
    response = post_form(browser, "/submit", FORM, files=files)
    assert response.status_code == 303
    code = response.headers["location"].split("/track/")[1].split("?")[0]
    stored = session.exec(select(Reflection).where(Reflection.tracking_code == code)).one()
    assert (stored.category_hint, stored.latitude, stored.submitted_via) == (
        "urban_order",
        16.4698,
        "app",
    )
    reporter = session.get(Reporter, stored.reporter_id)
    assert reporter is not None and reporter.phone_e164 == "+84905111222"
    page = text_of(browser.get(f"/track/{code}"))
    assert "Đã tiếp nhận" in page and "đang chờ phân loại" in page


def test_invalid_input_shows_the_form_again_with_what_was_typed(
    browser: TestClient, session: Session
) -> None:
    before = len(session.exec(select(Reflection.id)).all())
    response = post_form(browser, "/submit", FORM | {"phone": "12", "description": "Cây đổ"})
    assert response.status_code == 422
    assert "phone" in response.text and "Cây đổ" in response.text  # nothing typed is lost
    assert len(session.exec(select(Reflection.id)).all()) == before


def test_a_post_without_the_csrf_token_is_refused(browser: TestClient, session: Session) -> None:
    before = len(session.exec(select(Reflection.id)).all())
    browser.get("/submit")
    response = browser.post("/submit", data=FORM)
    assert response.status_code == 403
    assert "text/html" in response.headers["content-type"]
    assert len(session.exec(select(Reflection.id)).all()) == before


def test_tracking_needs_the_secret(app: FastAPI, browser: TestClient) -> None:
    code, secret = submit_form(browser)
    with new_browser(app) as stranger:
        assert stranger.get(f"/track/{code}").headers["location"] == f"/track?code={code}"
        wrong = post_form(stranger, "/track", {"code": code, "secret": "guess"})
        assert wrong.status_code == 404
        right = post_form(stranger, "/track", {"code": code.lower(), "secret": secret})
        assert right.headers["location"] == f"/track/{code}"
        assert code in stranger.get(f"/track/{code}").text


def test_the_citizen_confirms_a_processed_result_with_a_rating(
    browser: TestClient, client: TestClient
) -> None:
    code, _ = submit_form(browser)
    _process(client, code)
    page = browser.get(f"/track/{code}")
    assert "Nhân viên đã dọn dẹp vỉa hè" in page.text and 'name="rating"' in page.text
    version = re.search(r'name="version" value="(\d+)"', page.text)
    assert version
    stale = post_form(
        browser, f"/track/{code}/confirm", {"rating": "4", "version": int(version[1]) - 1}
    )
    assert stale.status_code == 409
    done = post_form(browser, f"/track/{code}/confirm", {"rating": "4", "version": version[1]})
    assert done.headers["location"] == f"/track/{code}?done=confirm"
    after = text_of(browser.get(done.headers["location"]))
    assert "Đã hoàn thành" in after and "4/5" in after
    assert 'name="rating"' not in browser.get(f"/track/{code}").text  # nothing left to do


def test_the_citizen_reopens_with_a_reason_and_an_empty_reason_is_refused(
    browser: TestClient, client: TestClient, session: Session
) -> None:
    code, _ = submit_form(browser)
    _process(client, code)
    empty = post_form(browser, f"/track/{code}/reopen", {"reason": ""})
    assert empty.status_code == 422
    reopened = post_form(browser, f"/track/{code}/reopen", {"reason": "Vẫn còn lấn chiếm"})
    assert reopened.status_code == 303
    stored = session.exec(select(Reflection).where(Reflection.tracking_code == code)).one()
    assert (stored.state, stored.reopen_count) == ("assigned", 1)
    page = text_of(browser.get(f"/track/{code}"))
    assert "Phản ánh lại" in page and "Vẫn còn lấn chiếm" in page


def test_english_is_one_click_away(browser: TestClient) -> None:
    switched = browser.get("/language/en?next=/submit")
    assert switched.headers["location"] == "/submit"
    page = browser.get("/submit")
    assert '<html lang="en">' in page.text and "Report a problem" in page.text
    assert browser.get("/language/vi?next=https://evil.example/").headers["location"] == "/"


def test_an_operator_submits_for_a_citizen_and_reads_them_code_and_secret(
    app: FastAPI, session: Session
) -> None:
    with new_browser(app) as operator:
        post_form(operator, "/login", {"username": "operator", "password": "demo-password"})
        response = post_form(operator, "/submit", FORM)
        assert response.status_code == 200
        code = re.search(r"data-tracking-code>([^<]+)<", response.text)
        assert code and re.search(r"data-secret>([^<]+)<", response.text)
    stored = session.exec(select(Reflection).where(Reflection.tracking_code == code[1])).one()
    assert stored.submitted_via == "hotline"


def _process(client: TestClient, code: str) -> None:
    coordinator, handler = as_user(client, "coordinator"), as_user(client, "handler.phuxuan")
    steps = [
        (
            "classify",
            coordinator,
            {"category": "urban_order", "priority": "normal", "administrative_unit": WARD},
        ),
        ("assign", coordinator, {"handling_unit": f"UBND.{WARD}"}),
        ("accept", handler, {}),
        ("process", handler, {"result": "Nhân viên đã dọn dẹp vỉa hè"}),
    ]
    for event, headers, body in steps:
        response = client.post(f"/api/v1/reflections/{code}/{event}", json=body, headers=headers)
        assert response.status_code == 200, response.text


def test_login_failure_and_csrf_are_pages_not_json(browser: TestClient) -> None:
    token = csrf(browser)
    failed = browser.post("/login", data={"csrf": token, "username": "x", "password": "y"})
    assert failed.status_code == 401 and "Sai tên đăng nhập" in failed.text
    assert browser.get("/console").headers["location"].startswith("/login?next=")


def test_the_link_in_messages_opens_the_right_page_for_each_reader(
    app: FastAPI, browser: TestClient
) -> None:
    code, _ = submit_form(browser)
    assert browser.get(f"/r/{code.lower()}").headers["location"] == f"/track/{code}"
    with new_browser(app) as coordinator:
        post_form(coordinator, "/login", {"username": "coordinator", "password": "demo-password"})
        link = coordinator.get(f"/r/{code}").headers["location"]
        assert link == f"/console/reflections/{code}"


def test_another_browser_cannot_confirm_or_reopen_someone_elses_reflection(
    app: FastAPI, browser: TestClient, client: TestClient, session: Session
) -> None:
    code, _ = submit_form(browser)
    _process(client, code)
    with new_browser(app) as stranger:
        submit_form(stranger)  # a citizen, but with a key of their own
        for action, form in (("confirm", {"rating": "1"}), ("reopen", {"reason": "Không đúng"})):
            assert post_form(stranger, f"/track/{code}/{action}", form).status_code == 404
        assert stranger.get(f"/track/{code}/photos/{'0' * 64}").status_code == 404
    stored = session.exec(select(Reflection).where(Reflection.tracking_code == code)).one()
    session.refresh(stored)
    assert (stored.state, stored.rating, stored.reopen_count) == ("processed", None, 0)
