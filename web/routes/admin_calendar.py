"""The administrators' working calendar page: a year at a glance, set or remove a day, and who
changed what and when. The same domain functions as ``/api/v1/admin/calendar``."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from api.deps import Caller, SessionDep
from api.routes.admin.calendar import calendar_day_views
from reflections.errors import DomainError, InvalidInput
from reflections.models.enums import CalendarDayKind, Language, Role
from reflections.platform import clock
from reflections.platform.settings import get_settings
from reflections.timekeeping import calendar_days
from reflections.timekeeping.calendar_year import year_overview
from web.i18n import Translator
from web.session import CsrfChecked, staff_with_role
from web.templating import render, translator

router = APIRouter(include_in_schema=False)
PATH = "/console/calendar"
Admin = Annotated[Caller, Depends(staff_with_role(Role.ADMIN))]


def _page(
    request: Request,
    session: Session,
    year: int,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    language = translator(request).language
    overview = year_overview(session, year, "en" if language is Language.EN else "vi")
    context = {
        "year": year,
        "overview": overview,
        "history": calendar_day_views(
            session, calendar_days.rows_of_year(session, year, current_only=False)
        ),
        "delay_minutes": max(1, round(get_settings().calendar_refresh_seconds / 60)),
        "values": values or {},
        "error": error,
        "done": request.query_params.get("done"),
    }
    return render(request, "admin/calendar.html", context, status)


def _year(text: str | None) -> int:
    today = clock.now().year
    if (
        text
        and text.isascii()
        and text.isdigit()
        and len(text) <= 4
        and calendar_days.FIRST_YEAR <= int(text) <= calendar_days.LAST_YEAR
    ):
        return int(text)
    return today


@router.get(PATH, response_class=HTMLResponse)
def calendar_page(
    request: Request, session: SessionDep, caller: Admin, year: str | None = None
) -> Response:
    return _page(request, session, _year(year))


@router.post(PATH, dependencies=[CsrfChecked])
def set_day(
    request: Request,
    session: SessionDep,
    caller: Admin,
    day: Annotated[str, Form(max_length=10)],
    kind: Annotated[str, Form(max_length=16)],
    note: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    values = {"day": day, "kind": kind, "note": note}
    t = translator(request)
    try:
        when = _date(day)
        choice = _kind(kind)
        calendar_days.set_day(session, when, choice, note, caller.actor.user_id, clock.now())
    except DomainError as error:
        year = _year(day[:4])
        return _page(request, session, year, _explain(t, error), values, _status(error))
    return RedirectResponse(f"{PATH}?year={when.year}&done=set", 303)


@router.post(PATH + "/{day}/remove", dependencies=[CsrfChecked])
def remove_day(request: Request, session: SessionDep, caller: Admin, day: str) -> Response:
    when = _date(day)
    calendar_days.remove_day(session, when, caller.actor.user_id, clock.now())
    return RedirectResponse(f"{PATH}?year={when.year}&done=removed", 303)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise calendar_days.CalendarRefused("day", "bad_date", "is not a date") from None


def _kind(text: str) -> CalendarDayKind:
    try:
        return CalendarDayKind(text)
    except ValueError:
        raise calendar_days.CalendarRefused("kind", "bad_kind", "choose a kind") from None


def _explain(t: Translator, error: DomainError) -> str:
    if isinstance(error, calendar_days.CalendarRefused):
        return t(f"calendar.error.{error.code}")
    return str(error)


def _status(error: DomainError) -> int:
    return 422 if isinstance(error, InvalidInput) else 409
