"""The coordinators' desk at volume: search, filters and pages of the queue, the next item after
each action, several rows at once, and the lists of decisions waiting (extension requests,
results to review); the staff search a hotline operator uses.

Each test tags its reflections and searches the queue for the tag (the database is shared).
"""

import re
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from reflections.models import OutboxMessage
from tests.web.console_helpers import (
    WARD,
    WARD_COMMITTEE,
    api,
    assigned_code,
    new_code,
    row_of,
    stored,
    unit_code,
    version_on,
)
from tests.web.pages import log_in, post_form, text_of


def _tag() -> str:
    return f"q{uuid.uuid4().hex[:8]}"


def _tagged(client: TestClient, tag: str, **fields: object) -> str:
    values: dict[str, object] = {"description": f"Lấn chiếm vỉa hè {tag}"}
    return new_code(client, **(values | {"category_hint": "urban_order"} | fields))


def _codes(html: str) -> list[str]:
    return re.findall(r'<tr data-tracking-code="([A-Z0-9-]+)"', html)


def test_search_filters_total_and_pages(client: TestClient, browser: TestClient) -> None:
    tag = _tag()
    made = [_tagged(client, tag) for _ in range(3)]
    urgent = _tagged(client, tag, category_hint="drainage_flooding")
    classify = {
        "category": "drainage_flooding",
        "priority": "emergency",
        "administrative_unit": WARD,
    }
    api(client, urgent, "classify", "coordinator", **classify)
    log_in(browser, "coordinator")

    page = browser.get(f"/console/queue?q={tag}")
    assert _codes(page.text) == [urgent, *made]  # emergencies apart, first
    assert 'data-group="emergency"' in page.text and 'data-group="normal"' in page.text
    assert 'data-total="4"' in page.text and "4 phản ánh" in text_of(page)
    assert _codes(browser.get(f"/console/queue?q={tag}&emergency=1").text) == [urgent]
    assert _codes(browser.get(f"/console/queue?q={tag}&state=classified").text) == [urgent]
    assert _codes(browser.get(f"/console/queue?q={tag}&sort=newest").text) == [urgent, *made[::-1]]
    # The search box keeps what was typed; the filters say they are on.
    assert f'value="{tag}"' in page.text
    assert browser.get(f"/console/queue?q={made[0]}").text.count("data-row") == 1


def test_each_action_leads_to_the_next_item_of_the_list(
    client: TestClient, browser: TestClient, session: Session
) -> None:
    tag = _tag()
    first, second, third = (_tagged(client, tag) for _ in range(3))
    log_in(browser, "coordinator")
    queue = browser.get(f"/console/queue?q={tag}").text
    link = re.search(rf'href="(/console/reflections/{first}\?queue=[^"]+)"', queue)
    assert link, "the row does not carry its list"
    page = browser.get(link.group(1).replace("&amp;", "&")).text
    assert f'data-next="{second}"' in page  # "next item" before acting, too
    form = {"category": "urban_order", "priority": "normal", "ward": WARD}
    form |= {"handling_unit": WARD_COMMITTEE, "queue": f"q={tag}", "version": "1"}
    done = post_form(browser, f"/console/reflections/{first}/classify", form)
    assert done.status_code == 303
    assert done.headers["location"].startswith(f"/console/reflections/{second}?queue=q%3D{tag}&")
    landed = browser.get(done.headers["location"])
    assert f"Đã phân loại {first} và giao cho UBND phường Phú Xuân." in text_of(landed)
    assert f'data-next="{third}"' in landed.text
    assert stored(session, first).state == "assigned"

    reject = {"reason": "Không đủ thông tin", "queue": f"q={tag}", "version": "1"}
    done = post_form(browser, f"/console/reflections/{second}/reject", reject)
    assert done.headers["location"].startswith(f"/console/reflections/{third}?")


def test_the_returning_units_reason_is_in_the_row(client: TestClient, browser: TestClient) -> None:
    code = assigned_code(client)
    api(client, code, "return", "handler.phuxuan", reason="Thuộc thẩm quyền công ty môi trường")
    log_in(browser, "coordinator")
    row = row_of(browser.get(f"/console/queue?q={code}&returned=1").text, code)
    assert "Đơn vị trả lại vì: Thuộc thẩm quyền công ty môi trường." in row
    assert "data-returned" in row


