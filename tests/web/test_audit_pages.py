"""The auditor's timeline, the report dashboard and its downloads, as the people using them see
them: the same figures and refusals as the API (api/routes/audit.py, reports.py, exports.py)."""

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, delete, text, update
from sqlalchemy.pool import NullPool
from sqlmodel import Session, col, select

from reflections.models import (
    HandlingUnit,
    HistoryEvent,
    Reflection,
    ReportCell,
    ReportMonth,
    ReportStepCell,
    ReportStepFigure,
    ReportStepMonth,
    User,
)
from reflections.organisation.auth import actor_for
from reflections.organisation.visibility import units_in_scope
from reflections.oversight import report_summary
from reflections.oversight.exports import HISTORY_COLUMNS
from reflections.oversight.report_types import GroupBy, ReportQuery
from reflections.oversight.reports import build_report
from reflections.platform import clock
from reflections.timekeeping.deadlines import Step
from tests.api_helpers import as_citizen, as_user, submit
from tests.web.pages import log_in, new_browser, text_of
from web.templating import local_time

WARD = "46.W19768"  # Phường Phú Xuân
WARD_COMMITTEE = "UBND.46.W19768"
REPORTER = {"name": "Hoàng Thị Kiểm", "phone": "0905 777 123", "email": "kiem.hoang@example.com"}
EVENTS = ["submit", "classify", "assign", "accept", "process", "confirm"]


def confirmed_reflection(client: TestClient, rating: int = 5, category: str = "urban_order") -> str:
    """A reflection taken from submission to confirmation through the API; its code."""
    submitted = submit(client, administrative_unit=WARD, contact=REPORTER)
    code: str = submitted["tracking_code"]
    coordinator = as_user(client, "coordinator")
    handler = as_user(client, "handler.phuxuan")
    steps: list[tuple[str, dict[str, str], dict[str, Any]]] = [
        (
            "classify",
            coordinator,
            {"category": category, "priority": "normal", "administrative_unit": WARD},
        ),
        ("assign", coordinator, {"handling_unit": WARD_COMMITTEE}),
        ("accept", handler, {}),
        ("process", handler, {"result": "Đã dọn dẹp, trả lại vỉa hè"}),
        ("confirm", as_citizen(submitted["citizen_key"]), {"rating": rating, "comment": "Tốt"}),
    ]
    for action, headers, body in steps:
        response = client.post(f"/api/v1/reflections/{code}/{action}", headers=headers, json=body)
        assert response.status_code == 200, response.text
    return code


