"""One reflection carried through every role in a real browser, with a screenshot of each page.

The citizen submits with the form, the coordinator classifies and assigns with the routing
rule's suggestion, the handler accepts and processes with a photo, the citizen confirms with a
rating; supervisor, auditor and public pages are visited on the way. Every page is checked for
labelled fields and keyboard reach, and the handler's pages for the reporter's identity.
"""

import base64
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.accessibility import assert_accessible
from tests.browser.conftest import Camera

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
REPORTER = {"name": "Lê Thị Hoa", "phone": "0914 222 333", "email": "hoa.le@example.com"}
# How the phone number could show up on a page, in any of its usual forms.
PHONE_FORMS = ("0914 222 333", "0914222333", "+84914222333", "84914222333")


def _context(chromium: Browser, live_url: str) -> BrowserContext:
    """A fresh browser profile on a phone-sized screen (the pages must work on phones)."""
    return chromium.new_context(
        base_url=live_url, viewport={"width": 412, "height": 915}, locale="vi-VN"
    )


def _log_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill("demo-password")
    page.get_by_label("Mật khẩu").press("Enter")  # the keyboard submits the form
    page.wait_for_load_state()


def _visit(page: Page, camera: Camera, name: str) -> Path:
    path = camera.shoot(page, name)  # before the keyboard walk moves the focus
    assert_accessible(page)
    return path


def _no_reporter_identity(page: Page) -> None:
    html = page.content()
    for value in (REPORTER["name"], REPORTER["email"], *PHONE_FORMS):
        assert value not in html, f"{page.url} shows the reporter's {value!r}"


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "via-he.png"
    path.write_bytes(PNG)
    return path


def test_a_reflection_goes_through_every_role_in_the_browser(
    chromium: Browser, live_url: str, camera: Camera, photo: Path
) -> None:
    citizen = _context(chromium, live_url).new_page()

    # 1. The citizen submits the form.
    citizen.goto("/")
    _visit(citizen, camera, "home")
    citizen.get_by_role("link", name="Gửi phản ánh").first.click()
    citizen.get_by_label("Nội dung phản ánh").fill(
        "Quán nước lấn chiếm toàn bộ vỉa hè trước số 3 Lê Lợi, người đi bộ phải xuống lòng đường"
    )
    citizen.get_by_label("Lĩnh vực").select_option("urban_order")
    citizen.get_by_label("Phường/xã").select_option("46.W19768")
    citizen.get_by_label("Địa chỉ hoặc mô tả vị trí").fill("3 Lê Lợi, Phú Xuân, Huế")
    citizen.get_by_label("Vĩ độ").fill("16.4637")
    citizen.get_by_label("Kinh độ").fill("107.5909")
    citizen.get_by_label("Ảnh (không bắt buộc)").set_input_files(photo)
    citizen.get_by_label("Họ và tên").fill(REPORTER["name"])
    citizen.get_by_label("Số điện thoại").fill(REPORTER["phone"])
    citizen.get_by_role("textbox", name="Thư điện tử").fill(REPORTER["email"])
    citizen.get_by_label("Tin nhắn SMS").check()
    _visit(citizen, camera, "citizen-submit-form")
    citizen.get_by_role("button", name="Gửi phản ánh").click()

    expect(citizen.locator("[data-plain-state]")).to_contain_text("đang chờ phân loại")
    code = citizen.locator("[data-tracking-code]").first.inner_text().strip()
    secret = citizen.locator("[data-secret]").first.inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9-]+", code) and secret
    _visit(citizen, camera, "citizen-tracking-received")

    # The tracking page opens with the code and secret in another browser too.
    other = _context(chromium, live_url).new_page()
    other.goto("/track")
    other.get_by_label("Mã phản ánh").fill(code)
    other.get_by_label("Mã bí mật").fill(secret)
    other.get_by_role("button", name="Xem phản ánh").click()
    expect(other.locator("h1")).to_contain_text(code)
    other.context.close()
