"""Exports people open: Vietnam time with its offset, actors' names, what each row changed in
words; CSV that Excel reads (UTF-8 byte order mark, Vietnamese headers); XLSX workbooks, read
back with openpyxl and checked cell by cell against the CSV of the same rows.

One reflection is driven through the service in April 2034 (local time), a month no other test
writes to.
"""

import csv
import io
from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from reflections.actors import Actor
from reflections.lifecycle.service import EventInput, apply_event
from reflections.models import AdministrativeUnit, Category, HandlingUnit, Reflection, User
from reflections.models.enums import LifecycleEvent, Priority, Role
from reflections.oversight import exports
from reflections.oversight.export_files import ExportFormat, FileOptions, Headers
from reflections.oversight.exports import HISTORY_COLUMNS
from reflections.oversight.report_types import ReportQuery
from reflections.oversight.reports import build_report
from reflections.platform import clock
from tests.api_helpers import as_user
from tests.lifecycle_helpers import new_reflection

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
START = datetime(2034, 4, 1, tzinfo=ZONE)
E = LifecycleEvent


@pytest.fixture(scope="module")
def assigned(engine: Engine) -> Reflection:
    """Classified by coordinator2 at 09:47 on 3 April 2034, assigned to Phú Xuân's committee."""
    with Session(engine, expire_on_commit=False) as session:
        user = session.exec(select(User).where(User.username == "coordinator2")).one()
        actor = Actor(Role.COORDINATOR, user_id=user.id)
        ward = session.exec(
            select(AdministrativeUnit).where(AdministrativeUnit.code == "46.W19768")
        ).one()
        category = session.exec(select(Category).where(Category.code == "urban_order")).one()
        committee = session.exec(
            select(HandlingUnit).where(HandlingUnit.code == "UBND.46.W19768")
        ).one()
        with clock.frozen_at(START + timedelta(days=2, hours=9, minutes=40)):
            reflection = new_reflection(session, "Vỉa hè bị lấn chiếm trước số 7")
        assert reflection.id is not None
        with clock.frozen_at(START + timedelta(days=2, hours=9, minutes=47)):
            data = EventInput(
                category_id=category.id,
                priority=Priority.NORMAL,
                administrative_unit_id=ward.id,
            )
            apply_event(session, reflection.id, E.CLASSIFY, actor, data)
            data = EventInput(handling_unit_id=committee.id)
            return apply_event(session, reflection.id, E.ASSIGN, actor, data)


def _text(chunks: Iterable[bytes]) -> str:
    return b"".join(chunks).decode("utf-8")


def _mine(rows: list[dict[str, str]], reflection: Reflection) -> list[dict[str, str]]:
    return [row for row in rows if row["tracking_code"] == reflection.tracking_code]


def test_history_rows_speak_of_people_and_local_time(
    session: Session, assigned: Reflection
) -> None:
    period = exports.days(START.date(), (START + timedelta(days=30)).date())
    text = _text(exports.export_histories(session, period, ExportFormat.CSV))
    rows = _mine(list(csv.DictReader(io.StringIO(text, newline=""))), assigned)
    assert [row["event"] for row in rows] == ["submit", "classify", "assign"]
    classify, assign = rows[1], rows[2]
    assert classify["occurred_at_local"] == "2034-04-03 09:47:00+07:00"
    assert classify["occurred_at"].startswith("2034-04-03T02:47:00")  # UTC, as hashed
    assert (classify["actor_name"], classify["actor"]) == ("Lê Quang Minh", "coordinator2")
    assert classify["event_name"] == "Phân loại"
    assert classify["details"] == (
        "Lĩnh vực Trật tự đô thị; tính chất thông thường; Phường Phú Xuân"
    )
    assert assign["details"].startswith("Giao cho UBND phường Phú Xuân; hạn nhận xử lý ")
    assert rows[0]["actor_name"] == "Người dân"  # a citizen is never named


