"""Errors where they happen, and nothing chosen twice (issue 16): a refused form keeps the photos
it already accepted; an upload over the limit on a page answers a page, not JSON."""

import re

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from reflections.models import Attachment, Reflection, StagedPhoto
from reflections.platform.security import hash_secret
from reflections.platform.settings import get_settings
from tests.test_citizen_sign_in import new_phone
from tests.web.pages import csrf, post_form, text_of
from tests.web.test_citizen_pages import FORM, PNG

NOWHERE = {"ward": "", "address": "", "latitude": "", "longitude": ""}


def _staged_token(page: str) -> str:
    found = re.search(r'name="staged" value="([^"]+)"', page)
    assert found, "the form carries the photos it kept"
    return found.group(1)


def test_a_refused_form_keeps_its_photos_and_the_next_try_uses_them(
    browser: TestClient, session: Session
) -> None:
    form = FORM | {"phone": new_phone()}
    files = [("photos", ("o-ga.png", PNG, "image/png"))]
    refused = post_form(browser, "/submit", form | NOWHERE, files=files)
    assert refused.status_code == 422
    assert "Đã nhận 1 ảnh; ảnh được giữ lại, bạn không cần chọn lại." in text_of(refused)
    assert "Bỏ ảnh o-ga.png" in text_of(refused)
    token = _staged_token(refused.text)

    accepted = post_form(browser, "/submit", form | {"staged": token})  # no file chosen again
    assert accepted.status_code == 303
    code = accepted.headers["location"].split("/track/")[1].split("?")[0]
    session.expire_all()
    stored = session.exec(select(Reflection).where(Reflection.tracking_code == code)).one()
    photos = session.exec(select(Attachment).where(Attachment.reflection_id == stored.id)).all()
    assert [p.original_name for p in photos] == ["o-ga.png"]
    left = select(StagedPhoto).where(StagedPhoto.batch_hash == hash_secret(token))
    assert session.exec(left).all() == []  # gone once the form was accepted


def test_a_bad_photo_is_named_and_the_good_one_kept(browser: TestClient) -> None:
    files = [
        ("photos", ("that-is-no-photo.png", b"not a picture", "image/png")),
        ("photos", ("good.png", PNG, "image/png")),
    ]
    refused = post_form(browser, "/submit", FORM | {"phone": new_phone()}, files=files)
    assert refused.status_code == 422
    page = text_of(refused)
    assert "that-is-no-photo.png" in page and "Bỏ ảnh good.png" in page
    assert "Bỏ ảnh that-is-no-photo.png" not in page


def test_a_removed_photo_is_not_attached(browser: TestClient, session: Session) -> None:
    form = FORM | {"phone": new_phone()}
    files = [("photos", ("bo-di.png", PNG, "image/png"))]
    refused = post_form(browser, "/submit", form | NOWHERE, files=files)
    token = _staged_token(refused.text)
    row = re.search(r'name="unstage" value="(\d+)"', refused.text)
    assert row
    accepted = post_form(browser, "/submit", form | {"staged": token, "unstage": row.group(1)})
    assert accepted.status_code == 303
    code = accepted.headers["location"].split("/track/")[1].split("?")[0]
    session.expire_all()
    stored = session.exec(select(Reflection).where(Reflection.tracking_code == code)).one()
    assert session.exec(select(Attachment).where(Attachment.reflection_id == stored.id)).all() == []


def test_an_upload_over_the_limit_answers_a_page_in_the_visitors_language(
    browser: TestClient,
) -> None:
    settings = get_settings()
    limit = settings.max_photos * settings.max_photo_bytes + settings.max_json_bytes
    big = b"\xff\xd8\xff" + b"\0" * (limit + 10)
    token = csrf(browser, "/submit")
    answer = browser.post(
        "/submit", data={"csrf": token, **FORM}, files=[("photos", ("huge.jpg", big, "image/jpeg"))]
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("text/html")
    assert "Ảnh gửi lên quá lớn" in text_of(answer) and "<title>" in answer.text
    api = browser.post(
        "/api/v1/reflections/with-photos",
        data={"description": "x"},
        files=[("photos", ("huge.jpg", big, "image/jpeg"))],
    )
    assert api.status_code == 413 and api.headers["content-type"] == "application/problem+json"
