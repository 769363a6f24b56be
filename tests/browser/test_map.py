"""The map on the submit form (issue 16), in Chromium on a phone: Leaflet served by us, tiles
from ``REFLECTIONS_MAP_TILES_URL`` (here a local tile stub: a thread serving one green PNG for
every tile and counting the requests), tapping places the pin and fills the coordinates."""

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect
from sqlmodel import Session

from reflections.platform.settings import get_settings
from tests.browser.accessibility import assert_accessible
from tests.browser.conftest import Camera
from tests.browser.test_lifecycle_in_browser import _png
from tests.test_citizen_sign_in import new_phone
from tests.test_nearby import filed, followers, spot

TILE = _png(256, 256)


class _Tiles(BaseHTTPRequestHandler):
    served: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Tiles.served.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(TILE)))
        self.end_headers()
        self.wfile.write(TILE)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def tile_stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Tiles)  # a port the system picks
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/tiles/{{z}}/{{x}}/{{y}}.png"
    monkeypatch.setattr(get_settings(), "map_tiles_url", url)
    _Tiles.served = []
    yield _Tiles.served
    server.shutdown()


def test_tapping_the_map_places_the_pin_and_fills_the_coordinates(
    chromium: Browser, live_url: str, camera: Camera, tile_stub: list[str]
) -> None:
    context = chromium.new_context(
        base_url=live_url, viewport={"width": 412, "height": 915}, locale="vi-VN"
    )
    page = context.new_page()
    outside: list[str] = []
    page.on(
        "request",
        lambda r: (
            outside.append(r.url)
            if not r.url.startswith((live_url, "http://127.0.0.1:", "data:"))
            else None
        ),
    )
    page.goto("/submit")
    box = page.locator("[data-map]")
    expect(box).to_be_visible()
    expect(page.locator(".leaflet-tile-loaded").first).to_be_visible()
    assert tile_stub and all(path.startswith("/tiles/") for path in tile_stub)
    box.scroll_into_view_if_needed()
    area = box.bounding_box()
    assert area is not None
    page.mouse.click(area["x"] + area["width"] / 2 + 40, area["y"] + area["height"] / 2 - 30)
    expect(page.locator(".leaflet-marker-icon")).to_have_count(1)
    lat = float(page.get_by_label("Vĩ độ").input_value())
    lng = float(page.get_by_label("Kinh độ").input_value())
    assert 16.45 < lat < 16.48 and 107.58 < lng < 107.60  # near the centre of Huế, north-east
    assert lat > 16.4637 and lng > 107.5909
    camera.shoot(page, "journey-map-pin")
    assert_accessible(page)
    assert outside == [], f"loaded from elsewhere: {outside}"  # no CDN
    # typed coordinates move the pin
    page.get_by_label("Vĩ độ").fill("16.4700")
    page.get_by_label("Kinh độ").fill("107.5800")
    page.get_by_label("Kinh độ").press("Tab")
    expect(page.locator(".leaflet-marker-icon")).to_have_count(1)
    context.close()


def test_pin_shows_the_same_problem_nearby_and_the_citizen_follows_it(
    chromium: Browser,
    live_url: str,
    camera: Camera,
    tile_stub: list[str],
    client: TestClient,
    session: Session,
) -> None:
    """Pin placed → the published open reflection of the same category nearby is shown →
    "same problem? follow it" → confirmation, and the citizen is its follower."""
    here = spot()
    original = filed(client, here, category="urban_order")
    hidden = filed(client, here, category="urban_order", publish=False)
    context = chromium.new_context(
        base_url=live_url, viewport={"width": 412, "height": 915}, locale="vi-VN"
    )
    page = context.new_page()
    page.goto("/submit")
    page.get_by_label("Lĩnh vực").select_option("urban_order")
    page.get_by_label("Vĩ độ").fill(str(here[0]))
    page.get_by_label("Kinh độ").fill(str(here[1]))
    page.get_by_label("Kinh độ").press("Tab")  # the map moves to the typed place
    box = page.locator("[data-map]")
    # The move is animated (Leaflet's pan, a quarter of a second): a tap during it lands where
    # the map was passing, as a citizen's would. Tap once it has come to rest: Leaflet marks
    # the moving pane, not the map's box (waiting on the box waited for nothing, and a loaded
    # machine's tap landed mid-pan, away from the reflection nearby).
    pane = box.locator(".leaflet-map-pane")
    expect(pane).not_to_have_class(re.compile(r"\bleaflet-pan-anim\b"))
    box.scroll_into_view_if_needed()
    area = box.bounding_box()
    assert area is not None
    page.mouse.click(area["x"] + area["width"] / 2 + 15, area["y"] + area["height"] / 2)
    panel = page.locator("[data-nearby]")
    expect(panel).to_be_visible()
    item = panel.locator(f'[data-nearby-item="{original}"]')
    expect(item).to_be_visible()
    expect(panel.locator(f'[data-nearby-item="{hidden}"]')).to_have_count(0)
    follow = item.get_by_role("button", name="Cùng vấn đề? Theo dõi phản ánh này")
    # A pin nudged nearby asks again and finds the same reflection: its button stays the same
    # element (focus and a pending click's key are kept; a list rebuilt under the finger made
    # clicks miss on a busy machine).
    follow.evaluate("button => { button.dataset.probe = 'kept'; }")
    with page.expect_response(lambda answer: "/api/v1/public/nearby" in answer.url):
        page.mouse.click(area["x"] + area["width"] / 2 + 25, area["y"] + area["height"] / 2)
    page.wait_for_timeout(200)  # the answer's JSON read and the list compared
    expect(item.locator("button[data-probe='kept']")).to_have_count(1)
    follow.click()  # no contact yet: asked for one, nothing written
    expect(panel.locator("[data-nearby-status]")).to_contain_text("Hãy nhập số điện thoại")
    assert followers(session, original) == 0
    panel.get_by_label("Liên hệ để nhận cập nhật của phản ánh này").fill(new_phone())
    assert_accessible(page)
    follow.click()
    expect(panel.locator("[data-nearby-status]")).to_contain_text(
        f"Bạn đã theo dõi phản ánh {original}"
    )
    camera.shoot(page, "journey-follow-nearby")
    assert followers(session, original) == 1
    context.close()


def test_the_public_map_shows_markers_and_the_same_list(
    chromium: Browser,
    live_url: str,
    camera: Camera,
    tile_stub: list[str],
    client: TestClient,
) -> None:
    code = filed(client, spot(), category="traffic")
    context = chromium.new_context(
        base_url=live_url, viewport={"width": 412, "height": 915}, locale="vi-VN"
    )
    page = context.new_page()
    page.goto("/map?category=traffic")
    expect(page.locator("[data-public-map]")).to_be_visible()
    expect(page.locator(".leaflet-marker-icon").first).to_be_visible()
    markers = page.locator(".leaflet-marker-icon").count()
    assert markers == page.locator("[data-map-item][data-lat]").count()
    expect(page.locator(f'[data-map-item][data-tracking-code="{code}"]')).to_be_visible()
    camera.shoot(page, "journey-public-map")
    assert_accessible(page)
    context.close()
