"""Handlers and supervisors in the pages: canned texts, internal notes the citizen never sees,
taking a task ("mine"), the transfer slip; supervisors acting on an unclassified escalation and
reminding the coordinators; admins keeping the canned texts."""

import uuid

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from reflections.models import AdministrativeUnit, OutboxMessage
from tests.api_helpers import as_citizen, as_user, submit
from tests.web.console_helpers import (
    EMAIL,
    NAME,
    PHONE_FORMS,
    WARD,
    WARD_COMMITTEE,
    api,
    assigned_code,
    escalate,
    find_in_list,
    new_code,
    row_of,
    selected,
    staff,
    stored,
    unit_code,
    version_on,
)
from tests.web.pages import log_in, new_browser, post_form, text_of
from web.session import CITIZEN_COOKIE


def _canned(client: TestClient, event: str, title: str, text: str, category: str | None) -> int:
    body = {"event": event, "category": category, "title": title, "text": text}
    created = client.post("/api/v1/admin/canned-texts", headers=as_user(client, "admin"), json=body)
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def test_a_canned_result_fills_the_form_even_without_script(
    client: TestClient, browser: TestClient, session: Session
) -> None:
    tag = uuid.uuid4().hex[:6]
    text = f"Đã giải tỏa, trả lại vỉa hè cho người đi bộ ({tag})."
    mine = _canned(client, "process", f"Giải tỏa vỉa hè {tag}", text, "urban_order")
    other = _canned(client, "process", f"Thu gom rác {tag}", "Đã thu gom.", "waste_collection")
    code = assigned_code(client)
    api(client, code, "accept", "handler.phuxuan")
    log_in(browser, "handler.phuxuan")
    page = browser.get(f"/console/reflections/{code}").text
    assert f'<option value="{mine}" data-text="{text}">' in page
    assert f'value="{other}"' not in page  # another category's text is not offered
    done = post_form(
        browser,
        f"/console/reflections/{code}/process",
        {"result": "", "canned": str(mine), "version": version_on(page, "process")},
    )
    assert done.status_code == 303, done.text
    assert stored(session, code).result_text == text


def test_internal_notes_are_for_staff_and_never_reach_the_citizen(
    app: FastAPI, client: TestClient, session: Session
) -> None:
    submitted = submit(client, administrative_unit=WARD, category_hint="urban_order")
    code, key = submitted["tracking_code"], submitted["citizen_key"]
    classify = {"category": "urban_order", "priority": "normal", "administrative_unit": WARD}
    api(client, code, "classify", "coordinator", **classify)
    api(client, code, "assign", "coordinator", handling_unit=WARD_COMMITTEE)
    note = f"Chủ quán là người nhà tổ trưởng, cần làm việc trực tiếp {uuid.uuid4().hex[:4]}"
    with staff(app, "handler.phuxuan") as handler:
        page = handler.get(f"/console/reflections/{code}").text
        done = post_form(
            handler,
            f"/console/reflections/{code}/note",
            {"note": note, "version": version_on(page, "note")},
        )
        assert done.status_code == 303
        shown = handler.get(done.headers["location"])
        assert note in shown.text and "Võ Thị Lan (Cán bộ xử lý)" in text_of(shown)
    with staff(app, "coordinator") as coordinator:
        assert note in coordinator.get(f"/console/reflections/{code}").text
    with new_browser(app) as citizen:
        citizen.cookies.set(CITIZEN_COOKIE, key)
        tracking = citizen.get(f"/track/{code}")
        assert tracking.status_code == 200 and note not in tracking.text
        assert "Ghi chú nội bộ" not in tracking.text
    history = client.get(f"/api/v1/reflections/{code}/history", headers=as_citizen(key)).json()
    assert note not in str(history) and "note" not in [row["event"] for row in history]


def test_a_handler_takes_a_task_and_finds_it_under_mine(
    client: TestClient, browser: TestClient, session: Session
) -> None:
    code = assigned_code(client)
    log_in(browser, "handler.phuxuan")
    row = row_of(find_in_list(browser, "/console/inbox?view=unit", code), code)
    assert "Chưa có người nhận" in row
    page = browser.get(f"/console/reflections/{code}").text
    done = post_form(
        browser, f"/console/reflections/{code}/take", {"version": version_on(page, "take")}
    )
    assert done.status_code == 303
    assert f"Phản ánh {code} đã được giao cho anh/chị." in text_of(
        browser.get(done.headers["location"])
    )
    mine = find_in_list(browser, "/console/inbox?view=mine", code)
    assert "Võ Thị Lan" in row_of(mine, code)


