"""After submission (issue 16): the result's photos are labelled as the result, apart from the
citizen's; the page asks "was it fixed?" before the rating, and "no" leads to reopening."""

import re
import struct
import zlib

from fastapi.testclient import TestClient

from tests.api_helpers import as_user
from tests.test_citizen_sign_in import new_phone
from tests.web.pages import post_form
from tests.web.test_citizen_pages import FORM, PNG, WARD


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
        files=[("photos", ("sau.png", _other_png(), "image/png"))],
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


def _other_png() -> bytes:
    """Another valid PNG (a text chunk added), so the result photo is a file of its own."""
    body = b"tEXtComment\0after"
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    return PNG[:33] + chunk + PNG[33:]
