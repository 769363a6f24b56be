"""Staff at volume in a real browser (Debian's Chromium through Playwright): a coordinator
triaging ten reflections with the keyboard only, two clerks at once, a session that ends while
a result is typed, a handler on a phone with a canned text and an internal note the citizen
never sees, a supervisor acting on an escalation nobody classified. axe-core checks every page
these tests visit (``tests/browser/accessibility.py``).

The keyboard run writes its figures (keystrokes, page loads) to
``artifacts/triage-figures.json``; ``bench/triage_keyboard.py`` measures the same walk on any
build, for the before/after comparison.
"""

import json
import re
import uuid

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlmodel import Session, select

from reflections.models import AdministrativeUnit
from tests.api_helpers import as_user, submit
from tests.browser.accessibility import (
    assert_accessible,
    assert_no_serious_violations,
    focus_ring_contrast,
)
from tests.browser.conftest import SCREENSHOTS, Camera
from tests.web.console_helpers import WARD, WARD_COMMITTEE, api, escalate, stored, unit_code

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 412, "height": 915}
TEN = 10


def _context(chromium: Browser, live_url: str, viewport: dict[str, int]) -> BrowserContext:
    return chromium.new_context(base_url=live_url, viewport=viewport, locale="vi-VN")  # type: ignore[arg-type]


def _log_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill("demo-password")
    page.get_by_label("Mật khẩu").press("Enter")
    page.wait_for_load_state()


class Keyboard:
    """The keys a person presses, counted, and the pages the browser loads."""

    def __init__(self, page: Page) -> None:
        self.page, self.keys, self.loads = page, 0, 0
        page.on("load", lambda _: self._loaded())

    def _loaded(self) -> None:
        self.loads += 1

    def press(self, key: str) -> None:
        self.keys += 1
        self.page.keyboard.press(key)

    def type(self, text: str) -> None:
        self.keys += len(text)
        self.page.keyboard.type(text)


def _focused(page: Page, attribute: str) -> str | None:
    value = page.evaluate(f"() => document.activeElement?.getAttribute('{attribute}')")
    return str(value) if value is not None else None


def test_a_coordinator_triages_ten_reflections_with_the_keyboard_only(
    chromium: Browser, live_url: str, client: TestClient, session: Session, camera: Camera
) -> None:
    tag = f"k{uuid.uuid4().hex[:6]}"
    made = [
        submit(
            client,
            description=f"Lấn chiếm vỉa hè trước nhà số {n} ({tag})",
            administrative_unit=WARD,
            category_hint="urban_order",
        )["tracking_code"]
        for n in range(TEN)
    ]
    page = _context(chromium, live_url, DESKTOP).new_page()
    _log_in(page, "coordinator")
    keyboard = Keyboard(page)
    keyboard.loads = 0

    page.goto("/console/queue")  # where the day starts (the log-in lands here)
    assert_accessible(page)
    page.goto("/console/queue")
    keyboard.loads = 1
    keyboard.press("/")  # to the search box
    assert _focused(page, "id") == "q"
    keyboard.type(tag)
    keyboard.press("Enter")
    page.wait_for_load_state()
    expect(page.locator("[data-row]")).to_have_count(TEN)
    assert_no_serious_violations(page)
    camera.shoot(page, "coordinator-queue-searched")
    keyboard.press("Tab")  # the first Tab stop: straight to the list
    assert _focused(page, "data-skip-to") == "first-row"
    assert focus_ring_contrast(page) >= 3
    keyboard.press("Enter")
    assert _focused(page, "data-reflection-link") == made[0]  # the first row, after one Tab
    assert focus_ring_contrast(page) >= 3  # the focus ring stands out from the page
    keyboard.press("Enter")  # open it
    page.wait_for_load_state()

    for n, code in enumerate(made):
        expect(page.locator("h1")).to_contain_text(code)
        expect(page.locator("#classify-handling_unit")).to_have_value(WARD_COMMITTEE)
        assert_no_serious_violations(page)
        if n == 0:
            camera.shoot(page, "coordinator-item-classify-and-assign")
        keyboard.press("c")  # to the next step's form, pre-filled from the citizen and routing
        assert _focused(page, "id") == "classify-category"
        keyboard.press("Control+Enter")  # classify and assign, then on to the next item
        page.wait_for_load_state()
        expect(page.locator("[data-done]")).to_contain_text(
            f"Đã phân loại {code} và giao cho UBND phường Phú Xuân."
        )
    expect(page).to_have_url(re.compile(rf"/console/queue\?q={tag}&"))  # the list, now done
    assert_no_serious_violations(page)
    assert [unit_code(session, stored(session, code)) for code in made] == [WARD_COMMITTEE] * TEN

    figures = {
        "reflections": TEN,
        "keystrokes": keyboard.keys,
        "keystrokes_typing_the_search": len(tag),
        "page_loads": keyboard.loads,
    }
    target = SCREENSHOTS.parent / "triage-figures.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    # Two keys per reflection, after a search and one Tab to the list.
    assert keyboard.keys == 2 * TEN + len(tag) + 5
    assert keyboard.loads == TEN + 3  # the queue, the search, the first item, one per action


