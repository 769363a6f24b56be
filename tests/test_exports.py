"""Exports of histories (and reports) for a period: the rows, the formats, the streaming, who may.

The reflections are driven through the real service with the shared clock frozen in March 2033
(local time, Asia/Ho_Chi_Minh), a month no other test writes to; assertions still look only at
this module's own tracking codes, as the session's database is shared.
"""

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlmodel import Session, col, select
from typer.testing import CliRunner

import api.routes.exports
from api.deps import get_session
from reflections.actors import Actor
from reflections.cli import app as cli
from reflections.errors import InvalidInput
from reflections.lifecycle.service import EventInput, apply_event
from reflections.models import HistoryEvent, Reflection, User
from reflections.models.enums import Priority, Role
from reflections.oversight import export_files, exports
from reflections.oversight.exports import HISTORY_COLUMNS, ExportFormat
from reflections.oversight.report_types import ReportQuery
from reflections.oversight.reports import build_report
from reflections.platform import clock
from reflections.platform.db import get_engine
from tests.api_helpers import as_user
from tests.conftest import on_postgresql
from tests.lifecycle_helpers import E, fire, new_reflection, refs

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
START = datetime(2033, 3, 1, tzinfo=ZONE)  # 2033-02-28T17:00:00Z
END = datetime(2033, 4, 1, tzinfo=ZONE)
TICK = timedelta(microseconds=1)
QUERY = {"from": "2033-03-01", "to": "2033-04-01"}
HISTORIES = ["export", "histories", "--from", "01/03/2033", "--to", "2033-03-31"]  # inclusive
DESCRIPTION = "Cống thoát nước bị tắc, nước tràn ra đường Lê Lợi"
RESULT = "Đã thay bóng đèn"  # what tests/lifecycle_helpers.py gives the events
RETURN_REASON = "không đúng thẩm quyền"

Made = dict[str, Reflection]


@pytest.fixture(scope="module")
def made(engine: Engine) -> Made:
    """Reflections whose history rows sit on and around the period's boundaries."""
    with Session(engine, expire_on_commit=False) as session:
        r = refs(session)
        coordinator2 = session.exec(select(User).where(User.username == "coordinator2")).one()
        named = Actor(Role.COORDINATOR, user_id=coordinator2.id)

        def submitted(at: datetime, description: str = DESCRIPTION) -> Reflection:
            with clock.frozen_at(at):
                return new_reflection(session, description)

        def then(reflection: Reflection, event: E, at: datetime) -> Reflection:
            with clock.frozen_at(at):
                return fire(session, reflection, event, r)

        made: Made = {"before": submitted(START - TICK)}  # submit out, classify in
        made["before"] = then(made["before"], E.CLASSIFY, START + timedelta(hours=1))
        made["at_start"] = submitted(START)
        made["twin_a"] = submitted(START + timedelta(days=2))  # the same instant: by id
        made["twin_b"] = submitted(START + timedelta(days=2))
        full = submitted(START + timedelta(days=3))
        assert full.id is not None
        with clock.frozen_at(START + timedelta(days=3, hours=2)):
            full = apply_event(
                session,
                full.id,
                E.CLASSIFY,
                named,
                EventInput(
                    category_id=r.category_id,
                    priority=Priority.NORMAL,
                    administrative_unit_id=r.administrative_unit_id,
                ),
            )
        day = START + timedelta(days=4)
        for offset, step in enumerate([E.ASSIGN, E.RETURN, E.ASSIGN, E.ACCEPT, E.PROCESS]):
            full = then(full, step, day + timedelta(hours=offset))
        made["full"] = then(full, E.CONFIRM, day + timedelta(days=1))
        made["last_in"] = submitted(END - TICK)
        made["at_end"] = submitted(END)
        made["after"] = then(submitted(START + timedelta(days=20)), E.CLASSIFY, END)
        return made


def codes(made: Made) -> set[str]:
    return {reflection.tracking_code for reflection in made.values()}


def expected(session: Session, made: Made) -> list[tuple[str, int]]:
    """The oracle: this module's rows filtered and sorted in Python, not in SQL."""
    by_id = {reflection.id: reflection.tracking_code for reflection in made.values()}
    rows = session.exec(
        select(HistoryEvent).where(col(HistoryEvent.reflection_id).in_(list(by_id)))
    ).all()
    inside = sorted(
        (row for row in rows if START <= row.occurred_at < END),
        key=lambda row: (row.occurred_at, row.id),
    )
    return [(by_id[row.reflection_id], row.seq) for row in inside]


