"""Writing exported rows as files people open: CSV (optionally with the UTF-8 byte order mark
Excel on Windows needs to read Vietnamese), JSON lines, and XLSX.

Every writer is a generator of byte chunks, so a caller streams it: CSV and JSON lines as
UTF-8 in chunks of about ``CHUNK_CHARS`` characters; XLSX through XlsxWriter's
``constant_memory`` mode (one row in memory at a time, written to a temporary file), the
finished workbook then read back in chunks of ``CHUNK_BYTES``. Column headers are the column
ids, or their names in Vietnamese or English (``words/<language>.json``).
"""

import csv
import io
import json
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import xlsxwriter

from reflections.oversight.wording import say
from reflections.timekeeping.deadlines import Step

CHUNK_CHARS = 64 * 1024  # characters per text chunk handed to the caller
CHUNK_BYTES = 64 * 1024  # bytes per chunk of a finished workbook
BOM = "\ufeff"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ExportFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"
    XLSX = "xlsx"

    @property
    def media_type(self) -> str:
        return {
            ExportFormat.CSV: "text/csv; charset=utf-8",
            ExportFormat.JSONL: "application/x-ndjson",
            ExportFormat.XLSX: XLSX_MEDIA_TYPE,
        }[self]


class Headers(StrEnum):
    """How the header row names the columns: by their ids, or in words."""

    CODES = "codes"
    VI = "vi"
    EN = "en"


@dataclass(frozen=True)
class FileOptions:
    bom: bool = False  # CSV: start with the byte order mark (Excel reads UTF-8 then)
    headers: Headers = Headers.CODES
    sheet: str = "sheet.histories"  # XLSX: the worksheet's name (a words key)

    @property
    def language(self) -> str:
        return "en" if self.headers is Headers.EN else "vi"


def header_names(columns: Sequence[str], headers: Headers) -> list[str]:
    """The header row: ids, or "Đơn vị xử lý", "Bước xử lý: tỷ lệ đúng hạn (%)", ..."""
    if headers is Headers.CODES:
        return list(columns)
    language = headers.value
    names = []
    for column in columns:
        step, _, figure = column.partition("_")
        if step in {s.value for s in Step} and figure:
            names.append(
                say(
                    language,
                    "column.step",
                    step=say(language, f"step.{step}"),
                    figure=say(language, f"column.{figure}"),
                )
            )
        else:
            names.append(say(language, f"column.{column}"))
    return names


# Built once (json.dumps with options makes an encoder per call): UTF-8 left as is.
_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def write(
    export_format: ExportFormat,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    options: FileOptions | None = None,
) -> Iterator[bytes]:
    options = options or FileOptions()
    if export_format is ExportFormat.XLSX:
        return write_xlsx(columns, rows, options)
    if export_format is ExportFormat.CSV:
        return _utf8(write_csv(columns, rows, options))
    return _utf8(write_jsonl(columns, rows))


# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets
# (OWASP "CSV injection"); tab and CR too, as some of them strip those first.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def defused(value: Any) -> Any:
    """Text a spreadsheet would run as a formula, with a ``'`` in front: shown, never run.

    Only the CSV text changes: the hash chain covers the stored values, so verifying an
    export against the database is unaffected. Numbers stay numbers (a negative number is not
    text); XLSX cells are written as strings, which spreadsheets never run.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _utf8(chunks: Iterable[str]) -> Iterator[bytes]:
    return (chunk.encode("utf-8") for chunk in chunks)


def write_csv(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], options: FileOptions | None = None
) -> Iterator[str]:
    """A header row, then one row per tuple (RFC 4180: CRLF, quotes where needed); None is an
    empty field. Values are written as they come (JSON is text by then), except that text a
    spreadsheet would run as a formula is defused (:func:`defused`)."""
    options = options or FileOptions()
    buffer = io.StringIO()
    if options.bom:
        buffer.write(BOM)
    writer = csv.writer(buffer)
    writer.writerow(header_names(columns, options.headers))
    for row in rows:
        writer.writerow([defused(value) for value in row])
        if buffer.tell() >= CHUNK_CHARS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def write_jsonl(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """One JSON object per line, keyed by the column ids in their order; None is null, dicts
    stay objects."""
    buffer: list[str] = []
    size = 0
    for row in rows:
        line = _compact(dict(zip(columns, row, strict=True))) + "\n"
        buffer.append(line)
        size += len(line)
        if size >= CHUNK_CHARS:
            yield "".join(buffer)
            buffer.clear()
            size = 0
    if buffer:
        yield "".join(buffer)


def write_xlsx(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], options: FileOptions | None = None
) -> Iterator[bytes]:
    """One worksheet: a bold header row, frozen; numbers as numbers, the rest as text."""
    options = options or FileOptions()
    with tempfile.TemporaryDirectory(prefix="reflections-xlsx-") as folder:
        path = Path(folder) / "export.xlsx"
        workbook = xlsxwriter.Workbook(
            str(path), {"constant_memory": True, "tmpdir": folder, "strings_to_numbers": False}
        )
        sheet = workbook.add_worksheet(say(options.language, options.sheet)[:31])
        bold = workbook.add_format({"bold": True})
        sheet.write_row(0, 0, header_names(columns, options.headers), bold)
        sheet.freeze_panes(1, 0)
        for index, row in enumerate(rows, start=1):
            for column, value in enumerate(row):
                _cell(sheet, index, column, value)
        workbook.close()
        with path.open("rb") as file:
            while chunk := file.read(CHUNK_BYTES):
                yield chunk


def _cell(sheet: Any, row: int, column: int, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, column, value)
    elif isinstance(value, int | float):
        sheet.write_number(row, column, value)
    elif isinstance(value, dict):
        sheet.write_string(row, column, _compact(value))
    else:
        sheet.write_string(row, column, str(value))
