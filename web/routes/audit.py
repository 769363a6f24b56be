"""Auditors' and managers' pages: a reflection's timeline with its chain status, the report
dashboard with its charts, and the exports, on the API's domain functions and role checks.

- ``/console/audit``: auditors and admins (as ``api/routes/audit.py``); identity stays masked.
- ``/console/reports``: auditors, coordinators, admins, supervisors and handlers, the last two
  seeing the units in their scope (as ``api/routes/reports.py``).
- ``/console/exports/...``: auditors and admins, the same files as ``api/routes/exports.py``.
"""

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlmodel import select

from api.deps import Caller, SessionDep
from api.routes import audit as audit_api
from api.routes.exports import histories_attachment, report_attachment
from reflections.errors import InvalidInput
from reflections.models import Reflection
from reflections.models.enums import Language, Role
from reflections.oversight.exports import ExportFormat, FileOptions, Headers
from reflections.oversight.report_types import ReportQuery
from reflections.oversight.wording import describe, names_for
from reflections.timekeeping.deadlines import Step
from web import dashboard, forms
from web.field_errors import field_errors
from web.local_dates import month_text, parse_month
from web.session import staff_with_role
from web.templating import render, translator

router = APIRouter(include_in_schema=False)
Auditor = Annotated[Caller, Depends(staff_with_role(Role.AUDITOR, Role.ADMIN))]
ReportReader = Annotated[
    Caller,
    # As the reports API: handlers and supervisors see their own units' figures only.
    Depends(
        staff_with_role(Role.AUDITOR, Role.COORDINATOR, Role.ADMIN, Role.SUPERVISOR, Role.HANDLER)
    ),
]
EXPORTERS = frozenset({Role.AUDITOR, Role.ADMIN})
HASH_SHOWN = 12  # characters of a hash shown in the timeline (the full one in its title)

CodeParam = Annotated[str | None, Query(max_length=64)]


# -- the auditor's timeline ------------------------------------------------------------------


@router.get("/console/audit", response_class=HTMLResponse)
def lookup(
    request: Request, session: SessionDep, _caller: Auditor, code: CodeParam = None
) -> Response:
    """The code lookup; with ``?code=`` straight to that reflection's timeline, or the form
    again saying no reflection has that code."""
    wanted = (code or "").strip().upper()
    if not wanted:
        return render(request, "audit/lookup.html", {"code": ""})
    found = session.exec(select(Reflection.id).where(Reflection.tracking_code == wanted)).first()
    if found is not None:
        return RedirectResponse(f"/console/audit/reflections/{quote(wanted)}", 303)
    t = translator(request)
    errors = {"code": t("audit.no_such_code", code=wanted)}
    return render(request, "audit/lookup.html", {"code": wanted, "errors": errors}, 404)


@router.get("/console/audit/reflections/{tracking_code}", response_class=HTMLResponse)
def timeline(
    request: Request, session: SessionDep, caller: Auditor, tracking_code: str
) -> Response:
    """Every history row with who (name and role), when (Vietnam time with its offset), what
    and why in words, and whether the chain holds: the document of
    ``GET /api/v1/reflections/{code}/timeline`` (no reporter on it)."""
    out = audit_api.timeline(session, caller.actor, tracking_code)
    broken = out.chain.problem
    language = translator(request).language.value
    names = names_for(session, (entry.payload for entry in out.entries))
    context = {
        "timeline": out,
        "details": [describe(e.event.value, e.payload, names, language) for e in out.entries],
        "broken_seq": broken.seq if broken else None,
        "hash_shown": HASH_SHOWN,
    }
    return render(request, "audit/timeline.html", context)


# -- the report dashboard --------------------------------------------------------------------