def tamper(url: str, statement: str, **params: Any) -> None:
    """Change the history as someone with direct database access would (tests/test_audit.py:
    on PostgreSQL a superuser switching the append-only triggers off for one transaction)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text("SET LOCAL session_replication_role = replica"))
            connection.execute(text(statement), params)
    finally:
        engine.dispose()


def logged_in(app: Any, username: str) -> TestClient:
    browser = new_browser(app)
    log_in(browser, username)
    return browser


# -- the auditor's timeline ------------------------------------------------------------------


@pytest.mark.parametrize("username", ["auditor", "admin"])
def test_the_auditor_sees_every_event_and_an_intact_chain(
    client: TestClient, browser: TestClient, username: str
) -> None:
    code = confirmed_reflection(client)
    log_in(browser, username)
    page = browser.get(f"/console/audit/reflections/{code.lower()}")
    assert page.status_code == 200, page.text
    html = page.text
    assert re.findall(r'data-history-row data-seq="(\d+)" data-event="(\w+)"', html) == [
        (str(n), event) for n, event in enumerate(EVENTS, start=1)
    ]
    assert 'data-chain-status="intact"' in html and "data-broken" not in html
    shown = text_of(page)
    assert "Lịch sử chưa bị chỉnh sửa" in shown and "băm nguyên vẹn" not in shown
    assert "Trần Thị Mai Điều phối viên" in shown and "Võ Thị Lan Cán bộ xử lý" in shown  # who
    assert "Giao cho UBND phường Phú Xuân; hạn nhận xử lý" in shown  # what, in words
    assert "(UTC+07:00)" in shown  # when, in Vietnam time with its offset
    assert "administrative_unit_id" not in html and "handling_unit_id" not in html
    assert "Đã tiếp nhận → Đã phân loại" in shown  # from → to state
    assert f'href="/console/reflections/{code}"' in html  # what was reported
    for secret in REPORTER.values():  # the identity stays masked: not even masked here
        assert secret not in html
    assert "905777123" not in html


def test_the_code_lookup_opens_the_timeline(browser: TestClient, client: TestClient) -> None:
    code = submit(client)["tracking_code"]
    log_in(browser, "auditor")
    form = browser.get("/console/audit")
    assert form.status_code == 200
    assert '<label for="code">' in form.text and 'id="code"' in form.text
    found = browser.get("/console/audit", params={"code": f"  {code.lower()} "})
    assert found.status_code == 303
    assert found.headers["location"] == f"/console/audit/reflections/{code}"
    assert browser.get(found.headers["location"]).status_code == 200
    missing = browser.get("/console/audit/reflections/NOPE-NOPE")
    assert missing.status_code == 404
    assert "Không tìm thấy" in text_of(missing)
    unknown = browser.get("/console/audit", params={"code": "zzzz-zzzz"})
    assert unknown.status_code == 404  # the form again, the sentence at the field
    assert 'id="code-error"' in unknown.text and 'value="ZZZZ-ZZZZ"' in unknown.text


def test_a_tampered_hash_is_named_as_the_broken_link(
    client: TestClient, browser: TestClient, session: Session, database_url: str
) -> None:
    code = confirmed_reflection(client)
    row = session.exec(
        select(HistoryEvent)
        .join(Reflection, Reflection.id == HistoryEvent.reflection_id)  # type: ignore[arg-type]
        .where(Reflection.tracking_code == code, HistoryEvent.seq == 3)
    ).one()
    log_in(browser, "auditor")
    url = f"/console/audit/reflections/{code}"
    tamper(
        database_url, "UPDATE history_events SET hash = :h WHERE id = :id", h="0" * 64, id=row.id
    )
    try:
        page = browser.get(url)
    finally:  # the session's database is shared: put the row back whatever happened
        tamper(
            database_url,
            "UPDATE history_events SET hash = :h WHERE id = :id",
            h=row.hash,
            id=row.id,
        )
    assert page.status_code == 200, page.text
    assert 'data-chain-status="broken"' in page.text
    assert 'data-broken-seq="3"' in page.text
    assert 'data-problem-kind="content_changed"' in page.text
    shown = text_of(page)
    assert "Bản ghi đầu tiên có vấn đề: số 3: nội dung đã bị sửa" in shown
    assert re.search(
        r'<tr data-history-row data-seq="3" data-event="assign" data-broken', page.text
    )
    assert 'data-chain-status="intact"' in browser.get(url).text  # restored


@pytest.mark.parametrize("path", ["/console/audit", "/console/audit/reflections/{code}"])
def test_handlers_may_not_open_audit_pages(
    client: TestClient, browser: TestClient, path: str
) -> None:
    code = submit(client)["tracking_code"]
    log_in(browser, "handler.phuxuan")
    response = browser.get(path.format(code=code))
    assert response.status_code == 403
    assert "Bạn không có quyền" in text_of(response)


def test_a_handler_reads_the_report_of_their_own_unit_only(browser: TestClient) -> None:
    log_in(browser, "handler.phuxuan")
    own = browser.get("/console/reports")
    assert own.status_code == 200
    units = set(re.findall(r'data-unit="([^"]+)"', own.text))
    assert units <= {"UBND.46.W19768"}
    assert browser.get("/console/reports?handling_unit=HEPCO").status_code == 403


@pytest.mark.parametrize("username", ["coordinator", "supervisor.ioc", "operator"])
def test_only_auditors_and_admins_open_timelines(
    client: TestClient, browser: TestClient, username: str
) -> None:
    code = submit(client)["tracking_code"]
    log_in(browser, username)
    assert browser.get(f"/console/audit/reflections/{code}").status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "/console/audit",
        "/console/audit/reflections/ABCD-EFGH",
        "/console/reports?from=2026-01",
        "/console/exports/reports?from=2026-01",
        "/console/exports/histories?from=2026-01-01&to=2026-02-01",
    ],
)
def test_not_logged_in_goes_to_the_login_page(browser: TestClient, path: str) -> None:
    response = browser.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=/console/")


# -- the report dashboard --------------------------------------------------------------------


def _bars(html: str) -> dict[str, float]:
    return {
        unit: float(value)
        for unit, value in re.findall(r'<g data-bar data-unit="([^"]*)" data-value="([^"]+)"', html)
    }


def _segments(html: str) -> dict[tuple[str, str], int]:
    found = re.findall(
        r'data-segment data-month="([^"]+)" data-category="([^"]*)" data-value="(\d+)"', html
    )
    return {(month, category): int(value) for month, category, value in found}


def _points(html: str) -> dict[str, float]:
    found = re.findall(r'data-point data-month="([^"]+)" data-value="([^"]+)"', html)
    return {month: float(value) for month, value in found}


def _period(html: str) -> tuple[str, str]:
    match = re.search(r'data-period="(\d{4}-\d{2})_(\d{4}-\d{2})"', html)
    assert match, "no period on the dashboard"
    return match[1], match[2]


def _expected(session: Session, username: str, query: ReportQuery) -> dict[str, Any]:
    """What build_report says for this caller and query, in the charts' terms."""
    user = session.exec(select(User).where(User.username == username)).one()
    scope = units_in_scope(session, actor_for(session, user))
    now = clock.now()

    def report(*group_by: GroupBy) -> Any:
        return build_report(session, replace(query, group_by=group_by), now, within_units=scope)

    bars = {
        row.group.handling_unit.code: pct
        for row in report(GroupBy.HANDLING_UNIT).rows
        if row.group.handling_unit
        and (pct := row.figures.steps[Step.PROCESS].on_time_pct) is not None
    }
    segments = {
        (row.group.month, row.group.category.code if row.group.category else ""): (
            row.figures.received
        )
        for row in report(GroupBy.MONTH, GroupBy.CATEGORY).rows
        if row.figures.received
    }
    points = {
        row.group.month: row.figures.satisfaction_pct
        for row in report(GroupBy.MONTH).rows
        if row.figures.satisfaction_pct is not None
    }
    return {"bars": bars, "segments": segments, "points": points, "scope": scope}


