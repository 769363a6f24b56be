"""Exports of histories and reports for a period (DESIGN.md §7): auditors and admins only.

The body is streamed from the request's database session. FastAPI (0.118 and later, 0.150
here) closes a dependency with ``yield`` of the default "request" scope only after the response
has been sent, so ``SessionDep`` stays open until the last chunk is out;
tests/test_exports.py holds it to that with a body spanning many fetch batches.
Everything that can be refused is checked before the first byte: once streaming has started
the status is 200 and cannot become a problem document.
"""

from collections.abc import Iterator
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from api.deps import SessionDep, require_role
from api.problems import problem_responses
from api.routes.reports import CategoryFilter, LevelFilter, UnitFilter
from reflections.actors import Actor
from reflections.models.enums import Role
from reflections.oversight import exports
from reflections.oversight.exports import ExportFormat, FileOptions, Headers
from reflections.oversight.report_types import ReportQuery
from reflections.oversight.reports import build_report
from reflections.platform import clock

router = APIRouter(prefix="/api/v1/exports", tags=["exports"], responses=problem_responses())
AuditorOrAdmin = Annotated[Actor, Depends(require_role(Role.AUDITOR, Role.ADMIN))]
FormatQuery = Annotated[
    ExportFormat,
    Query(
        alias="format",
        description="`csv` (with a header row), `jsonl` (JSON lines) or `xlsx` (a workbook).",
    ),
]
BomQuery = Annotated[
    bool, Query(description="CSV: start with the UTF-8 byte order mark Excel needs.")
]
HeadersQuery = Annotated[
    Headers, Query(description="The header row: column ids, or names in `vi` or `en`.")
]
_FILE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file, streamed, as an attachment (Content-Disposition).",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/x-ndjson": {"schema": {"type": "string"}},
            ExportFormat.XLSX.media_type: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
# Rows per database fetch: tests lower it to make a small export span many fetches.
BATCH_SIZE = exports.DEFAULT_BATCH_SIZE


def _attachment(
    chunks: Iterator[bytes], filename: str, export_format: ExportFormat
) -> StreamingResponse:
    return StreamingResponse(
        chunks,
        media_type=export_format.media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/histories", response_class=StreamingResponse, responses=_FILE)
def histories(
    session: SessionDep,
    _actor: AuditorOrAdmin,
    start: Annotated[
        date, Query(alias="from", description="First day (local time), e.g. 2026-03-01.")
    ],
    end: Annotated[
        date, Query(alias="to", description="Day after the last one (excluded), e.g. 2026-04-01.")
    ],
    export_format: FormatQuery = ExportFormat.CSV,
    bom: BomQuery = False,
    headers: HeadersQuery = Headers.CODES,
) -> StreamingResponse:
    """Every history row that occurred in [from, to), ordered by time: tracking code, the
    instant in Vietnam time, the event, states, actor (username, name, role), reason, what
    changed in words, and for checking the chain the payload, the instant in UTC and hashes."""
    options = FileOptions(bom=bom, headers=headers)
    return histories_attachment(session, start, end, export_format, options)


def histories_attachment(
    session: Session,
    start: date,
    end: date,
    export_format: ExportFormat,
    options: FileOptions | None = None,
) -> StreamingResponse:
    """The history export as a download (the API's and the web console's)."""
    period = exports.days(start, end)
    chunks = exports.export_histories(session, period, export_format, BATCH_SIZE, options)
    return _attachment(chunks, period.filename("histories", export_format), export_format)


@router.get("/reports", response_class=StreamingResponse, responses=_FILE)
def reports(
    session: SessionDep,
    _actor: AuditorOrAdmin,
    month_from: Annotated[
        str, Query(alias="from", max_length=7, description="First month, e.g. 2026-01.")
    ],
    month_to: Annotated[
        str | None,
        Query(alias="to", max_length=7, description="Last month, included (default: from)."),
    ] = None,
    group_by: Annotated[
        list[str] | None,
        Query(
            max_length=4,
            description="handling_unit, level, category and/or month, repeated or "
            "comma-separated, in the order wanted (default: all four).",
        ),
    ] = None,
    handling_unit: UnitFilter = None,
    category: CategoryFilter = None,
    level: LevelFilter = None,
    export_format: FormatQuery = ExportFormat.CSV,
    bom: BomQuery = False,
    headers: HeadersQuery = Headers.CODES,
) -> StreamingResponse:
    """The report (reflections received in the months from..to, both included) with one row
    per group and a last `total` row; the same figures as `reflections.oversight.reports`."""
    filters = {"handling_unit": handling_unit, "category": category, "level": level}
    options = FileOptions(bom=bom, headers=headers, sheet="sheet.report")
    return report_attachment(
        session, export_format, month_from, month_to, group_by, options, **filters
    )


def report_attachment(
    session: Session,
    export_format: ExportFormat,
    month_from: str,
    month_to: str | None,
    group_by: list[str] | None,
    options: FileOptions | None = None,
    **filters: str | None,
) -> StreamingResponse:
    """The report as a download (the API's and the web console's); ``filters`` are
    ``handling_unit``, ``category`` and ``level``."""
    query = ReportQuery.parse(month_from, month_to, exports.group_names(group_by), **filters)
    report = build_report(session, query, clock.now())  # before the first byte: errors are 422
    filename = f"report_{exports.report_period(query)}.{export_format.value}"
    chunks = exports.export_report(report, export_format, options)
    return _attachment(chunks, filename, export_format)