def test_several_rows_at_once(client: TestClient, browser: TestClient, session: Session) -> None:
    tag = _tag()
    one, two = _tagged(client, tag), _tagged(client, tag)
    nowhere = new_code(client, description=f"Không rõ nơi {tag}", administrative_unit=None)
    log_in(browser, "coordinator")
    chosen = [f"{code}:1" for code in (one, two, nowhere)]
    done = post_form(
        browser,
        "/console/queue/bulk",
        {"selected": chosen, "bulk_action": "assign", "handling_unit": WARD_COMMITTEE},
    )
    assert done.status_code == 303
    said = text_of(browser.get(done.headers["location"]))
    assert "Đã giao 2 phản ánh cho UBND phường Phú Xuân." in said
    assert f"{nowhere} (chưa rõ lĩnh vực hoặc phường/xã)" in said
    assert [unit_code(session, stored(session, c)) for c in (one, two)] == [WARD_COMMITTEE] * 2
    assert stored(session, nowhere).state == "received"

    a, b, c = (_tagged(client, tag) for _ in range(3))
    done = post_form(
        browser,
        "/console/queue/bulk",
        {"selected": [f"{a}:1", f"{b}:1", f"{c}:9"], "bulk_action": "merge"},  # c is stale
    )
    said = text_of(browser.get(done.headers["location"]))
    assert f"Đã gộp 1 phản ánh vào {a}." in said  # the oldest is kept
    assert f"{c} (vừa được người khác thay đổi)" in said
    assert (stored(session, a).state, stored(session, b).state) == ("received", "rejected")
    assert a in (stored(session, b).rejection_reason or "")
    assert stored(session, c).state == "received"


def test_extension_requests_wait_in_their_own_list_with_the_reason(
    client: TestClient, browser: TestClient, session: Session
) -> None:
    code = assigned_code(client)
    api(client, code, "accept", "handler.phuxuan")
    later = (datetime.now(UTC) + timedelta(days=12)).isoformat()
    reason = f"Chờ nhà thầu thay cột đèn {uuid.uuid4().hex[:4]}"
    api(client, code, "extension/request", "handler.phuxuan", reason=reason, new_due_at=later)
    told = session.exec(
        select(OutboxMessage).where(
            OutboxMessage.reflection_id == stored(session, code).id,
            col(OutboxMessage.kind) == "extension_requested",
        )
    ).all()
    assert told, "the coordinators are told"
    log_in(browser, "coordinator")
    queue = browser.get("/console/queue").text
    assert re.search(r'data-count="extensions">\d+<', queue)
    listed = browser.get("/console/extensions?page=1").text
    while f'data-tracking-code="{code}"' not in listed:
        more = re.search(r'href="([^"]+)" rel="next"', listed)
        assert more, "not listed"
        listed = browser.get(more.group(1).replace("&amp;", "&")).text
    row = row_of(listed, code)
    assert reason in row and 'data-action="grant_extension"' in row  # beside the decision
    done = post_form(
        browser,
        f"/console/reflections/{code}/grant_extension",
        {"back": "/console/extensions", "version": version_on(row, "grant_extension")},
    )
    assert done.headers["location"] == f"/console/extensions?done=grant_extension&of={code}"
    assert f"Đã duyệt gia hạn phản ánh {code}." in text_of(browser.get(done.headers["location"]))
    assert not stored(session, code).extension_pending


def test_results_to_review_and_sending_one_back(
    client: TestClient, browser: TestClient, session: Session
) -> None:
    code = assigned_code(client)
    api(client, code, "accept", "handler.phuxuan")
    api(client, code, "process", "handler.phuxuan", result="Đã nhắc nhở chủ quán")
    log_in(browser, "coordinator")
    page = browser.get(f"/console/reflections/{code}?back=/console/processed").text
    assert "data-back" in page and 'href="/console/processed"' in page
    done = post_form(
        browser,
        f"/console/reflections/{code}/send_back",
        {
            "reason": "Chưa có ảnh kết quả",
            "back": "/console/processed",
            "version": version_on(page, "send_back"),
        },
    )
    assert done.headers["location"] == f"/console/processed?done=send_back&of={code}"
    assert stored(session, code).state == "assigned"


def test_the_operator_finds_a_callers_reflections_by_phone(
    client: TestClient, browser: TestClient
) -> None:
    phone = f"0935 {uuid.uuid4().int % 1000:03d} {uuid.uuid4().int % 1000:03d}"
    code = new_code(client, contact={"phone": phone})
    log_in(browser, "operator")
    found = browser.get(f"/console/search?q={quote(phone)}")
    assert found.status_code == 200 and f'data-tracking-code="{code}"' in found.text
    log_in(browser, "handler.phuxuan")  # a unit never learns who reported: no phone search
    assert (
        f'data-tracking-code="{code}"' not in browser.get(f"/console/search?q={quote(phone)}").text
    )