@pytest.mark.parametrize("username", ["auditor", "coordinator", "admin"])
def test_the_dashboard_draws_what_build_report_counts(
    client: TestClient, browser: TestClient, session: Session, username: str
) -> None:
    confirmed_reflection(client, rating=5)
    confirmed_reflection(client, rating=2, category="traffic")
    log_in(browser, username)
    page = browser.get("/console/reports")
    assert page.status_code == 200, page.text
    html = page.text
    assert re.findall(r'<figure class="chart" data-chart="([\w-]+)"', html) == [
        "on-time",
        "volume",
        "satisfaction",
    ]
    assert html.count('role="img"') == 3 and html.count("<figcaption") == 3
    assert html.count("<details") == 3 and html.count('<th scope="col">') >= 12
    first, last = _period(html)
    expected = _expected(session, username, ReportQuery.parse(first, last))
    assert _bars(html) == expected["bars"]
    assert WARD_COMMITTEE in expected["bars"]  # the reflections above count
    assert _segments(html) == expected["segments"]
    assert _points(html) == expected["points"]
    assert f'data-bars="{len(expected["bars"])}"' in html


def test_a_supervisor_sees_only_the_units_in_scope(
    client: TestClient, browser: TestClient, session: Session
) -> None:
    confirmed_reflection(client)
    log_in(browser, "supervisor.phuxuan")
    page = browser.get("/console/reports")
    assert page.status_code == 200, page.text
    first, last = _period(page.text)
    expected = _expected(session, "supervisor.phuxuan", ReportQuery.parse(first, last))
    assert expected["scope"] is not None
    assert _bars(page.text) == expected["bars"]
    in_scope = session.exec(
        select(HandlingUnit.code).where(col(HandlingUnit.id).in_(sorted(expected["scope"])))
    ).all()
    assert set(_bars(page.text)) <= set(in_scope)
    assert "HEPCO" not in in_scope and "HEPCO" not in page.text
    assert _segments(page.text) == expected["segments"]
    assert "data-export" not in page.text  # exports are the auditors' and admins'


