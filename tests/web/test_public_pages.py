"""The public results pages: processed reflections and the unit's result, without log-in and
without anything personal, exactly what the API's public feed publishes."""

import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api_helpers import as_citizen, as_user
from tests.images import stored_sha, unique_png
from tests.web.pages import text_of
from web.routes import public as public_routes

WARD = "46.W19768"  # Phường Phú Xuân
WARD_COMMITTEE = "UBND.46.W19768"
# A ward and category no other test publishes in, so the feed's order is this module's alone
# (other tests process reflections "as of" later instants, which sort first in the feed).
QUIET_WARD = "46.W19810"  # Phường Kim Long
QUIET_CATEGORY = "heritage_sites"
PNG = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Case:
    code: str
    personal: list[str]  # everything personal the reflection was given
    result: str
    result_photo: str  # SHA-256 of the unit's photo
    report_photo: str  # SHA-256 of the citizen's photo


def _photo(tag: str) -> tuple[bytes, str]:
    content = unique_png()
    return content, stored_sha(content)


def reflection(
    client: TestClient, end: str = "processed", category: str = "urban_order", ward: str = WARD
) -> Case:
    """A reflection with a named reporter and a photo, taken through the API to ``end``
    (classified to ``ward``, handled by the Phú Xuân ward committee)."""
    tag = uuid.uuid4().hex[:8]
    phone = f"0914{int(tag, 16) % 10**6:06d}"
    contact = {"name": f"Tôn Nữ Bảo {tag}", "phone": phone, "email": f"bao.{tag}@example.com"}
    description = f"Nhà tôi số 7 kiệt {tag}, gọi tôi {phone}"
    address = f"7 kiệt {tag} Lê Lợi"
    report, report_sha = _photo("report")
    submitted = client.post(
        "/api/v1/reflections/with-photos",
        data={
            "description": description,
            "address": address,
            "administrative_unit": WARD,
            "contact_name": contact["name"],
            "contact_phone": phone,
            "contact_email": contact["email"],
        },
        files=[("photos", ("report.png", report, "image/png"))],
    )
    assert submitted.status_code == 201, submitted.text
    code = submitted.json()["tracking_code"]
    coordinator = as_user(client, "coordinator")
    handler = as_user(client, "handler.phuxuan")
    result = f"Đã dọn vỉa hè đoạn {tag}"
    result_photo, result_sha = _photo("result")

    def act(action: str, headers: dict[str, str], **body: Any) -> None:
        response = client.post(f"/api/v1/reflections/{code}/{action}", headers=headers, json=body)
        assert response.status_code == 200, response.text

    if end != "received":
        body = {"category": category, "priority": "normal", "administrative_unit": ward}
        act("classify", coordinator, **body)
        act("assign", coordinator, handling_unit=WARD_COMMITTEE)
        act("accept", handler)
    if end in ("processed", "confirmed"):
        processed = client.post(
            f"/api/v1/reflections/{code}/process/with-photos",
            headers=handler,
            data={"result": result},
            files=[("photos", ("result.png", result_photo, "image/png"))],
        )
        assert processed.status_code == 200, processed.text
    comment = f"Cảm ơn anh Tư {tag}"
    if end == "confirmed":
        key = as_citizen(submitted.json()["citizen_key"])
        act("confirm", key, rating=4, comment=comment)
    personal = [*contact.values(), phone[1:], "+84" + phone[1:], description, address, comment]
    return Case(code, personal, result, result_sha, report_sha)


def feed_codes(html: str) -> list[str]:
    return re.findall(r'data-feed-item data-tracking-code="([^"]+)"', html)


def test_the_feed_shows_processed_results_and_nothing_personal(
    client: TestClient, browser: TestClient
) -> None:
    processed = reflection(client, "processed", QUIET_CATEGORY, QUIET_WARD)
    confirmed = reflection(client, "confirmed", QUIET_CATEGORY, QUIET_WARD)
    waiting = reflection(client, "in_progress", QUIET_CATEGORY, QUIET_WARD)
    feed = browser.get("/results", params={"ward": QUIET_WARD, "category": QUIET_CATEGORY})
    assert feed.status_code == 200, feed.text
    codes = feed_codes(feed.text)
    assert codes[:2] == [confirmed.code, processed.code]  # newest result first
    assert waiting.code not in feed.text
    unfiltered = browser.get("/results")
    assert unfiltered.status_code == 200 and "data-feed-item" in unfiltered.text
    assert confirmed.result in feed.text and processed.result in feed.text
    shown = text_of(feed)
    assert "Di tích, di sản · Phường Kim Long" in shown
    for case in (processed, confirmed, waiting):
        for personal in case.personal:
            assert personal not in feed.text, personal
            assert personal not in unfiltered.text, personal
    assert "data-feed" in feed.text and "Kết quả xử lý phản ánh" in shown