def test_csv_for_excel_with_the_byte_order_mark_and_vietnamese_headers(
    session: Session, assigned: Reflection
) -> None:
    period = exports.days(START.date(), (START + timedelta(days=30)).date())
    options = FileOptions(bom=True, headers=Headers.VI)
    text = _text(exports.export_histories(session, period, ExportFormat.CSV, options=options))
    assert text.startswith("\ufeffMã phản ánh,STT,Thời điểm (giờ Việt Nam),Mã sự kiện,Sự kiện,")
    assert text.encode("utf-8")[:3] == b"\xef\xbb\xbf"
    english = FileOptions(headers=Headers.EN)
    text = _text(exports.export_histories(session, period, ExportFormat.CSV, options=english))
    assert text.startswith("Tracking code,No.,When (Vietnam time),Event code,Event,")
    assert "Assigned to People's Committee of Phú Xuân Ward" in text  # words in English too


def test_an_xlsx_history_holds_the_csvs_cells(session: Session, assigned: Reflection) -> None:
    period = exports.days(START.date(), (START + timedelta(days=30)).date())
    csv_rows = list(
        csv.reader(io.StringIO(_text(exports.export_histories(session, period, ExportFormat.CSV))))
    )
    chunks = exports.export_histories(session, period, ExportFormat.XLSX, batch_size=1)
    book = openpyxl.load_workbook(io.BytesIO(b"".join(chunks)))
    sheet = book.active
    assert sheet is not None and sheet.title == "Lịch sử"
    cells = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert cells[0] == list(HISTORY_COLUMNS)
    assert len(cells) == len(csv_rows)
    for written, expected in zip(cells[1:], csv_rows[1:], strict=True):
        for value, text in zip(written, expected, strict=True):
            if isinstance(value, int | float):
                assert float(text) == value  # seq: a number, not text
            else:
                assert (value or "") == text
    seq = HISTORY_COLUMNS.index("seq")
    assert all(isinstance(row[seq], int) for row in cells[1:])


def test_an_xlsx_report_has_numbers_and_its_total(session: Session, assigned: Reflection) -> None:
    query = ReportQuery.parse("2034-04", None, ["handling_unit"])
    report = build_report(session, query, START + timedelta(days=30))
    options = FileOptions(headers=Headers.VI, sheet="sheet.report")
    chunks = exports.export_report(report, ExportFormat.XLSX, options)
    book = openpyxl.load_workbook(io.BytesIO(b"".join(chunks)))
    sheet = book.active
    assert sheet is not None and sheet.title == "Báo cáo"
    cells = [list(row) for row in sheet.iter_rows(values_only=True)]
    header = cells[0]
    assert header[:4] == ["Dòng", "Mã đơn vị", "Đơn vị xử lý", "Tiếp nhận"]
    assert "Bước xử lý: tỷ lệ đúng hạn (%)" in header
    received = header.index("Tiếp nhận")
    committee = next(row for row in cells[1:] if row[1] == "UBND.46.W19768")
    assert committee[0] == "nhóm" and isinstance(committee[received], int)
    assert cells[-1][0] == "tổng" and cells[-1][received] >= 1


def test_the_api_and_the_console_download_xlsx(client: TestClient, assigned: Reflection) -> None:
    query = {"from": "2034-04-01", "to": "2034-05-01", "format": "xlsx", "headers": "vi"}
    response = client.get(
        "/api/v1/exports/histories", params=query, headers=as_user(client, "auditor")
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(ExportFormat.XLSX.media_type)
    assert response.headers["content-disposition"].endswith('.xlsx"')
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = book.active
    assert sheet is not None and sheet["A1"].value == "Mã phản ánh"
    codes = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert assigned.tracking_code in codes
    refused = client.get(
        "/api/v1/exports/histories", params=query, headers=as_user(client, "coordinator")
    )
    assert refused.status_code == 403