def test_filters_narrow_the_charts(
    client: TestClient, browser: TestClient, session: Session
) -> None:
    confirmed_reflection(client, category="traffic")
    log_in(browser, "auditor")
    first, last = _period(browser.get("/console/reports").text)
    params = {"from": first, "to": last, "category": "traffic", "handling_unit": WARD_COMMITTEE}
    page = browser.get("/console/reports", params=params)
    assert page.status_code == 200, page.text
    query = ReportQuery.parse(first, last, category="traffic", handling_unit=WARD_COMMITTEE)
    expected = _expected(session, "auditor", query)
    assert set(_bars(page.text)) == {WARD_COMMITTEE}
    assert _bars(page.text) == expected["bars"]
    assert {category for _, category in _segments(page.text)} == {"traffic"}
    assert _segments(page.text) == expected["segments"]
    assert '<option value="traffic" selected>' in page.text


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"from": "2026-13"}, "from"),
        ({"from": "13/2026"}, "from"),
        ({"from": "05/2026", "to": "02/2026"}, "to"),
        ({"from": "march"}, "from"),
        ({"from": "01/2026", "category": "no-such-category"}, "category"),
        ({"from": "2026-01", "step": "classify"}, "step"),
    ],
)
def test_an_invalid_filter_gives_the_form_back_with_422(
    browser: TestClient, params: dict[str, str], named: str
) -> None:
    log_in(browser, "auditor")
    page = browser.get("/console/reports", params=params)
    assert page.status_code == 422, page.text
    assert 'role="alert"' in page.text and f'id="{named}-error"' in page.text  # at its field
    assert f'value="{params["from"]}"' in page.text  # as typed
    assert "data-report-filters" in page.text  # the form, to correct the filter
    assert "data-chart" not in page.text and "data-export" not in page.text


def test_a_supervisor_cannot_filter_by_a_unit_outside_their_scope(browser: TestClient) -> None:
    log_in(browser, "supervisor.phuxuan")
    page = browser.get("/console/reports", params={"from": "2026-01", "handling_unit": "HEPCO"})
    assert page.status_code == 403


def test_the_dashboard_is_in_english_too(browser: TestClient) -> None:
    log_in(browser, "auditor")
    browser.get("/language/en")
    page = browser.get("/console/reports")
    assert page.status_code == 200
    assert "On-time rate per unit" in page.text and 'lang="en"' in page.text


_SUMMARY_TABLES = (ReportCell, ReportStepCell, ReportStepMonth, ReportStepFigure, ReportMonth)


def forget_summaries(session: Session, month: str | None = None) -> None:
    """Drop the report summaries (of one month, or all): as if never summarised."""
    for table in _SUMMARY_TABLES:
        statement = delete(table)
        if month is not None:
            statement = statement.where(col(table.month) == month)
        session.execute(statement)
    session.commit()


