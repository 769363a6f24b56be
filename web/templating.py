"""Rendering pages: one Jinja2 environment with the page's language, caller and CSRF token."""

import secrets
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.idempotency import QUERY_PARAMETER
from api.schemas import ReflectionView, UnitRef
from reflections.organisation.names import short_name
from reflections.platform.settings import get_settings
from web.durations import time_left
from web.i18n import Translator, language_of
from web.local_dates import month_text
from web.session import CSRF_COOKIE, LANGUAGE_COOKIE, cookie_options, csrf_token

TEMPLATES = Path(__file__).parent / "templates"
VIETNAM_CODE = 84


@cache
def templates() -> Jinja2Templates:
    environment = Jinja2Templates(directory=TEMPLATES)
    environment.env.filters["local"] = local_time
    environment.env.filters["local_offset"] = local_with_offset
    environment.env.filters["short_unit"] = short_unit
    environment.env.filters["short_name"] = short_name
    environment.env.filters["phone_display"] = phone_display
    environment.env.filters["month_text"] = month_text
    environment.env.globals["time_left"] = step_time_left
    environment.env.globals["keyed"] = keyed
    return environment


def keyed(action: str) -> str:
    """A form's action with an Idempotency-Key of its own (forms cannot send headers): sent
    twice, by a double click or a resubmission after a lost answer, it acts once."""
    joiner = "&" if "?" in action else "?"
    return f"{action}{joiner}{QUERY_PARAMETER}={secrets.token_urlsafe(18)}"


def local_time(value: datetime | None, with_time: bool = True) -> str:
    """UTC instants as the city reads them (DESIGN.md §8: Asia/Ho_Chi_Minh on screens)."""
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(get_settings().time_zone))
    return local.strftime("%d/%m/%Y %H:%M" if with_time else "%d/%m/%Y")


def local_with_offset(value: datetime | None) -> str:
    """An instant for auditors: local time to the second, with the zone's offset."""
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(get_settings().time_zone))
    offset = local.strftime("%z")
    return f"{local:%d/%m/%Y %H:%M:%S} (UTC{offset[:3]}:{offset[3:]})"


def phone_display(value: str) -> str:
    """A stored number as clerks dial it: "+84905123456" -> "0905 123 456"."""
    try:
        number = phonenumbers.parse(value, "VN")
    except phonenumbers.NumberParseException:
        return value
    if number.country_code != VIETNAM_CODE:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def short_unit(unit: UnitRef | None, lang: str) -> str:
    """A unit's name as offices write it: "UBND phường Phú Xuân" (English: as it is)."""
    if unit is None:
        return ""
    return unit.name_en if lang == "en" else short_name(unit.name)


def step_time_left(view: ReflectionView, t: Translator) -> str:
    """The running step's time left in working days (clock time around the clock), with its
    deadline: "còn 5 ngày làm việc (hạn 14/12/2026 09:51)"."""
    deadlines = view.deadlines
    step = deadlines.step
    due = getattr(deadlines, f"{step}_due_at", None) if step else None
    return time_left(deadlines.remaining_minutes, deadlines.around_the_clock, local_time(due), t)


def translator(request: Request) -> Translator:
    return Translator(language_of(request.cookies.get(LANGUAGE_COOKIE)))


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    t = translator(request)
    values = {
        "t": t,
        "lang": t.language.value,
        "csrf": csrf_token(request),
        "staff": getattr(request.state, "staff", None),
        "errors": {},  # field errors (web/field_errors.py), each shown beside its input
        **(context or {}),
    }
    response = templates().TemplateResponse(request, template, values, status_code=status_code)
    new_csrf = getattr(request.state, "new_csrf", None)
    if new_csrf and not request.cookies.get(CSRF_COOKIE):
        response.set_cookie(CSRF_COOKIE, new_csrf, **cookie_options())
    return response
