"""Rendering pages: one Jinja2 environment with the page's language, caller and CSRF token."""

import secrets
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.idempotency import QUERY_PARAMETER
from reflections.platform.settings import get_settings
from web.i18n import Translator, language_of
from web.session import CSRF_COOKIE, LANGUAGE_COOKIE, cookie_options, csrf_token

TEMPLATES = Path(__file__).parent / "templates"


@cache
def templates() -> Jinja2Templates:
    environment = Jinja2Templates(directory=TEMPLATES)
    environment.env.filters["local"] = local_time
    environment.env.filters["duration"] = duration
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


def duration(minutes: int | None, t: Translator) -> str:
    """Working minutes as days, hours and minutes, with 'overdue' when negative."""
    if minutes is None:
        return ""
    left = abs(minutes)
    hours, mins = divmod(left, 60)
    text = (
        t("time.hours_minutes", hours=hours, minutes=mins)
        if hours
        else t("time.minutes", minutes=mins)
    )
    return t("time.overdue_by", time=text) if minutes < 0 else t("time.left", time=text)


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
        **(context or {}),
    }
    response = templates().TemplateResponse(request, template, values, status_code=status_code)
    new_csrf = getattr(request.state, "new_csrf", None)
    if new_csrf and not request.cookies.get(CSRF_COOKIE):
        response.set_cookie(CSRF_COOKIE, new_csrf, **cookie_options())
    return response