@pytest.fixture
def summarised(session: Session) -> Iterator[Session]:
    """Summaries for the test; none after it (the other dashboard tests expect exact figures)."""
    try:
        yield session
    finally:
        forget_summaries(session)


def _received(html: str) -> int:
    match = re.search(r'data-figure="received"><dt>[^<]*</dt><dd>(\d+)</dd>', html)
    assert match, "no received figure on the dashboard"
    return int(match[1])


def _api_received(client: TestClient, period: tuple[str, str]) -> int:
    """The API's total received over the dashboard's period."""
    response = client.get(
        "/api/v1/reports",
        params={"from": period[0], "to": period[1], "group_by": "month"},
        headers=as_user(client, "auditor"),
    )
    assert response.status_code == 200, response.text
    return int(response.json()["total"]["received"])


def test_the_dashboard_shows_the_summarised_figures_and_as_of_when(
    client: TestClient, browser: TestClient, summarised: Session
) -> None:
    session = summarised
    confirmed_reflection(client)
    report_summary.refresh(session)
    log_in(browser, "auditor")
    html = browser.get("/console/reports").text
    period = _period(html)
    month = period[1]  # this month
    received = _received(html)
    assert received == _api_received(client, period)
    assert "data-summarised-at" not in html  # nothing changed since: every figure exact

    submit(client, administrative_unit=WARD)  # this month changes
    session.expire_all()
    refreshed_at = session.get(ReportMonth, month)
    assert refreshed_at is not None
    day, at = local_time(refreshed_at.refreshed_at).split(" ")
    html = browser.get("/console/reports").text
    assert _received(html) == received  # as summarised
    assert (
        f"Số liệu tổng hợp lúc {at} {day}, cập nhật {report_summary.REFRESH_MINUTES} phút một lần."
        in html
    )
    assert _api_received(client, period) == received + 1  # the API stays exact
    browser.get("/language/en")
    html = browser.get("/console/reports").text
    assert _received(html) == received
    assert (
        f"Figures as summarised at {at} {day}, refreshed every "
        f"{report_summary.REFRESH_MINUTES} minutes." in html
    )

    report_summary.refresh(session)  # the flow's next run
    html = browser.get("/console/reports").text
    assert _received(html) == received + 1
    assert "data-summarised-at" not in html


