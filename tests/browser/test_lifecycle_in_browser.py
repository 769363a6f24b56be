"""One reflection carried through every role in a real browser, with a screenshot of each page.

The citizen submits with the form, the coordinator classifies and assigns with the routing
rule's suggestion, the handler accepts and processes with a photo, the citizen confirms with a
rating; supervisor, auditor and public pages are visited on the way. Every page is checked for
labelled fields and keyboard reach, and the handler's pages for the reporter's identity.
"""

import re
import struct
import zlib
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.accessibility import assert_accessible
from tests.browser.conftest import Camera


def _png(width: int = 160, height: int = 120) -> bytes:
    """A small striped picture, so the photos show up in the screenshots."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\0" + b"".join(bytes((40, 120 + (x // 20 % 2) * 80, 90)) for x in range(width))
        for _ in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


REPORTER = {"name": "Lê Thị Hoa", "phone": "0914 222 333", "email": "hoa.le@example.com"}
# How the phone number could show up on a page, in any of its usual forms.
PHONE_FORMS = ("0914 222 333", "0914222333", "+84914222333", "84914222333")
WARD_COMMITTEE = "UBND.46.W19768"  # the routing rule's unit for urban order in Phú Xuân


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


def _tab_to(page: Page, name: str) -> None:
    """Press Tab until the field called ``name`` has the focus, as a keyboard user would."""
    page.locator("body").focus()
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement && document.activeElement.name") == name:
            return
    raise AssertionError(f"{name!r} is not reachable with Tab on {page.url}")


def _submit_duplicate(page: Page) -> str:
    page.goto("/submit")
    page.get_by_label("Nội dung phản ánh").fill("Vỉa hè đoạn đầu đường Lê Lợi bị quán lấn chiếm")
    page.get_by_label("Lĩnh vực").select_option("urban_order")
    page.get_by_label("Phường/xã").select_option("46.W19768")
    page.get_by_label("Vĩ độ").fill("16.4640")
    page.get_by_label("Kinh độ").fill("107.5911")
    page.get_by_role("button", name="Gửi phản ánh").click()
    return page.locator("[data-tracking-code]").first.inner_text().strip()


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "via-he.png"
    path.write_bytes(_png())
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

    # A neighbour reports the same problem 40 m away: the coordinator will merge it.
    neighbour = _context(chromium, live_url).new_page()
    duplicate = _submit_duplicate(neighbour)

    # 2. The coordinator merges the duplicate, then classifies and assigns with the suggestions.
    coordinator = _context(chromium, live_url).new_page()
    coordinator.on("dialog", lambda dialog: dialog.accept())  # "merge?" asks for confirmation
    _log_in(coordinator, "coordinator")
    expect(coordinator).to_have_url(re.compile(r"/console/queue"))
    expect(coordinator.locator(f'tr[data-tracking-code="{code}"]')).to_be_visible()
    _visit(coordinator, camera, "coordinator-queue")
    coordinator.goto(f"/console/reflections/{duplicate}")
    expect(coordinator.locator(f'li[data-duplicate="{code}"]')).to_be_visible()
    _visit(coordinator, camera, "coordinator-duplicate-suggestions")
    coordinator.locator(f'form[data-action="merge"][data-into="{code}"] button').click()
    expect(coordinator.locator("[data-section=summary] [data-state]")).to_have_attribute(
        "data-state", "rejected"
    )
    neighbour.reload()
    expect(neighbour.get_by_text(code).first).to_be_visible()  # told where to follow it
    neighbour.context.close()

    coordinator.goto(f"/console/queue?q={code}")
    coordinator.locator(f'a[data-reflection-link="{code}"]').click()
    expect(coordinator.locator("[data-reporter]")).to_contain_text(REPORTER["name"])
    expect(coordinator.locator("#classify-category")).to_have_value("urban_order")
    expect(coordinator.locator("#classify-routing")).to_have_attribute(
        "data-routing-suggestion", WARD_COMMITTEE
    )
    expect(coordinator.locator("#classify-handling_unit")).to_have_value(WARD_COMMITTEE)
    _visit(coordinator, camera, "coordinator-classify-and-assign")
    coordinator.locator('button[data-submit="classify"]').click()
    # One form classified and assigned it; the page says to whom.
    expect(coordinator.locator("[data-done]")).to_contain_text(
        f"Đã phân loại {code} và giao cho UBND phường Phú Xuân."
    )

    # 3. The ward's handler accepts and processes it, never seeing who reported it.
    handler = _context(chromium, live_url).new_page()
    _log_in(handler, "handler.phuxuan")
    expect(handler).to_have_url(re.compile(r"/console/inbox"))
    row = handler.locator(f'tr[data-tracking-code="{code}"]')
    expect(row).to_be_visible()
    expect(row.locator("td[data-remaining]")).not_to_be_empty()
    _no_reporter_identity(handler)
    _visit(handler, camera, "handler-inbox")
    row.locator(f'a[data-reflection-link="{code}"]').click()
    _no_reporter_identity(handler)
    expect(handler.locator('button[data-submit="process"]')).to_have_count(0)  # accept first
    handler.locator('button[data-submit="accept"]').click()
    handler.locator("#process-result").fill("Đã lập biên bản, yêu cầu quán dọn khỏi vỉa hè")
    handler.locator("#process-photos").set_input_files(photo)
    _no_reporter_identity(handler)
    _visit(handler, camera, "handler-process")
    handler.locator('button[data-submit="process"]').click()
    expect(handler.locator("[data-result]")).to_contain_text("Đã lập biên bản")
    _no_reporter_identity(handler)

    # 4. A supervisor's page of escalations (none here: everything ran on time).
    supervisor = _context(chromium, live_url).new_page()
    _log_in(supervisor, "supervisor.phuxuan")
    expect(supervisor).to_have_url(re.compile(r"/console/escalations"))
    _no_reporter_identity(supervisor)
    _visit(supervisor, camera, "supervisor-escalations")

    # 5. The citizen reads the result and confirms it with the keyboard alone.
    citizen.reload()
    expect(citizen.locator("[data-result]")).to_contain_text("Đã lập biên bản")
    _visit(citizen, camera, "citizen-result")
    _tab_to(citizen, "rating")
    citizen.keyboard.press("Space")  # the first of the group: 5, very satisfied
    citizen.keyboard.press("Tab")
    citizen.keyboard.type("Cảm ơn, vỉa hè đã thông thoáng")
    citizen.keyboard.press("Tab")
    citizen.keyboard.press("Enter")
    expect(citizen.locator("[data-plain-state]")).to_contain_text("đã hoàn thành")
    _visit(citizen, camera, "citizen-confirmed")

    # 6. The auditor reads the whole timeline with its chain status, and the dashboard.
    auditor = _context(chromium, live_url).new_page()
    _log_in(auditor, "auditor")
    expect(auditor.locator('figure[data-chart="on-time"]')).to_be_visible()
    expect(auditor.locator('figure[data-chart="volume"]')).to_be_visible()
    expect(auditor.locator('figure[data-chart="satisfaction"]')).to_be_visible()
    expect(auditor.locator('a[data-export="report-csv"]')).to_be_visible()
    _visit(auditor, camera, "auditor-report-dashboard")
    with auditor.expect_download() as download:
        auditor.locator('a[data-export="report-csv"]').click()
    assert download.value.suggested_filename.endswith(".csv")
    auditor.goto("/console/audit")
    auditor.get_by_label("Mã", exact=True).fill(code)
    auditor.get_by_label("Mã", exact=True).press("Enter")
    expect(auditor.locator("[data-chain-status]")).to_have_attribute("data-chain-status", "intact")
    events = auditor.locator("tr[data-history-row]")
    expect(events).to_have_count(6)  # submit, classify, assign, accept, process, confirm
    _no_reporter_identity(auditor)
    _visit(auditor, camera, "auditor-timeline")

    # 7. The public sees the result, without anything personal.
    public = _context(chromium, live_url).new_page()
    public.goto("/results")
    expect(public.locator(f'li[data-feed-item][data-tracking-code="{code}"]')).to_be_visible()
    _no_reporter_identity(public)
    _visit(public, camera, "public-results-feed")
    public.goto(f"/results/{code}")
    expect(public.locator("[data-result]")).to_contain_text("Đã lập biên bản")
    _no_reporter_identity(public)
    _visit(public, camera, "public-result")

    # 8. English is one click away and the page keeps its place.
    public.get_by_role("link", name="English").click()
    expect(public.locator("html")).to_have_attribute("lang", "en")
    expect(public).to_have_url(re.compile(f"/results/{code}$"))
    _visit(public, camera, "public-result-english")