def test_the_transfer_slip_prints_without_the_reporter(
    client: TestClient, browser: TestClient
) -> None:
    code = assigned_code(client)
    log_in(browser, "coordinator")
    slip = browser.get(f"/console/reflections/{code}/slip")
    assert slip.status_code == 200
    said = text_of(slip)
    assert "Phiếu chuyển xử lý phản ánh" in said and code in said
    assert "Ủy ban nhân dân phường Phú Xuân" in said and "Lấn chiếm vỉa hè" in said
    assert "Người chuyển" in said and "Người nhận" in said and "data-print" in slip.text
    for secret in (NAME, EMAIL, *PHONE_FORMS):
        assert secret not in slip.text  # the unit must not learn who reported


def test_a_supervisor_classifies_and_assigns_an_escalation_left_unclassified(
    client: TestClient, browser: TestClient, session: Session
) -> None:
    code = new_code(client, category_hint="urban_order")
    city = session.exec(select(AdministrativeUnit.id).where(AdministrativeUnit.code == "46")).one()
    escalate(session, code, area=city)
    log_in(browser, "supervisor.ioc")
    row = row_of(find_in_list(browser, "/console/escalations", code), code)
    assert "Phân loại, giao xử lý" in row  # which step is late
    page = browser.get(f"/console/reflections/{code}?back=/console/escalations").text
    assert 'data-primary="classify"' in page
    assert selected(page, "classify-handling_unit") == WARD_COMMITTEE
    form = {"category": "urban_order", "priority": "normal", "ward": WARD}
    done = post_form(
        browser,
        f"/console/reflections/{code}/classify",
        form
        | {"handling_unit": WARD_COMMITTEE, "back": "/console/escalations"}
        | {"version": version_on(page, "classify")},
    )
    assert done.status_code == 303, done.text
    said = text_of(browser.get(done.headers["location"]))
    assert f"Đã phân loại {code} và giao cho UBND phường Phú Xuân." in said
    assert unit_code(session, stored(session, code)) == WARD_COMMITTEE


def test_a_supervisor_reminds_the_coordinators(
    client: TestClient, browser: TestClient, session: Session
) -> None:
    code = new_code(client)
    city = session.exec(select(AdministrativeUnit.id).where(AdministrativeUnit.code == "46")).one()
    escalate(session, code, area=city)
    log_in(browser, "supervisor.ioc")
    page = browser.get(f"/console/reflections/{code}").text
    done = post_form(
        browser,
        f"/console/reflections/{code}/note",
        {"note": "Đề nghị phân loại ngay", "notify": "1", "version": version_on(page, "note")},
    )
    assert done.status_code == 303
    reflection = stored(session, code)
    kinds = session.exec(
        select(OutboxMessage.kind).where(
            OutboxMessage.reflection_id == reflection.id, col(OutboxMessage.kind) == "staff_note"
        )
    ).all()
    assert kinds, "the coordinators are told"


def test_a_ward_supervisor_sees_what_moved_up_past_them(
    client: TestClient, browser: TestClient, session: Session
) -> None:
    code = assigned_code(client)
    city = session.exec(select(AdministrativeUnit.id).where(AdministrativeUnit.code == "46")).one()
    escalate(session, code, area=city)
    log_in(browser, "supervisor.phuxuan")
    row = row_of(find_in_list(browser, "/console/escalations", code), code)
    assert "data-moved-up" in row and "Đã chuyển lên cấp cao hơn" in row


def test_admins_keep_canned_texts_on_a_page(browser: TestClient) -> None:
    log_in(browser, "admin")
    page = browser.get("/console/admin/canned-texts")
    assert page.status_code == 200
    title = f"Không đủ thông tin {uuid.uuid4().hex[:6]}"
    refused = post_form(
        browser, "/console/admin/canned-texts", {"event": "reject", "title": title, "text": ""}
    )
    assert refused.status_code == 422 and 'id="text-error"' in refused.text
    assert f'value="{title}"' in refused.text  # typed text kept
    done = post_form(
        browser,
        "/console/admin/canned-texts",
        {"event": "reject", "title": title, "text": "Phản ánh chưa đủ thông tin để xử lý."},
    )
    assert done.status_code == 303
    assert title in browser.get("/console/admin/canned-texts").text
    log_in(browser, "coordinator")
    assert browser.get("/console/admin/canned-texts").status_code == 403
