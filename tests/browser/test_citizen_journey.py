"""The citizen's journey on a phone (issue 16), in Chromium: a report sent from one phone and one
filed by the hotline are both found on a second phone signed in by a code, the code read from
what the console channel delivered; the hotline caller opens theirs with the code and PIN.

Screenshots go with the others; with ``REFLECTIONS_DOC_SHOTS`` set (a folder) the journey's
pictures are also written there, for the README (``docs/citizen-journey/``).
"""

import io
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlmodel import Session, select

from notifications import ConsoleChannel
from reflections.lifecycle.duplicates import merge
from reflections.messaging.dispatcher import dispatch
from reflections.models import Attachment, Reflection
from reflections.platform import clock
from tests.api_helpers import submit
from tests.browser.accessibility import assert_accessible
from tests.browser.conftest import Camera
from tests.browser.test_lifecycle_in_browser import _png
from tests.lifecycle_helpers import COORDINATOR, PATHS, fire, refs
from tests.test_citizen_sign_in import new_phone

DOC_SHOTS = os.environ.get("REFLECTIONS_DOC_SHOTS")


def _phone(chromium: Browser, live_url: str) -> BrowserContext:
    return chromium.new_context(
        base_url=live_url, viewport={"width": 412, "height": 915}, locale="vi-VN"
    )


def _shoot(page: Page, camera: Camera, name: str) -> None:
    camera.shoot(page, f"journey-{name}")
    if DOC_SHOTS:
        Path(DOC_SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(DOC_SHOTS) / f"{name}.png"), full_page=True)
    assert_accessible(page)


def _deliver(session: Session) -> str:
    """Run the dispatcher with the console channel (the embedded default): what it wrote."""
    written = io.StringIO()
    console = ConsoleChannel(stream=written)
    # Playwright's loop runs in this thread: the dispatcher's own loop runs in another
    with ThreadPoolExecutor(1) as pool:
        pool.submit(dispatch, session, clock.now(), {"sms": console, "email": console}).result()
    return written.getvalue()


def test_a_second_phone_signs_in_by_code_and_sees_every_report_of_the_number(
    chromium: Browser, live_url: str, camera: Camera, client: TestClient, session: Session
) -> None:
    phone = new_phone()
    first = _phone(chromium, live_url).new_page()
    first.goto("/submit")
    first.get_by_label("Nội dung phản ánh").fill("Ổ gà sâu giữa đường trước số 20 Hùng Vương")
    first.get_by_label("Phường/xã").select_option("46.W19768")
    first.get_by_label("Địa chỉ hoặc mô tả vị trí").fill("20 Hùng Vương, Huế")
    first.get_by_label("Số điện thoại").fill(phone)
    first.get_by_role("button", name="Gửi phản ánh").click()
    web_code = first.locator("[data-tracking-code]").first.inner_text().strip()

    # The same person calls the hotline about something else; the operator reads code and PIN.
    desk = _phone(chromium, live_url).new_page()
    desk.goto("/login")
    desk.get_by_label("Tên đăng nhập").fill("operator")
    desk.get_by_label("Mật khẩu").fill("demo-password")
    desk.get_by_label("Mật khẩu").press("Enter")
    desk.wait_for_load_state()
    desk.goto("/submit")
    desk.get_by_label("Nội dung phản ánh").fill("Đèn đường tắt cả tuần ở kiệt 12 Lê Lợi")
    desk.get_by_label("Phường/xã").select_option("46.W19768")
    desk.get_by_label("Số điện thoại").fill(phone)
    desk.get_by_role("button", name="Gửi phản ánh").click()
    hotline_code = desk.locator("[data-tracking-code]").inner_text().strip()
    pin = desk.locator("[data-pin]").inner_text().replace(" ", "")
    assert re.fullmatch(r"\d{6}", pin)
    _shoot(desk, camera, "01-operator-reads-code-and-pin")
    desk.context.close()

    # A second phone: nothing remembered. "Phản ánh của tôi" asks for the phone number.
    second = _phone(chromium, live_url).new_page()
    second.goto("/")
    second.get_by_role("link", name="Phản ánh của tôi").click()
    expect(second).to_have_url(re.compile(r"/sign-in$"))
    second.get_by_label("Số điện thoại hoặc thư điện tử").fill(phone)
    _shoot(second, camera, "02-sign-in-contact")
    second.get_by_role("button", name="Gửi mã cho tôi").click()
    expect(second.locator("[data-code-sent]")).to_contain_text("…")

    delivered = _deliver(session)
    e164 = "+84" + phone.replace(" ", "")[1:]
    sms = re.search(
        rf"=== sms to {re.escape(e164)} \[vi\].*?Mã đăng nhập của bạn: (\d{{6}})", delivered, re.S
    )
    assert sms, "the code went out by SMS through the console channel"
    second.get_by_label("Mã 6 chữ số").fill(sms.group(1))
    _shoot(second, camera, "03-sign-in-code")
    second.get_by_role("button", name="Xem phản ánh của tôi").click()

    expect(second.locator("h1")).to_have_text("Phản ánh của tôi")
    listed = second.locator("[data-reflection]")
    codes = {listed.nth(i).get_attribute("data-reflection") for i in range(listed.count())}
    assert {web_code, hotline_code} <= codes
    _shoot(second, camera, "04-my-reports")
    second.get_by_role("link", name=hotline_code).click()
    expect(second.locator("h1")).to_contain_text(hotline_code)
    second.context.close()

    # The caller, on a phone without a number to sign in with, types the code and the PIN.
    caller = _phone(chromium, live_url).new_page()
    caller.goto("/track")
    caller.get_by_label("Mã phản ánh").fill(hotline_code)
    caller.get_by_label("Mã PIN (6 chữ số) hoặc mã bí mật").fill(pin)
    caller.get_by_role("button", name="Xem phản ánh").click()
    expect(caller.locator("h1")).to_contain_text(hotline_code)
    _shoot(caller, camera, "05-tracking-by-pin")
    caller.context.close()
    first.context.close()