@router.get("/console/reports", response_class=HTMLResponse)
def reports(
    request: Request,
    session: SessionDep,
    caller: ReportReader,
    month_from: Annotated[str | None, Query(alias="from", max_length=7)] = None,
    month_to: Annotated[str | None, Query(alias="to", max_length=7)] = None,
    category: CodeParam = None,
    handling_unit: CodeParam = None,
    level: Annotated[str | None, Query(max_length=32)] = None,
    step: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    """Filters, three charts with their tables, and (auditors, admins) the export links.
    A filter the report refuses gives the form back with the reason, status 422."""
    t = translator(request)
    english = t.language is Language.EN
    first, last = dashboard.default_period()
    values = {
        "from": month_from or month_text(first),
        "to": month_to or month_from or month_text(last),
        "category": category or "",
        "handling_unit": handling_unit or "",
        "level": level or "",
        "step": step or Step.PROCESS.value,
    }
    context: dict[str, Any] = {
        "values": values,
        "categories": forms.categories(session, english),
        "units": dashboard.unit_choices(session, caller.actor, english),
        "levels": dashboard.levels(session),
        "steps": [s.value for s in dashboard.UNIT_STEPS],
        "can_export": caller.actor.role in EXPORTERS,
    }
    try:
        chosen_step = _unit_step(values["step"])
        query = ReportQuery.parse(
            parse_month(values["from"], "from"),
            parse_month(values["to"], "to"),
            handling_unit=values["handling_unit"],
            category=values["category"],
            level=values["level"],
        )
        board = dashboard.build(
            session,
            caller.actor,
            query,
            chosen_step,
            english=english,
            no_category=t("reports.no_category"),
        )
    except InvalidInput as error:
        context["errors"] = field_errors(error, t, {"month_from": "from", "month_to": "to"})
        return render(request, "audit/reports.html", context, 422)
    context |= {"board": board, "exports": _export_links(query, t.language.value)}
    return render(request, "audit/reports.html", context)


def _unit_step(value: str) -> Step:
    step = next((s for s in dashboard.UNIT_STEPS if s.value == value), None)
    if step is None:
        raise InvalidInput("step", f"{value!r} is not one of accept, process")
    return step


def _export_links(query: ReportQuery, language: str) -> dict[str, str]:
    """The dashboard's downloads: the report with its filters, the histories of its months;
    for Excel (CSV with the byte order mark and headers in the page's language, or XLSX),
    and JSON lines for other programs."""
    filters = {
        "from": str(query.month_from),
        "to": str(query.month_to),
        "handling_unit": query.handling_unit or "",
        "category": query.category or "",
        "level": query.level or "",
    }
    report = {key: value for key, value in filters.items() if value}
    days = {
        "from": query.month_from.first_day().isoformat(),
        "to": query.month_to.next().first_day().isoformat(),
    }
    for_people = {"headers": language}
    kinds = {
        "csv": {"format": "csv", "bom": "true"} | for_people,
        "xlsx": {"format": "xlsx"} | for_people,
        "jsonl": {"format": "jsonl"},
    }
    links = {}
    for name, options in kinds.items():
        links[f"report-{name}"] = f"/console/exports/reports?{urlencode(report | options)}"
        links[f"histories-{name}"] = f"/console/exports/histories?{urlencode(days | options)}"
    return links


# -- exports ---------------------------------------------------------------------------------


FormatParam = Annotated[ExportFormat, Query(alias="format")]
BomParam = Annotated[bool, Query()]
HeadersParam = Annotated[Headers, Query()]


@router.get("/console/exports/histories")
def export_histories(
    session: SessionDep,
    _caller: Auditor,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
    export_format: FormatParam = ExportFormat.CSV,
    bom: BomParam = False,
    headers: HeadersParam = Headers.CODES,
) -> StreamingResponse:
    """As ``GET /api/v1/exports/histories``: every history row of [from, to), streamed."""
    options = FileOptions(bom=bom, headers=headers)
    return histories_attachment(session, start, end, export_format, options)


@router.get("/console/exports/reports")
def export_report(
    session: SessionDep,
    _caller: Auditor,
    month_from: Annotated[str, Query(alias="from", max_length=7)],
    month_to: Annotated[str | None, Query(alias="to", max_length=7)] = None,
    group_by: Annotated[list[str] | None, Query(max_length=4)] = None,
    handling_unit: CodeParam = None,
    category: CodeParam = None,
    level: Annotated[str | None, Query(max_length=32)] = None,
    export_format: FormatParam = ExportFormat.CSV,
    bom: BomParam = False,
    headers: HeadersParam = Headers.CODES,
) -> StreamingResponse:
    """As ``GET /api/v1/exports/reports``: the report's rows and its total, streamed."""
    filters = {"handling_unit": handling_unit, "category": category, "level": level}
    options = FileOptions(bom=bom, headers=headers, sheet="sheet.report")
    return report_attachment(
        session, export_format, month_from, month_to, group_by, options, **filters
    )
