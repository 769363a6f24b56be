"""The staff console's pages: the coordinator's queue, the unit's inbox, the supervisor's
escalations, and a reflection's page with the actions allowed now.

Each test makes its own reflections (the session's database is shared) and checks what a
person at the browser would notice, and what the database then holds.
"""

import itertools
import re
import uuid
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from reflections.lifecycle.photos import clean
from reflections.models import Attachment
from tests.api_helpers import as_user
from tests.web.console_helpers import (
    EMAIL,
    HEPCO,
    NAME,
    PHONE_FORMS,
    PNG,
    WARD,
    WARD_COMMITTEE,
    api,
    assigned_code,
    escalate,
    find_in_list,
    new_code,
    options,
    row_of,
    selected,
    staff,
    stored,
    unit_code,
    version_on,
)
from tests.web.pages import log_in, post_form, text_of

# --- The coordinator ------------------------------------------------------------------------


def test_the_queue_lists_a_new_reflection_with_its_classification_time(
    app: FastAPI, client: TestClient, browser: TestClient
) -> None:
    code = new_code(client, category_hint="urban_order")
    log_in(browser, "coordinator")
    row = row_of(find_in_list(browser, "/console/queue", code), code)
    assert f'href="/console/reflections/{code}?queue=' in row  # the item keeps its list
    assert "data-reflection-link" in row
    assert "Phường Phú Xuân" in row
    assert "Người dân chọn: Trật tự đô thị" in row  # the hint, as the category's name
    assert "Lấn chiếm vỉa hè trước chợ" in row  # what it is about, without opening it
    # working time, with the date (a minute may pass between submitting and reading)
    assert re.search(r"còn (4 giờ|3 giờ \d+ phút) làm việc \(hạn ", row) or "quá hạn" in row
    assert 'data-state="received"' in row