def test_two_clerks_at_once_the_second_is_told_who_and_keeps_their_text(
    chromium: Browser, live_url: str, client: TestClient, session: Session, camera: Camera
) -> None:
    code = submit(client, administrative_unit=WARD, category_hint="urban_order")["tracking_code"]
    first = _context(chromium, live_url, DESKTOP).new_page()
    second = _context(chromium, live_url, DESKTOP).new_page()
    second.on("dialog", lambda dialog: dialog.accept())
    _log_in(first, "coordinator")
    _log_in(second, "coordinator2")
    first.goto(f"/console/reflections/{code}")
    second.goto(f"/console/reflections/{code}")
    second.locator('details[data-form="reject"] > summary').click()
    second.locator("#reject-reason").fill("Người dân gửi trùng hai lần")
    first.locator('button[data-submit="classify"]').click()
    expect(first.locator("[data-done]")).to_be_visible()
    second.locator('button[data-submit="reject"]').click()
    conflict = second.locator("[data-conflict]")
    expect(conflict).to_contain_text("Trần Thị Mai (Điều phối viên) đã phân loại phản ánh lúc")
    expect(second.locator("[data-section=summary] [data-state]")).to_have_attribute(
        "data-state", "assigned"
    )
    expect(second.locator("#reject-reason")).to_have_count(0)  # no longer possible
    assert_accessible(second)
    camera.shoot(second, "second-clerk-conflict")
    assert stored(session, code).state == "assigned"