def test_one_result_page_shows_what_the_api_publishes(
    client: TestClient, browser: TestClient
) -> None:
    case = reflection(client, "confirmed")
    page = browser.get(f"/results/{case.code.lower()}")
    assert page.status_code == 200, page.text
    api = client.get(f"/api/v1/public/results/{case.code}").json()
    shown = text_of(page)
    marker = f'data-public-result data-tracking-code="{case.code}" data-state="confirmed"'
    assert marker in page.text
    assert case.result in shown and api["result_text"] == case.result
    assert api["category"]["name_vi"] in shown and api["ward"]["name"] in shown
    assert api["handling_unit"]["name"] in shown
    assert 'data-rating="4"' in page.text
    for personal in case.personal:
        assert personal not in page.text, personal
    assert case.report_photo not in page.text  # the citizen's photo is not published
    photo_url = f"/results/{case.code}/photos/{case.result_photo}"
    assert f'src="{photo_url}"' in page.text and "data-result-photo" in page.text
    assert re.search(r'<img src="[^"]+" alt="Ảnh kết quả 1"', page.text)


def test_the_result_photo_is_public_and_the_citizens_is_not(
    client: TestClient, browser: TestClient
) -> None:
    case = reflection(client, "processed")
    photo = browser.get(f"/results/{case.code}/photos/{case.result_photo}")
    assert photo.status_code == 200
    assert photo.headers["content-type"] == "image/png"
    assert photo.content.startswith(PNG)
    report = browser.get(f"/results/{case.code}/photos/{case.report_photo}")
    assert report.status_code == 404
    assert browser.get(f"/results/{case.code}/photos/{'0' * 64}").status_code == 404
    # Lists show the thumbnail: a small JPEG, public as its photo is, and only as it is.
    listed = browser.get("/results").text
    thumbnail = f"/results/{case.code}/photos/{case.result_photo}/thumbnail"
    assert thumbnail in listed
    small = browser.get(thumbnail)
    assert small.status_code == 200 and small.headers["content-type"] == "image/jpeg"
    assert small.headers["x-content-type-options"] == "nosniff"
    citizens = f"/results/{case.code}/photos/{case.report_photo}/thumbnail"
    assert browser.get(citizens).status_code == 404


@pytest.mark.parametrize("end", ["received", "in_progress"])
def test_an_unprocessed_reflection_has_no_public_page(
    client: TestClient, browser: TestClient, end: str
) -> None:
    case = reflection(client, end)
    for path in (f"/results/{case.code}", f"/results/{case.code}/photos/{case.report_photo}"):
        response = browser.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html")
    assert "Không tìm thấy" in text_of(browser.get(f"/results/{case.code}"))
    assert browser.get("/results/NOPE-NOPE").status_code == 404


def test_the_feed_filters_by_ward_and_category(client: TestClient, browser: TestClient) -> None:
    heritage = reflection(client, "processed", QUIET_CATEGORY, QUIET_WARD)
    consumer = reflection(client, "processed", "consumer_protection", QUIET_WARD)
    elsewhere = reflection(client, "processed", QUIET_CATEGORY, WARD)

    def codes(**params: str) -> list[str]:
        page = browser.get("/results", params=params)
        assert page.status_code == 200, page.text
        return feed_codes(page.text)

    in_ward = codes(ward=QUIET_WARD)
    assert in_ward[:2] == [consumer.code, heritage.code] and elsewhere.code not in in_ward
    assert codes(ward=QUIET_WARD, category=QUIET_CATEGORY)[0] == heritage.code
    assert consumer.code not in codes(ward=QUIET_WARD, category=QUIET_CATEGORY)
    assert codes(ward="no-such-ward") == []  # unknown codes: an empty page, as the API
    page = browser.get("/results", params={"category": QUIET_CATEGORY, "ward": QUIET_WARD})
    assert f'<option value="{QUIET_CATEGORY}" selected>' in page.text
    assert f'<option value="{QUIET_WARD}" selected>' in page.text
    assert "data-feed-empty" in browser.get("/results", params={"ward": "no-such-ward"}).text


def test_the_feed_pages_with_a_cursor(
    client: TestClient, browser: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    earlier = reflection(client, "processed", QUIET_CATEGORY, QUIET_WARD)
    later = reflection(client, "processed", QUIET_CATEGORY, QUIET_WARD)
    monkeypatch.setattr(public_routes, "PAGE_SIZE", 1)
    first = browser.get("/results", params={"ward": QUIET_WARD, "category": QUIET_CATEGORY})
    found = re.search(r'<a href="([^"]+)" rel="next" data-next-page>', first.text)
    assert found, first.text
    second = browser.get(found[1].replace("&amp;", "&"))
    assert second.status_code == 200
    one, two = feed_codes(first.text), feed_codes(second.text)
    assert (one, two) == ([later.code], [earlier.code])  # newest result first
    assert f"ward={QUIET_WARD}" in found[1]  # the filters stay on the next page
    assert "data-first-page" in second.text


def test_a_forged_cursor_is_a_422_page(browser: TestClient) -> None:
    response = browser.get("/results", params={"cursor": "not-a-cursor"})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")


def test_the_results_pages_are_in_english_too(client: TestClient, browser: TestClient) -> None:
    case = reflection(client, "processed")
    browser.get("/language/en")
    page = browser.get(f"/results/{case.code}")
    assert page.status_code == 200
    assert "Result of reflection" in page.text and "Urban order" in text_of(page)
