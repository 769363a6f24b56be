"""Citizens come back without the long key (issue 16): sign in by a code on the page, "my
reports" across devices, the link in a message opens the page, the hotline PIN."""

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from reflections.messaging import links
from reflections.models import OutboxMessage, Reflection, ReflectionPin
from reflections.platform import clock
from tests.test_citizen_sign_in import code_sent_to, e164, new_phone
from tests.web.pages import log_in, new_browser, post_form, text_of
from tests.web.test_citizen_pages import FORM, submit_form


def _sign_in(browser: TestClient, session: Session, phone: str) -> None:
    sent = post_form(browser, "/sign-in", {"contact": phone})
    assert sent.status_code == 200 and "data-code-sent" in sent.text
    code = code_sent_to(session, e164(phone))
    opened = post_form(browser, "/sign-in/code", {"contact": phone, "code": code})
    assert opened.status_code == 303 and opened.headers["location"] == "/me"


def test_signed_in_on_a_second_device_the_citizen_sees_every_report_of_their_phone(
    app: FastAPI, browser: TestClient, session: Session
) -> None:
    phone = new_phone()
    code, _ = submit_form(browser, phone=phone)
    operator = new_browser(app)
    log_in(operator, "operator")
    by_phone = post_form(operator, "/submit", FORM | {"phone": phone, "email": ""})
    assert by_phone.status_code == 200
    hotline_code = re.search(r"data-tracking-code>([^<]+)<", by_phone.text)
    assert hotline_code

    phone_two = new_browser(app)  # another device: no key, no cookie
    assert phone_two.get("/me").headers["location"] == "/sign-in"
    _sign_in(phone_two, session, phone)
    mine = phone_two.get("/me")
    assert {code, hotline_code.group(1)} <= set(re.findall(r'data-reflection="([^"]+)"', mine.text))
    assert phone_two.get(f"/track/{hotline_code.group(1)}").status_code == 200

    out = post_form(phone_two, "/sign-out", {})
    assert out.status_code == 303
    assert phone_two.get(f"/track/{code}").status_code == 303  # back to the form


def test_a_wrong_code_says_so_beside_the_field_in_vietnamese(
    browser: TestClient, session: Session
) -> None:
    phone = new_phone()
    submit_form(new_browser(browser.app), phone=phone)  # type: ignore[arg-type]
    post_form(browser, "/sign-in", {"contact": phone})
    right = code_sent_to(session, e164(phone))
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    page = post_form(browser, "/sign-in/code", {"contact": phone, "code": wrong})
    assert page.status_code == 422
    assert re.search(r"<title>Lỗi: ", page.text)
    assert "Mã chưa đúng. Bạn còn 4 lần thử." in text_of(page)
    assert 'aria-describedby="code-help code-error"' in page.text
    assert "reflections_signed_in" not in page.headers.get("set-cookie", "")


def test_not_a_contact_is_refused_on_the_page(browser: TestClient) -> None:
    page = post_form(browser, "/sign-in", {"contact": "xin chào"})
    assert page.status_code == 422
    assert "Vui lòng nhập số điện thoại" in text_of(page)


def test_the_link_in_a_citizens_message_opens_the_page_with_nothing_to_type(
    app: FastAPI, session: Session
) -> None:
    phone = new_phone()
    code, _ = submit_form(new_browser(app), phone=phone)
    session.expire_all()
    reflection = session.exec(select(Reflection).where(Reflection.tracking_code == code)).one()
    message = session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.reflection_id == reflection.id, OutboxMessage.kind == "received")
        .order_by(col(OutboxMessage.id))
    ).first()
    assert message is not None
    link = str(message.context["link_url"])
    assert re.fullmatch(rf"http://[^/]+/r/{code}\?t=[0-9a-z]+\.[A-Za-z0-9_-]{{22}}", link)

    elsewhere = new_browser(app)  # never submitted from here
    path = link.split("://", 1)[1].split("/", 1)[1]
    landed = elsewhere.get("/" + path)
    assert landed.headers["location"] == f"/track/{code}"
    assert elsewhere.get(f"/track/{code}").status_code == 200
    # it opens that reflection only
    other, _ = submit_form(new_browser(app), phone=new_phone())
    assert elsewhere.get(f"/track/{other}").status_code == 303


def test_an_expired_or_altered_link_says_how_to_get_in(app: FastAPI) -> None:
    code, _ = submit_form(new_browser(app), phone=new_phone())
    old = links.token_for(code, clock.now(), days=-1)
    stranger = new_browser(app)
    assert stranger.get(f"/r/{code}?t={old}").headers["location"] == f"/track/{code}?expired=1"
    form = stranger.get(f"/track/{code}?expired=1")
    assert form.headers["location"] == f"/track?code={code}&expired=1"
    assert "Đường dẫn đã hết hạn" in text_of(stranger.get(form.headers["location"]))
    forged = links.token_for("ZZZZ-ZZZZ", clock.now())
    stranger.get(f"/r/{code}?t={forged}")
    assert stranger.get(f"/track/{code}").status_code == 303


def test_a_hotline_caller_opens_their_report_with_the_code_and_a_six_digit_pin(
    app: FastAPI, session: Session
) -> None:
    operator = new_browser(app)
    log_in(operator, "operator")
    page = post_form(operator, "/submit", FORM | {"phone": new_phone(), "email": ""})
    code = re.search(r"data-tracking-code>([^<]+)<", page.text)
    pin = re.search(r"data-pin>(\d{3}) (\d{3})<", page.text)
    assert code and pin
    tracking, digits = code.group(1), pin.group(1) + pin.group(2)

    caller = new_browser(app)
    wrong = f"{(int(digits) + 1) % 1_000_000:06d}"
    refused = post_form(caller, "/track", {"code": tracking, "secret": wrong})
    assert refused.status_code == 404
    opened = post_form(caller, "/track", {"code": tracking, "secret": digits})
    assert opened.status_code == 303 and caller.get(f"/track/{tracking}").status_code == 200


def test_five_wrong_pins_lock_it_even_for_the_right_one(app: FastAPI, session: Session) -> None:
    operator = new_browser(app)
    log_in(operator, "operator")
    page = post_form(operator, "/submit", FORM | {"phone": new_phone(), "email": ""})
    code = re.search(r"data-tracking-code>([^<]+)<", page.text)
    pin = re.search(r"data-pin>(\d{3}) (\d{3})<", page.text)
    assert code and pin
    digits = pin.group(1) + pin.group(2)
    wrong = f"{(int(digits) + 3) % 1_000_000:06d}"
    guesser = new_browser(app)
    statuses = [
        post_form(guesser, "/track", {"code": code.group(1), "secret": wrong}).status_code
        for _ in range(5)
    ]
    assert statuses == [404, 404, 404, 404, 429]
    late = post_form(guesser, "/track", {"code": code.group(1), "secret": digits})
    assert late.status_code == 429 and "Mã PIN đã bị khóa" in text_of(late)
    session.expire_all()
    reflection = session.exec(
        select(Reflection).where(Reflection.tracking_code == code.group(1))
    ).one()
    row = session.get(ReflectionPin, reflection.id)
    assert row is not None and row.failures == 5