def ours(records: list[dict[str, Any]], made: Made) -> list[dict[str, Any]]:
    mine = codes(made)
    return [record for record in records if record["tracking_code"] in mine]


def parse_csv(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert tuple(reader.fieldnames or ()) == HISTORY_COLUMNS
    return list(reader)


def parse_jsonl(text: str) -> list[dict[str, Any]]:
    assert text.endswith("\n")
    records = [json.loads(line) for line in text.splitlines()]
    assert all(tuple(record) == HISTORY_COLUMNS for record in records)
    return records


def joined(chunks: Iterable[bytes]) -> str:
    return b"".join(chunks).decode("utf-8")


def period() -> exports.Period:
    return exports.days(START.date(), END.date())


# --- the domain generators ------------------------------------------------------------------


def test_period_is_local_days_half_open() -> None:
    p = period()
    assert p.start == START and p.end == END
    assert p.start.isoformat() == "2033-02-28T17:00:00+00:00"
    assert p.filename("histories", ExportFormat.JSONL) == "histories_2033-03-01_2033-04-01.jsonl"
    with pytest.raises(InvalidInput, match="after"):
        exports.days(END.date(), START.date())


def test_histories_of_a_period_exactly(session: Session, made: Made) -> None:
    text = joined(exports.export_histories(session, period(), ExportFormat.CSV, batch_size=3))
    records = ours(parse_csv(text), made)
    assert [(r["tracking_code"], int(r["seq"])) for r in records] == expected(session, made)
    seen = {(r["tracking_code"], int(r["seq"])) for r in records}
    code = {label: reflection.tracking_code for label, reflection in made.items()}
    assert (code["before"], 1) not in seen and (code["before"], 2) in seen  # by occurred_at
    assert (code["at_start"], 1) in seen and (code["last_in"], 1) in seen  # from: included
    assert code["at_end"] not in {c for c, _ in seen}  # to: excluded
    assert (code["after"], 1) in seen and (code["after"], 2) not in seen
    twin_codes = (code["twin_a"], code["twin_b"])
    twins = [r["tracking_code"] for r in records if r["tracking_code"] in twin_codes]
    assert twins == [code["twin_a"], code["twin_b"]]  # one instant: in id order


def test_csv_columns_and_values(session: Session, made: Made) -> None:
    text = joined(exports.export_histories(session, period(), ExportFormat.CSV))
    assert text.startswith(",".join(HISTORY_COLUMNS) + "\r\n")
    full = {
        r["event"]: r
        for r in ours(parse_csv(text), made)
        if r["tracking_code"] == made["full"].tracking_code
    }
    assert list(full) == ["submit", "classify", "assign", "return", "accept", "process", "confirm"]
    assert full["submit"]["from_state"] == "" and full["submit"]["to_state"] == "received"
    assert full["submit"]["actor"] == "citizen" and full["submit"]["actor_role"] == "citizen"
    assert full["classify"]["actor"] == "coordinator2"  # a named user: the username
    assert full["classify"]["actor_role"] == "coordinator"
    assert full["accept"]["to_stage"] == "in_progress"
    assert full["return"]["reason"] == RETURN_REASON
    assert json.loads(full["process"]["payload"])["result"] == RESULT
    assert json.loads(full["confirm"]["payload"]) == {"comment": "Cảm ơn", "rating": 5}
    assert full["confirm"]["prev_hash"] == full["process"]["hash"] != ""
    occurred = datetime.fromisoformat(full["confirm"]["occurred_at"])
    assert occurred == START + timedelta(days=5) and occurred.utcoffset() == timedelta(0)


def test_jsonl_lines_parse_with_utf8_intact(session: Session, made: Made) -> None:
    body = b"".join(exports.export_histories(session, period(), ExportFormat.JSONL, 2))
    assert RESULT.encode() in body and b"\\u" not in body  # UTF-8, not escapes
    records = ours(parse_jsonl(body.decode("utf-8")), made)
    assert [(r["tracking_code"], r["seq"]) for r in records] == expected(session, made)
    process = next(r for r in records if r["event"] == "process")
    assert process["payload"]["result"] == RESULT and process["from_stage"] == ("in_progress")
    submit = next(r for r in records if r["event"] == "submit")
    assert submit["from_state"] is None and submit["reason"] is None


def test_histories_hold_reasons_not_descriptions(session: Session, made: Made) -> None:
    text = joined(exports.export_histories(session, period(), ExportFormat.CSV))
    assert RETURN_REASON in text
    assert DESCRIPTION not in text  # what the citizen wrote is not part of the history


def test_the_stream_spans_many_batches_and_chunks(
    session: Session, made: Made, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetched: list[int] = []
    real = exports.history_rows

    def counting(*args: Any, **kwargs: Any) -> Iterator[tuple[Any, ...]]:
        for row in real(*args, **kwargs):
            fetched.append(1)
            yield row

    monkeypatch.setattr(exports, "history_rows", counting)
    monkeypatch.setattr(export_files, "CHUNK_CHARS", 200)
    chunks = exports.export_histories(session, period(), ExportFormat.CSV, batch_size=2)
    first = next(chunks)
    assert len(fetched) < len(expected(session, made))  # lazy: not all read for one chunk
    rest = list(chunks)
    assert len(rest) > 3
    records = ours(parse_csv((first + b"".join(rest)).decode("utf-8")), made)
    assert [(r["tracking_code"], int(r["seq"])) for r in records] == expected(session, made)


def test_fetched_through_a_cursor_that_streams(session: Session, made: Made) -> None:
    """PostgreSQL: a named (server-side) psycopg cursor; SQLite: yield_per's lazy fetchmany."""
    seen: list[tuple[str, dict[str, Any]]] = []

    def capture(
        _conn: Any, cursor: Any, statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        if "history_events" in statement and "tracking_code" in statement:
            seen.append((type(cursor).__name__, dict(context.execution_options)))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", capture)
    try:
        rows = exports.history_rows(session, period(), batch_size=2)
        next(rows)
        rows.close()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    [(cursor, options)] = seen
    assert options.get("yield_per") == 2 and options.get("stream_results") is True
    if on_postgresql():
        assert cursor == "ServerCursor"


# --- the API --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("export_format", "media_type"),
    [("csv", "text/csv; charset=utf-8"), ("jsonl", "application/x-ndjson")],
)
@pytest.mark.parametrize("username", ["auditor", "admin"])
def test_api_streams_the_histories(
    client: TestClient,
    session: Session,
    made: Made,
    monkeypatch: pytest.MonkeyPatch,
    username: str,
    export_format: str,
    media_type: str,
) -> None:
    monkeypatch.setattr(api.routes.exports, "BATCH_SIZE", 2)  # many fetches in one response
    response = client.get(
        "/api/v1/exports/histories",
        params={**QUERY, "format": export_format},
        headers=as_user(client, username),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == media_type
    assert response.headers["content-disposition"] == (
        f'attachment; filename="histories_2033-03-01_2033-04-01.{export_format}"'
    )
    parse = parse_csv if export_format == "csv" else parse_jsonl
    records = ours(parse(response.content.decode("utf-8")), made)
    assert [(r["tracking_code"], int(r["seq"])) for r in records] == expected(session, made)


def test_api_keeps_the_session_open_until_the_last_row(
    app: FastAPI, client: TestClient, made: Made, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastAPI must close the request's session after the body, not before it."""
    log: list[str] = []
    real = exports.history_rows

    def tracked_session() -> Iterator[Session]:
        with Session(get_engine(), expire_on_commit=False) as session:
            yield session
        log.append("closed")

    def logged(*args: Any, **kwargs: Any) -> Iterator[tuple[Any, ...]]:
        for row in real(*args, **kwargs):
            log.append("row")
            yield row

    monkeypatch.setattr(exports, "history_rows", logged)
    monkeypatch.setattr(export_files, "CHUNK_CHARS", 100)
    monkeypatch.setattr(api.routes.exports, "BATCH_SIZE", 2)
    headers = as_user(client, "auditor")
    app.dependency_overrides[get_session] = tracked_session
    try:
        response = client.get("/api/v1/exports/histories", params=QUERY, headers=headers)
    finally:
        app.dependency_overrides.pop(get_session)
    assert response.status_code == 200
    rows = len(parse_csv(response.text))
    assert rows >= len(made) and log.count("row") == rows
    assert log[-1] == "closed" and log.count("closed") == 1


@pytest.mark.parametrize(
    "username", ["coordinator", "handler.phuxuan", "supervisor.ioc", "operator"]
)
def test_api_refuses_other_staff(client: TestClient, username: str) -> None:
    response = client.get(
        "/api/v1/exports/histories", params=QUERY, headers=as_user(client, username)
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert "auditor" in response.json()["detail"]


def test_api_needs_a_token(client: TestClient) -> None:
    response = client.get("/api/v1/exports/histories", params=QUERY)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    citizen = client.get(
        "/api/v1/exports/histories", params=QUERY, headers={"X-Citizen-Key": "anything"}
    )
    assert citizen.status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2033-13-01", "to": "2033-04-01"}, "from"),
        ({"from": "March", "to": "2033-04-01"}, "from"),
        ({"from": "2033-03-01"}, "to"),
        ({"from": "2033-04-01", "to": "2033-03-01"}, "to"),
        ({"from": "2033-03-01", "to": "2033-03-01"}, "to"),
        ({"from": "0001-01-01", "to": "2033-03-01"}, "from"),
        ({**QUERY, "format": "xml"}, "format"),
    ],
)
def test_api_invalid_input_is_422(client: TestClient, params: dict[str, str], field: str) -> None:
    response = client.get(
        "/api/v1/exports/histories", params=params, headers=as_user(client, "auditor")
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == [field]


# --- the command line -----------------------------------------------------------------------


@pytest.mark.parametrize("export_format", ["csv", "jsonl"])
def test_cli_writes_a_file(
    database_url: str, session: Session, made: Made, tmp_path: Path, export_format: str
) -> None:
    target = tmp_path / f"histories.{export_format}"
    result = CliRunner().invoke(
        cli,
        [*HISTORIES, "--format", export_format, "--output", str(target)],
    )
    assert result.exit_code == 0, result.output
    assert "history rows (from 1 March 2033 to 31 March 2033, inclusive) to " in result.output
    assert f"to {target} (" in result.output
    assert not target.with_name(target.name + ".partial").exists()
    parse = parse_csv if export_format == "csv" else parse_jsonl
    records = ours(parse(target.read_text(encoding="utf-8")), made)
    assert [(r["tracking_code"], int(r["seq"])) for r in records] == expected(session, made)


def test_cli_writes_to_stdout_by_default(database_url: str, made: Made) -> None:
    result = CliRunner().invoke(cli, HISTORIES)
    assert result.exit_code == 0, result.output
    assert len(ours(parse_csv(result.stdout), made)) > 0


@pytest.mark.parametrize(
    "options",
    [
        ["--from", "2033-04-01", "--to", "2033-03-01"],
        ["--from", "2033-03-01", "--to", "2033-04-01", "--format", "xml"],
        ["--from", "1 March", "--to", "2033-04-01"],
        ["--from", "31/02/2033"],
    ],
)
def test_cli_refuses_bad_options(database_url: str, options: list[str]) -> None:
    result = CliRunner().invoke(cli, ["export", "histories", *options])
    assert result.exit_code == 2, result.output


# --- reports --------------------------------------------------------------------------------

# Received in local March 2033: all but "before" (February) and "at_end" (April).
MARCH_COHORT = 6


def test_report_rows_then_total(session: Session, made: Made) -> None:
    query = ReportQuery.parse("2033-03", "2033-03", ["month"])
    report = build_report(session, query, END)
    columns = exports.report_columns(report)
    assert columns[:3] == ("row", "month", "received")
    assert "process_median_hours" in columns and "satisfaction_pct" in columns
    text = joined(exports.export_report(report, ExportFormat.CSV))
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [row["row"] for row in rows] == ["group", "total"]
    march, total = rows
    assert march["month"] == "2033-03" and total["month"] == ""
    for row in (march, total):
        assert int(row["received"]) == MARCH_COHORT
        assert int(row["processed"]) == 1 and int(row["rated"]) == 1
        assert float(row["satisfaction_pct"]) == 100.0
        assert int(row["accept_finished"]) == 2  # accepted once, returned once
    assert march["rejected"] == "0" and march["reopen_rate_pct"] == "0.0"


def test_report_jsonl_by_category_keeps_vietnamese(session: Session, made: Made) -> None:
    query = ReportQuery.parse("2033-03", None, ["category", "month"])
    report = build_report(session, query, END)
    body = b"".join(exports.export_report(report, ExportFormat.JSONL))
    lines = [json.loads(line) for line in body.decode("utf-8").splitlines()]
    assert [tuple(line) for line in lines] == [exports.report_columns(report)] * len(lines)
    assert tuple(lines[0])[:4] == ("row", "category_code", "category_name", "month")
    named = [line for line in lines if line["category_code"]]
    assert named and all(not line["category_name"].isascii() for line in named)
    assert named[0]["category_name"].encode() in body  # raw UTF-8, not \\u escapes
    unclassified = [line for line in lines if line["row"] == "group" and not line["category_code"]]
    assert sum(line["received"] for line in named + unclassified) == MARCH_COHORT
    assert lines[-1]["row"] == "total" and lines[-1]["category_code"] is None


def test_group_names_as_typed() -> None:
    assert exports.group_names(None) is None
    assert exports.group_names(["month", "category, level"]) == ["month", "category", "level"]
    assert exports.group_names([""]) == []


@pytest.mark.parametrize("export_format", ["csv", "jsonl"])
def test_api_exports_the_report(client: TestClient, made: Made, export_format: str) -> None:
    response = client.get(
        "/api/v1/exports/reports",
        params={"from": "2033-01", "to": "2033-03", "group_by": "month", "format": export_format},
        headers=as_user(client, "auditor"),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == (
        f'attachment; filename="report_2033-01_2033-03.{export_format}"'
    )
    if export_format == "csv":
        rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    else:
        rows = [json.loads(line) for line in response.text.splitlines()]
    by_month = {row["month"]: int(row["received"]) for row in rows if row["row"] == "group"}
    assert by_month["2033-03"] == MARCH_COHORT and by_month["2033-02"] >= 1  # "before"
    assert rows[-1]["row"] == "total"


def test_api_report_without_groups_is_the_total(client: TestClient, made: Made) -> None:
    response = client.get(
        "/api/v1/exports/reports",
        params={"from": "2033-03", "group_by": "", "format": "jsonl"},
        headers=as_user(client, "admin"),
    )
    assert response.status_code == 200, response.text
    [total] = [json.loads(line) for line in response.text.splitlines()]
    assert total["row"] == "total" and total["received"] == MARCH_COHORT


@pytest.mark.parametrize(("username", "status"), [("coordinator", 403), ("handler.hepco", 403)])
def test_api_report_refuses_other_staff(client: TestClient, username: str, status: int) -> None:
    response = client.get(
        "/api/v1/exports/reports", params={"from": "2033-03"}, headers=as_user(client, username)
    )
    assert response.status_code == status
    assert client.get("/api/v1/exports/reports", params={"from": "2033-03"}).status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2033-3"}, "from"),
        ({"from": "March"}, "from"),
        ({"from": "2033-03", "to": "2033-01"}, "to"),
        ({"from": "2033-03", "group_by": "street"}, "group_by"),
        ({"from": "2033-03", "group_by": "month,month"}, "group_by"),
        ({"from": "2033-03", "handling_unit": "NOPE"}, "handling_unit"),
        ({"from": "2033-03", "format": "xml"}, "format"),
        ({}, "from"),
    ],
)
def test_api_report_invalid_input_is_422(
    client: TestClient, params: dict[str, str], field: str
) -> None:
    response = client.get(
        "/api/v1/exports/reports", params=params, headers=as_user(client, "auditor")
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == [field]


def test_cli_exports_the_report(database_url: str, made: Made, tmp_path: Path) -> None:
    target = tmp_path / "report.jsonl"
    options = ["--from", "2033-03", "--group-by", "month", "--format", "jsonl", "-o", str(target)]
    result = CliRunner().invoke(cli, ["export", "report", *options])
    assert result.exit_code == 0, result.output
    assert "Wrote 2 report rows (reflections received in March 2033) to " in result.output
    lines = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert [line["row"] for line in lines] == ["group", "total"]
    assert lines[0]["month"] == "2033-03" and lines[0]["received"] == MARCH_COHORT
    refused = CliRunner().invoke(cli, ["export", "report", "--from", "2033-03", "--level", "x"])
    assert refused.exit_code == 2 and "level" in refused.output