def test_a_refused_form_keeps_the_photo_already_shrunk_in_the_browser(
    chromium: Browser, live_url: str, camera: Camera, session: Session, tmp_path: Path
) -> None:
    big = tmp_path / "dien-thoai.png"
    big.write_bytes(_png(3000, 2000))  # a phone-sized photo: 3000 × 2000
    page = _phone(chromium, live_url).new_page()
    page.goto("/submit")
    page.get_by_label("Nội dung phản ánh").fill("Cây đổ chắn ngang đường Lê Duẩn")
    page.get_by_label("Ảnh (không bắt buộc)").set_input_files(big)
    photos = page.locator("#photos")
    expect(photos).to_have_attribute("data-resized", "1")
    shrunk = page.evaluate(
        """async () => { const f = document.getElementById('photos').files[0];
        const b = await createImageBitmap(f); return [f.type, f.name, b.width, b.height]; }"""
    )
    assert shrunk == ["image/jpeg", "dien-thoai.jpg", 1600, 1067]  # long side 1600 px

    page.get_by_role("button", name="Gửi phản ánh").click()  # no place given: refused
    expect(page).to_have_title(re.compile(r"^Lỗi: "))
    expect(page.locator("[data-staged]")).to_contain_text("Đã nhận 1 ảnh")
    assert page.evaluate("() => document.activeElement.hasAttribute('data-error-summary')")
    _shoot(page, camera, "06-refused-form-keeps-photo")

    page.get_by_label("Phường/xã").select_option("46.W19768")
    page.get_by_role("button", name="Gửi phản ánh").click()  # nothing chosen again
    code = page.locator("[data-tracking-code]").first.inner_text().strip()
    session.expire_all()
    reflection = session.exec(select(Reflection).where(Reflection.tracking_code == code)).one()
    stored = session.exec(select(Attachment).where(Attachment.reflection_id == reflection.id)).all()
    assert [(a.original_name, a.content_type) for a in stored] == [("dien-thoai.jpg", "image/jpeg")]
    page.context.close()


def test_use_my_location_says_so_when_the_browser_refuses(chromium: Browser, live_url: str) -> None:
    context = _phone(chromium, live_url)  # no geolocation permission granted
    page = context.new_page()
    page.goto("/submit")
    page.get_by_role("button", name="Dùng vị trí hiện tại của tôi").click()
    expect(page.locator("[data-locate-failed]")).to_be_visible()
    expect(page.locator("[data-locate-failed]")).to_contain_text("Trình duyệt không cho biết")
    context.close()


def test_a_merged_reports_citizen_follows_the_original_to_its_result(
    chromium: Browser, live_url: str, camera: Camera, client: TestClient, session: Session
) -> None:
    original = submit(client, contact={"phone": new_phone()})["tracking_code"]
    phone = new_phone()
    page = _phone(chromium, live_url).new_page()
    page.goto("/submit")
    page.get_by_label("Nội dung phản ánh").fill("Ống nước vỡ, nước chảy tràn mặt đường")
    page.get_by_label("Phường/xã").select_option("46.W19768")
    page.get_by_label("Số điện thoại").fill(phone)
    page.get_by_role("button", name="Gửi phản ánh").click()
    mine = page.locator("[data-tracking-code]").first.inner_text().strip()

    session.expire_all()
    duplicate = session.exec(select(Reflection).where(Reflection.tracking_code == mine)).one()
    assert duplicate.id is not None
    merge(session, duplicate.id, original, COORDINATOR)
    r = refs(session)
    target = session.exec(select(Reflection).where(Reflection.tracking_code == original)).one()
    for event in PATHS["processed"]:
        target = fire(session, target, event, r)
    delivered = _deliver(session)
    e164 = "+84" + phone.replace(" ", "")[1:]
    told = re.search(rf"=== sms to {re.escape(e164)} \[vi\].*?đã được xử lý", delivered, re.S)
    assert told, "the merged report's citizen is told of the original's result"

    page.goto(f"/track/{mine}")
    expect(page.locator("[data-merged-into]")).to_contain_text(f"Đã gộp vào phản ánh {original}")
    _shoot(page, camera, "07-merged-into")
    page.get_by_role("link", name=original).click()
    expect(page.locator("h1")).to_contain_text(original)
    expect(page.locator("[data-result]")).to_be_visible()
    expect(page.locator("[data-reported-by]")).to_contain_text("2 người cùng phản ánh")
    _shoot(page, camera, "08-original-with-result")
    page.context.close()