def test_a_month_never_summarised_is_counted_on_the_dashboard(
    client: TestClient,
    browser: TestClient,
    summarised: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = summarised
    code = confirmed_reflection(client)
    session.execute(  # received last month or the one before: within the default period
        update(Reflection)
        .where(col(Reflection.tracking_code) == code)
        .values(created_at=clock.now() - timedelta(days=40))
    )
    session.commit()
    confirmed_reflection(client)
    report_summary.refresh(session)
    log_in(browser, "auditor")
    html = browser.get("/console/reports").text
    period = _period(html)
    month = period[1]  # this month
    received = _received(html)
    forget_summaries(session, month)  # this month never summarised, the earlier one is
    submit(client, administrative_unit=WARD)
    assert _api_received(client, period) == received + 1
    live: list[list[str]] = []
    real = report_summary.figures_by_group

    def counted(*args: Any, **kwargs: Any) -> Any:
        live.append(list(kwargs.get("live", ())))
        return real(*args, **kwargs)

    monkeypatch.setattr(report_summary, "figures_by_group", counted)
    html = browser.get("/console/reports").text
    # Four reports (total, units, months by category, months), rows and total each: this month
    # counted, the others read from the summaries.
    assert live == [[month]] * 8
    assert _received(html) == received + 1
    assert "data-summarised-at" not in html  # the summarised month did not change


def test_the_stated_interval_is_the_flows_schedule() -> None:
    from flows.deployments import SCHEDULED

    cron = next(item.cron for item in SCHEDULED if item.flow.name == "report-summaries")
    assert cron == f"*/{report_summary.REFRESH_MINUTES} * * * *"


# -- downloads -------------------------------------------------------------------------------


def _export_links(html: str) -> dict[str, str]:
    found = re.findall(
        r'<a class="button[^"]*" href="([^"]+)" download data-export="([\w-]+)"', html
    )
    return {name: href.replace("&amp;", "&") for href, name in found}


def test_the_export_links_download_csv_and_json_lines(
    client: TestClient, browser: TestClient
) -> None:
    code = confirmed_reflection(client)
    log_in(browser, "auditor")
    page = browser.get("/console/reports")
    first, last = _period(page.text)
    links = _export_links(page.text)
    assert set(links) == {"report-csv", "report-xlsx", "histories-csv", "histories-xlsx"}
    links |= {
        name: href.replace("&amp;", "&")
        for href, name in re.findall(
            r'<a href="([^"]+)" download data-export="([\w-]+)"', page.text
        )
    }

    report = browser.get(links["report-csv"])
    assert report.status_code == 200
    assert report.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = f'attachment; filename="report_{first}_{last}.csv"'
    assert report.headers["content-disposition"] == disposition
    assert report.content.startswith(b"\xef\xbb\xbf")  # Excel on Windows reads it as UTF-8
    rows = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Dòng", "Mã đơn vị", "Đơn vị xử lý"]  # the page's language
    assert rows[-1][0] == "tổng" and any(WARD_COMMITTEE in row for row in rows)

    lines = browser.get(links["report-jsonl"])
    assert lines.headers["content-type"] == "application/x-ndjson"
    assert lines.headers["content-disposition"].endswith(f'report_{first}_{last}.jsonl"')
    parsed = [json.loads(line) for line in lines.text.splitlines()]
    assert parsed[-1]["row"] == "total"

    histories = browser.get(links["histories-csv"])
    assert histories.status_code == 200
    assert histories.headers["content-disposition"].startswith(
        f'attachment; filename="histories_{first}-01_'
    )
    history_rows = list(csv.reader(io.StringIO(histories.content.decode("utf-8-sig"))))
    assert history_rows[0][:3] == ["Mã phản ánh", "STT", "Thời điểm (giờ Việt Nam)"]
    events = [r[HISTORY_COLUMNS.index("event")] for r in history_rows if r[0] == code]
    assert events == EVENTS
    as_json = [json.loads(line) for line in browser.get(links["histories-jsonl"]).text.splitlines()]
    assert [r["seq"] for r in as_json if r["tracking_code"] == code] == [1, 2, 3, 4, 5, 6]

    # the same files as the API's, by name
    api = client.get(
        "/api/v1/exports/reports",
        params={"from": first, "to": last},
        headers=as_user(client, "auditor"),
    )
    assert api.headers["content-disposition"] == disposition
    workbook = browser.get(links["report-xlsx"])
    assert workbook.headers["content-disposition"].endswith(f'report_{first}_{last}.xlsx"')


@pytest.mark.parametrize("username", ["handler.phuxuan", "coordinator", "supervisor.ioc"])
def test_only_auditors_and_admins_export(app: Any, username: str) -> None:
    with logged_in(app, username) as browser:
        for path in (
            "/console/exports/reports?from=2026-01",
            "/console/exports/histories?from=2026-01-01&to=2026-02-01",
        ):
            assert browser.get(path).status_code == 403
        if username == "coordinator":
            assert "data-export" not in browser.get("/console/reports").text


def test_a_bad_export_period_is_a_422_page(browser: TestClient) -> None:
    log_in(browser, "admin")
    for path in (
        "/console/exports/reports?from=2026-13",
        "/console/exports/histories?from=2026-02-01&to=2026-01-01",
        "/console/exports/histories?from=yesterday&to=2026-01-01",
        "/console/exports/reports?from=2026-01&format=xml",
    ):
        response = browser.get(path)
        assert response.status_code == 422, path
        assert response.headers["content-type"].startswith("text/html")
