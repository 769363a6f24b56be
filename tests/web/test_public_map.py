"""The public map at /map (issue 16, item 2): published reflections being handled and
processed ones, markers read from a list that carries the same items; nothing unpublished
beyond what the feed already shows, nothing personal, both languages, linked from home and
the results pages."""

import re

from fastapi.testclient import TestClient

from tests.api_helpers import as_user
from tests.test_nearby import WARD, WARD_COMMITTEE, filed, spot
from tests.web.pages import text_of

NAME = "Trần Văn Bình"
PRIVATE = "Nhà tôi số 7 Kiệt 12 Đặng Dung, gọi 0905 111 222"


def _item(page: str, code: str) -> str:
    found = re.search(rf'<li data-map-item data-tracking-code="{code}"[^>]*>.*?</li>', page, re.S)
    assert found, f"{code} is not listed"
    return found.group(0)


def _process(client: TestClient, code: str) -> None:
    coordinator, handler = as_user(client, "coordinator"), as_user(client, "handler.phuxuan")
    for action, headers, body in (
        ("assign", coordinator, {"handling_unit": WARD_COMMITTEE}),
        ("accept", handler, {}),
        ("process", handler, {"result": "Đã thay bóng đèn"}),
    ):
        answer = client.post(f"/api/v1/reflections/{code}/{action}", headers=headers, json=body)
        assert answer.status_code == 200, answer.text


def test_the_map_lists_published_open_and_processed_reflections_only(
    client: TestClient, browser: TestClient
) -> None:
    here = spot()
    shown = filed(client, here)
    hidden = filed(client, here, publish=False, description=PRIVATE)
    done = filed(client, spot())
    _process(client, done)

    answer = browser.get("/map", params={"ward": WARD, "category": "street_lighting"})
    assert answer.status_code == 200
    page = answer.text
    item = _item(page, shown)
    assert 'data-kind="open"' in item
    lat, lon = (float(v) for v in re.findall(r'data-l(?:at|on)="([^"]+)"', item))
    assert (lat, lon) == (round(here[0], 3), round(here[1], 3))  # rounded, never the pin
    assert f'data-tracking-code="{hidden}"' not in page  # unpublished and open: not on the map
    assert 'data-kind="done"' in _item(page, done) and f'href="/results/{done}"' in page
    # Nothing personal: not the reporter's name, an unpublished text, the exact place.
    text = text_of(answer)
    assert NAME not in text and "Đặng Dung" not in text
    assert str(here[0]) not in page and str(here[1]) not in page
    assert "Bản đồ phản ánh" in text and "data-public-map" in page
    assert 'src="/static/public_map.js"' in page


def test_the_map_filters_and_speaks_english(client: TestClient, browser: TestClient) -> None:
    lighting = filed(client, spot())
    waste = filed(client, spot(), category="waste_collection")
    page = browser.get("/map", params={"category": "waste_collection"}).text
    assert f'data-tracking-code="{waste}"' in page
    assert f'data-tracking-code="{lighting}"' not in page
    browser.get("/language/en")
    english = text_of(browser.get("/map"))
    assert "Map of reflections" in english and "Being handled" in english
    assert "Bản đồ" not in english


def test_the_map_is_linked_from_home_and_the_results_pages(browser: TestClient) -> None:
    for path in ("/", "/results"):
        assert 'href="/map' in browser.get(path).text, path