def test_classify_and_assign_in_one_form_with_the_routing_rule_preselected(
    app: FastAPI, client: TestClient, browser: TestClient, session: Session
) -> None:
    code = new_code(client, category_hint="urban_order")
    log_in(browser, "coordinator")
    page = browser.get(f"/console/reflections/{code}").text
    assert selected(page, "classify-category") == "urban_order"
    assert selected(page, "classify-priority") == "normal"
    assert selected(page, "classify-ward") == WARD
    assert selected(page, "classify-handling_unit") == WARD_COMMITTEE  # the routing rule's
    assert f'data-routing-suggestion="{WARD_COMMITTEE}"' in page
    assert 'data-primary="classify"' in page  # the next step comes first
    assert NAME in page and EMAIL in page  # the coordinator sees who reported it
    assert "0912 345 678" in page  # as clerks dial it, not +84912345678

    form = {"category": "urban_order", "priority": "normal", "ward": WARD}
    done = post_form(
        browser,
        f"/console/reflections/{code}/classify",
        form | {"handling_unit": WARD_COMMITTEE, "version": "1"},
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"].startswith(f"/console/reflections/{code}?")
    page = text_of(browser.get(done.headers["location"]))
    assert f"Đã phân loại {code} và giao cho UBND phường Phú Xuân." in page  # names the unit
    reflection = stored(session, code)
    assert (reflection.state, reflection.assignment_stage) == ("assigned", "awaiting_acceptance")
    assert (reflection.version, unit_code(session, reflection)) == (3, WARD_COMMITTEE)
    seen = client.get(f"/api/v1/reflections/{code}", headers=as_user(client, "coordinator"))
    assert seen.json()["handling_unit"]["code"] == WARD_COMMITTEE


def test_classify_only_leaves_the_assignment_for_later(
    client: TestClient, browser: TestClient, session: Session
) -> None:
    code = new_code(client, category_hint="urban_order")
    log_in(browser, "coordinator")
    form = {"category": "urban_order", "priority": "normal", "ward": WARD, "handling_unit": ""}
    done = post_form(browser, f"/console/reflections/{code}/classify", form | {"version": "1"})
    assert done.status_code == 303
    page = browser.get(done.headers["location"]).text
    assert f"Đã phân loại phản ánh {code}." in text_of(browser.get(done.headers["location"]))
    assert stored(session, code).state == "classified"
    assert 'data-primary="assign"' in page and 'data-action="classify"' not in page
    assert selected(page, "assign-handling_unit") == WARD_COMMITTEE
    done = post_form(
        browser,
        f"/console/reflections/{code}/assign",
        {"handling_unit": WARD_COMMITTEE, "version": version_on(page, "assign")},
    )
    assert done.status_code == 303
    assert unit_code(session, stored(session, code)) == WARD_COMMITTEE


def test_the_priority_starts_from_the_categorys_default(
    client: TestClient, browser: TestClient
) -> None:
    code = new_code(client, category_hint="power_network", description="Dây điện bị đứt")
    log_in(browser, "coordinator")
    page = browser.get(f"/console/reflections/{code}").text
    assert selected(page, "classify-category") == "power_network"
    assert selected(page, "classify-priority") == "emergency"


def test_the_coordinator_grants_an_extension_the_handler_requested_in_local_time(
    app: FastAPI, client: TestClient, browser: TestClient, session: Session
) -> None:
    code = assigned_code(client)
    day = (datetime.now(UTC) + timedelta(days=20)).date()
    log_in(browser, "handler.phuxuan")
    page = browser.get(f"/console/reflections/{code}").text
    assert 'data-action="request_extension"' not in page  # not before accepting
    api(client, code, "accept", "handler.phuxuan")
    page = browser.get(f"/console/reflections/{code}").text
    done = post_form(
        browser,
        f"/console/reflections/{code}/request_extension",
        {
            "reason": "Chờ vật tư",
            "new_due_date": f"{day:%d/%m/%Y}",  # as typed in Vietnam, whatever the browser
            "new_due_time": "09:30",
            "version": version_on(page, "request_extension"),
        },
    )
    assert done.status_code == 303, done.text
    wanted = datetime(day.year, day.month, day.day, 9, 30, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    assert stored(session, code).extension_requested_due_at == wanted.astimezone(UTC)
    inbox = find_in_list(browser, "/console/inbox", code)
    assert "Chờ gia hạn" in row_of(inbox, code)

    with staff(app, "coordinator") as coordinator:
        page = coordinator.get(f"/console/reflections/{code}").text
        assert f"{day:%d/%m/%Y} 09:30" in text_of(coordinator.get(f"/console/reflections/{code}"))
        done = post_form(
            coordinator,
            f"/console/reflections/{code}/grant_extension",
            {"version": version_on(page, "grant_extension")},
        )
        assert done.status_code == 303, done.text
    reflection = stored(session, code)
    assert not reflection.extension_pending
    assert reflection.process_due_at == wanted.astimezone(UTC)


# --- The handler ----------------------------------------------------------------------------


def test_the_handler_accepts_and_processes_with_a_photo_from_the_pages(
    client: TestClient, browser: TestClient, session: Session
) -> None:
    code = assigned_code(client)
    log_in(browser, "handler.phuxuan")
    inbox = find_in_list(browser, "/console/inbox", code)
    row = row_of(inbox, code)
    assert "còn" in row and "làm việc (hạn " in row

    page = browser.get(f"/console/reflections/{code}").text
    assert 'data-submit="accept"' in page
    assert 'data-action="process"' not in page  # not before accepting
    done = post_form(
        browser, f"/console/reflections/{code}/accept", {"version": version_on(page, "accept")}
    )
    assert done.status_code == 303
    page = browser.get(done.headers["location"]).text
    assert f"Đã nhận xử lý phản ánh {code}." in page and 'data-stage="in_progress"' in page
    assert 'data-primary="process"' in page  # the next step first
    assert 'id="process-result"' in page and 'id="process-photos"' in page

    done = post_form(
        browser,
        f"/console/reflections/{code}/process",
        {"result": "Đã giải tỏa, trả lại vỉa hè", "version": version_on(page, "process")},
        files=[("photos", ("sau.png", PNG, "image/png"))],
    )
    assert done.status_code == 303, done.text
    reflection = stored(session, code)
    assert reflection.state == "processed"
    assert reflection.result_text == "Đã giải tỏa, trả lại vỉa hè"
    photo = session.exec(select(Attachment).where(Attachment.reflection_id == reflection.id)).one()
    page = browser.get(f"/console/reflections/{code}").text
    assert 'data-state="processed"' in page and "Đã giải tỏa" in page
    served = browser.get(f"/console/reflections/{code}/photos/{photo.sha256}")
    assert (served.status_code, served.headers["content-type"]) == (200, "image/png")
    assert served.content == clean(PNG).content  # only its pixels, encoded again


def test_the_handler_never_sees_who_reported(client: TestClient, browser: TestClient) -> None:
    code = assigned_code(client)
    log_in(browser, "handler.phuxuan")
    pages = [find_in_list(browser, "/console/inbox", code)]
    pages.append(browser.get(f"/console/reflections/{code}").text)
    api(client, code, "accept", "handler.phuxuan")
    pages.append(browser.get(f"/console/reflections/{code}").text)
    for html in pages:
        for secret in (NAME, EMAIL, *PHONE_FORMS):
            assert secret not in html
        assert 'data-section="reporter"' not in html


def test_returning_sends_the_handler_back_to_the_inbox(
    client: TestClient, browser: TestClient, session: Session
) -> None:
    code = assigned_code(client)
    log_in(browser, "handler.phuxuan")
    page = browser.get(f"/console/reflections/{code}").text
    done = post_form(
        browser,
        f"/console/reflections/{code}/return",
        {
            "reason": "Thuộc công ty môi trường",
            "suggested_unit": HEPCO,
            "version": version_on(page, "return"),
        },
    )
    assert done.status_code == 303
    # No longer theirs to see: back to the inbox, which says what was returned.
    assert done.headers["location"] == f"/console/inbox?done=return&of={code}"
    assert stored(session, code).state == "classified"
    assert browser.get(f"/console/reflections/{code}").status_code == 404


def test_a_handler_cannot_open_another_units_reflection(
    client: TestClient, browser: TestClient
) -> None:
    theirs = assigned_code(client, unit=HEPCO, category="waste_collection")
    log_in(browser, "handler.phuxuan")
    assert browser.get(f"/console/reflections/{theirs}").status_code == 404
    assert browser.get(f"/console/reflections/{new_code(client)}").status_code == 404
    refused = post_form(browser, f"/console/reflections/{theirs}/accept", {})
    assert refused.status_code == 404


# --- Who may open what ----------------------------------------------------------------------


def test_each_list_is_for_its_role(browser: TestClient) -> None:
    log_in(browser, "handler.phuxuan")
    refused = browser.get("/console/queue")
    assert refused.status_code == 403
    assert "không có quyền" in refused.text
    assert browser.get("/console/escalations").status_code == 403
    log_in(browser, "coordinator")
    assert browser.get("/console/inbox").status_code == 403
    assert browser.get("/console/queue").status_code == 200


def test_not_logged_in_goes_to_the_login_page(client: TestClient, browser: TestClient) -> None:
    for path in ("/console/queue", "/console/inbox", f"/console/reflections/{new_code(client)}"):
        response = browser.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=" + quote(path)


def test_a_filter_the_queue_cannot_use_is_a_422_page_at_its_field(browser: TestClient) -> None:
    log_in(browser, "coordinator")
    refused = browser.get("/console/queue?state=bogus&q=x")
    assert refused.status_code == 422
    assert 'id="state-error"' in refused.text and 'value="x"' in refused.text
    assert browser.get("/console/reflections/NO-SUCH").status_code == 404


# --- Refusals leave nothing changed ---------------------------------------------------------


def test_a_post_without_csrf_is_refused(
    client: TestClient, browser: TestClient, session: Session
) -> None:
    code = new_code(client)
    log_in(browser, "coordinator")
    for csrf in ({}, {"csrf": "forged"}):
        refused = browser.post(
            f"/console/reflections/{code}/reject", data={"reason": "Spam", **csrf}
        )
        assert refused.status_code == 403
    assert stored(session, code).state == "received"


def test_an_invalid_form_is_a_422_page_and_changes_nothing(
    client: TestClient, browser: TestClient, session: Session
) -> None:
    code = new_code(client)
    log_in(browser, "coordinator")
    path = f"/console/reflections/{code}"
    for reason in ("", "   "):
        refused = post_form(browser, f"{path}/reject", {"reason": reason, "version": "1"})
        assert refused.status_code == 422
        assert 'id="reject-reason-error"' in refused.text  # the sentence at its field
    unknown = {"category": "no-such", "priority": "normal", "ward": WARD}
    assert post_form(browser, f"{path}/classify", unknown).status_code == 422
    bad_priority = {"category": "urban_order", "priority": "urgent!", "ward": WARD}
    assert post_form(browser, f"{path}/classify", bad_priority).status_code == 422
    reflection = stored(session, code)
    assert (reflection.state, reflection.version) == ("received", 1)


def test_a_stale_version_is_a_409_page(
    client: TestClient, browser: TestClient, session: Session
) -> None:
    code = new_code(client)
    log_in(browser, "coordinator")
    page = browser.get(f"/console/reflections/{code}").text
    stale = version_on(page, "reject")
    classify = {"category": "urban_order", "priority": "normal", "administrative_unit": WARD}
    api(client, code, "classify", "coordinator2", **classify)  # someone else, meanwhile
    refused = post_form(
        browser, f"/console/reflections/{code}/reject", {"reason": "Trùng", "version": stale}
    )
    assert refused.status_code == 409
    # The page as it is now, saying who did what and when; the reason typed is kept.
    assert "Lê Quang Minh (Điều phối viên) đã phân loại phản ánh lúc" in text_of(refused)
    assert ">Trùng</textarea>" in refused.text
    assert stored(session, code).state == "classified"


def test_an_action_not_allowed_now_is_a_409_page(client: TestClient, browser: TestClient) -> None:
    code = new_code(client)
    log_in(browser, "coordinator")
    refused = post_form(browser, f"/console/reflections/{code}/send_back", {"reason": "Chưa đạt"})
    assert refused.status_code == 409
    assert "không còn phù hợp" in text_of(refused)


# --- The supervisor -------------------------------------------------------------------------


def test_a_supervisor_reassigns_an_escalated_reflection_within_their_scope(
    client: TestClient, browser: TestClient, session: Session
) -> None:
    code = assigned_code(client, unit=HEPCO, category="waste_collection")
    escalate(session, code)  # HEPCO is a city company: it goes to the city's leaders
    log_in(browser, "supervisor.ioc")
    listed = find_in_list(browser, "/console/escalations", code)
    row = row_of(listed, code)
    assert "Đã chuyển cấp trên (lần 1)" in row and "Lấn chiếm vỉa hè" in row
    assert "<select" not in row  # the reassign form lives on the reflection's page
    for secret in (NAME, EMAIL, *PHONE_FORMS):
        assert secret not in row
    page = browser.get(f"/console/reflections/{code}?back=/console/escalations").text
    choices = options(page, "reassign-handling_unit")
    assert WARD_COMMITTEE in choices and HEPCO not in choices  # not the current unit
    done = post_form(
        browser,
        f"/console/reflections/{code}/reassign",
        {
            "handling_unit": WARD_COMMITTEE,
            "back": "/console/escalations",
            "version": version_on(page, "reassign"),
        },
    )
    assert done.status_code == 303
    assert done.headers["location"] == (
        f"/console/escalations?done=reassign&of={code}&unit={WARD_COMMITTEE}"
    )
    assert unit_code(session, stored(session, code)) == WARD_COMMITTEE
    after = browser.get(done.headers["location"])
    assert f"Đã giao lại {code} cho UBND phường Phú Xuân." in text_of(after)
    assert f'data-tracking-code="{code}"' not in after.text  # handled: the list moved on


def test_a_supervisor_cannot_reassign_outside_their_scope(
    client: TestClient, browser: TestClient, session: Session
) -> None:
    code = assigned_code(client)
    log_in(browser, "supervisor.phuxuan")  # the ward's leader: only the ward's committee
    page = browser.get(f"/console/reflections/{code}").text
    assert 'data-primary="reassign"' in page
    assert HEPCO not in page
    for secret in (NAME, EMAIL, *PHONE_FORMS):
        assert secret not in page
    refused = post_form(
        browser,
        f"/console/reflections/{code}/reassign",
        {"handling_unit": HEPCO, "version": version_on(page, "escalate")},
    )
    assert refused.status_code == 403
    assert unit_code(session, stored(session, code)) == WARD_COMMITTEE


# --- Duplicates -----------------------------------------------------------------------------


def test_duplicates_are_suggested_and_merged(
    client: TestClient, browser: TestClient, session: Session
) -> None:
    hint = f"dup-{uuid.uuid4().hex[:10]}"  # a category of its own: no other test's reflections
    place = {"latitude": 16.4637, "longitude": 107.5909, "category_hint": hint}
    original = new_code(client, **place)
    duplicate = new_code(client, **(place | {"latitude": 16.4641}))  # about 45 m north
    log_in(browser, "coordinator")
    page = browser.get(f"/console/reflections/{duplicate}").text
    item = re.search(rf'<li data-duplicate="{original}".*?</li>', page, re.S)
    assert item, "the original is not suggested"
    assert re.search(r"cách \d+ m", item.group(0))
    assert "cùng phường/xã" in item.group(0)
    assert 'data-confirm="' in item.group(0)
    done = post_form(
        browser,
        f"/console/reflections/{duplicate}/merge",
        {"into": original, "version": version_on(item.group(0), "merge")},
    )
    assert done.status_code == 303
    assert done.headers["location"].startswith(f"/console/reflections/{duplicate}?")
    assert "done=merge" in done.headers["location"]
    merged = stored(session, duplicate)
    assert merged.state == "rejected" and original in (merged.rejection_reason or "")
    page = browser.get(done.headers["location"]).text
    assert 'data-state="rejected"' in page and 'data-section="duplicates"' not in page


def test_only_coordinators_merge(client: TestClient, browser: TestClient) -> None:
    code = assigned_code(client)
    log_in(browser, "handler.phuxuan")
    refused = post_form(browser, f"/console/reflections/{code}/merge", {"into": new_code(client)})
    assert refused.status_code == 403


# --- Other staff ----------------------------------------------------------------------------


def test_an_auditor_sees_the_reporter_masked_and_no_actions(
    client: TestClient, browser: TestClient
) -> None:
    code = new_code(client)
    log_in(browser, "auditor")
    page = browser.get(f"/console/reflections/{code}")
    assert page.status_code == 200
    assert 'data-section="reporter"' in page.text and "B. T. K. N." in page.text
    assert NAME not in page.text and EMAIL not in page.text
    assert 'data-section="actions"' not in page.text and "data-primary" not in page.text


def test_the_pages_switch_to_english(client: TestClient, browser: TestClient) -> None:
    code = new_code(client, category_hint="urban_order")
    log_in(browser, "coordinator")
    browser.cookies.set("reflections_lang", "en")
    page = browser.get(f"/console/reflections/{code}").text
    assert "Report " + code in page and "Classify and assign" in page and 'lang="en"' in page
    assert '<p class="description" data-description lang="vi">' in page  # the citizen's words


# --- Accessibility --------------------------------------------------------------------------


class _Outline(HTMLParser):
    """The fields, labels, ids and headings of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[str | None] = []
        self.labelled: set[str] = set()
        self.ids: list[str] = []
        self.headings: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if tag == "label" and a.get("for"):
            self.labelled.add(str(a["for"]))
        if tag in ("select", "textarea") or (
            tag == "input" and a.get("type") not in ("hidden", "submit")
        ):
            self.fields.append(a.get("id"))
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))


def assert_accessible(html: str) -> None:
    outline = _Outline()
    outline.feed(html)
    unlabelled = [f for f in outline.fields if f is None or f not in outline.labelled]
    assert not unlabelled, f"fields without a label: {unlabelled}"
    assert len(outline.ids) == len(set(outline.ids)), "duplicate ids"
    assert outline.headings.count(1) == 1
    for before, after in itertools.pairwise(outline.headings):
        assert after <= before + 1, f"heading h{after} after h{before}"


def test_every_page_has_labelled_fields_and_ordered_headings(
    app: FastAPI, client: TestClient, session: Session
) -> None:
    received = new_code(client, category_hint="urban_order")
    classified = new_code(client)
    classify = {"category": "urban_order", "priority": "normal", "administrative_unit": WARD}
    api(client, classified, "classify", "coordinator", **classify)
    escalated = assigned_code(client, unit=HEPCO, category="waste_collection")
    escalate(session, escalated)
    mine = assigned_code(client)
    with staff(app, "coordinator") as coordinator:
        for path in (
            "/console/queue",
            *(f"/console/reflections/{c}" for c in (received, classified)),
        ):
            assert_accessible(coordinator.get(path).text)
    with staff(app, "handler.phuxuan") as handler:
        assert_accessible(handler.get("/console/inbox").text)
        assert_accessible(handler.get(f"/console/reflections/{mine}").text)
        api(client, mine, "accept", "handler.phuxuan")
        assert_accessible(handler.get(f"/console/reflections/{mine}").text)
    with staff(app, "supervisor.ioc") as supervisor:
        assert_accessible(supervisor.get("/console/escalations").text)
        assert_accessible(supervisor.get(f"/console/reflections/{escalated}").text)