def test_an_ended_session_logs_in_again_and_keeps_the_result_typed(
    chromium: Browser, live_url: str, client: TestClient, session: Session, camera: Camera
) -> None:
    code = submit(client, administrative_unit=WARD, category_hint="urban_order")["tracking_code"]
    classify = {"category": "urban_order", "priority": "normal", "administrative_unit": WARD}
    api(client, code, "classify", "coordinator", **classify)
    api(client, code, "assign", "coordinator", handling_unit=WARD_COMMITTEE)
    api(client, code, "accept", "handler.phuxuan")
    context = _context(chromium, live_url, PHONE)
    page = context.new_page()
    _log_in(page, "handler.phuxuan")
    page.goto(f"/console/reflections/{code}")
    result = "Đã giải tỏa quán nước, lập biên bản, chủ quán cam kết không tái phạm."
    page.locator("#process-result").fill(result)
    context.clear_cookies(name="reflections_staff")  # the session ends meanwhile
    page.locator('button[data-submit="process"]').click()
    expect(page.locator("[data-expired]")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Tên đăng nhập").fill("handler.phuxuan")
    page.get_by_label("Mật khẩu").fill("demo-password")
    page.get_by_label("Mật khẩu").press("Enter")
    expect(page.locator("#process-result")).to_have_value(result)  # the text is back
    expect(page.locator("[data-resumed]")).to_be_visible()
    assert_accessible(page)
    camera.shoot(page, "handler-session-resumed")
    page.locator('button[data-submit="process"]').click()
    expect(page.locator("[data-done]")).to_contain_text(
        f"Đã cập nhật kết quả xử lý phản ánh {code}."
    )
    assert stored(session, code).result_text == result


def test_a_handler_on_a_phone_uses_a_canned_text_and_a_note_the_citizen_never_sees(
    chromium: Browser, live_url: str, client: TestClient, session: Session, camera: Camera
) -> None:
    canned = f"Đã yêu cầu hộ kinh doanh dọn dẹp, trả lại vỉa hè ({uuid.uuid4().hex[:4]})."
    body = {
        "event": "process",
        "category": "urban_order",
        "title": "Trả lại vỉa hè",
        "text": canned,
    }
    assert (
        client.post(
            "/api/v1/admin/canned-texts", headers=as_user(client, "admin"), json=body
        ).status_code
        == 201
    )
    submitted = submit(client, administrative_unit=WARD, category_hint="urban_order")
    code, key = submitted["tracking_code"], submitted["citizen_key"]
    classify = {"category": "urban_order", "priority": "normal", "administrative_unit": WARD}
    api(client, code, "classify", "coordinator", **classify)
    api(client, code, "assign", "coordinator", handling_unit=WARD_COMMITTEE)

    page = _context(chromium, live_url, PHONE).new_page()
    _log_in(page, "handler.phuxuan")
    page.goto(f"/console/reflections/{code}")
    expect(page.locator("[data-section=primary]")).to_have_attribute("data-primary", "accept")
    expect(page.locator('details[data-form="request_extension"]')).to_have_count(0)  # not yet
    assert_accessible(page)
    camera.shoot(page, "handler-phone-accept-first")
    page.locator('button[data-submit="accept"]').click()
    expect(page.locator("[data-section=primary]")).to_have_attribute("data-primary", "process")
    expect(page.locator('details[data-form="request_extension"]')).not_to_have_attribute("open", "")
    note = "Chủ quán hẹn dọn trước 17:00, cần quay lại kiểm tra"
    page.locator("#note-note").fill(note)
    page.locator('button[data-submit="note"]').click()
    expect(page.locator("[data-notes]")).to_contain_text(note)
    page.locator("#process-canned").select_option(label="Trả lại vỉa hè")
    expect(page.locator("#process-result")).to_have_value(canned)  # filled from the text
    assert_accessible(page)
    camera.shoot(page, "handler-phone-canned-result")
    page.locator('button[data-submit="process"]').click()
    expect(page.locator("[data-result]")).to_contain_text(canned)

    citizen_context = _context(chromium, live_url, PHONE)
    citizen_context.add_cookies(
        [{"name": "reflections_citizen", "value": key, "url": live_url, "httpOnly": True}]
    )
    citizen = citizen_context.new_page()
    citizen.goto(f"/track/{code}")
    expect(citizen.locator("[data-result]")).to_contain_text(canned)
    assert note not in citizen.content()  # the internal note never reaches the citizen
    assert_accessible(citizen)


def test_a_supervisor_acts_on_an_escalation_nobody_classified(
    chromium: Browser, live_url: str, client: TestClient, session: Session, camera: Camera
) -> None:
    code = submit(client, administrative_unit=WARD, category_hint="urban_order")["tracking_code"]
    city = session.exec(select(AdministrativeUnit.id).where(AdministrativeUnit.code == "46")).one()
    escalate(session, code, area=city)
    page = _context(chromium, live_url, DESKTOP).new_page()
    _log_in(page, "supervisor.ioc")
    page.goto("/console/escalations")
    row = page.locator(f'tr[data-tracking-code="{code}"]')
    while not row.count() and page.locator("a[data-next-page]").count():
        page.locator("a[data-next-page]").click()
    expect(row).to_contain_text("Phân loại, giao xử lý")
    assert_accessible(page)
    camera.shoot(page, "supervisor-escalations")
    row.locator(f'a[data-act="{code}"]').click()
    expect(page.locator("[data-section=primary]")).to_have_attribute("data-primary", "classify")
    expect(page.locator("#classify-handling_unit")).to_have_value(WARD_COMMITTEE)
    assert_accessible(page)
    camera.shoot(page, "supervisor-classify-and-assign")
    page.locator('button[data-submit="classify"]').click()
    expect(page).to_have_url(
        f"{page.url.split('/console')[0]}/console/escalations?done=classify_assign&of={code}&unit={WARD_COMMITTEE}"
    )
    expect(page.locator("[data-done]")).to_contain_text(
        f"Đã phân loại {code} và giao cho UBND phường Phú Xuân."
    )
    expect(page.locator(f'tr[data-tracking-code="{code}"]')).to_have_count(0)  # handled
    assert unit_code(session, stored(session, code)) == WARD_COMMITTEE
