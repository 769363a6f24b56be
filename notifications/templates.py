"""Render a message kind in a language from the Jinja2 files under ``templates/``.

Context values are plain (strings, numbers, lists of dicts of strings): the caller formats
dates with :func:`format_local`, so templates never see models or naive datetimes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

TEMPLATES = Path(__file__).parent / "templates"
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"

Part = Literal["sms", "subject", "text", "html"]


class MessageKind(StrEnum):
    """One template file per kind and language (DESIGN §6)."""

    RECEIVED = "received"
    ASSIGNED = "assigned"
    EXTENDED = "extended"
    PROCESSED = "processed"
    REOPENED = "reopened"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    TASK_NEW = "task_new"
    TASK_REMINDER = "task_reminder"
    TASK_ESCALATED = "task_escalated"
    EMERGENCY_RECEIVED = "emergency_received"  # to the IOC duty, at any hour
    DAILY_DIGEST = "daily_digest"
    ADMIN_DIGEST = "admin_digest"  # escalations and emergencies nobody could be told of
    EXTENSION_REQUESTED = "extension_requested"  # to the coordinators, who decide
    STAFF_NOTE = "staff_note"  # a note that asks the coordinators to act
    COORDINATOR_DIGEST = "coordinator_digest"  # results to review, extensions to decide
    SIGN_IN_CODE = "sign_in_code"  # a citizen's one-time code (issue 16), urgent


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """All four parts; the channel picks what it needs (SMS text, or subject + bodies)."""

    kind: MessageKind
    language: str
    sms: str
    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class DigestTask:
    """One open task for the daily digest; times are aware (UTC from the database)."""

    tracking_code: str
    title: str
    received_at: datetime
    due_at: datetime | None


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime: times are UTC in the database, pass them aware")
    return moment.astimezone(LOCAL_TZ)


_EN_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def format_local(moment: datetime, language: str = DEFAULT_LANGUAGE) -> str:
    """Date and time as people in Huế read them (Asia/Ho_Chi_Minh)."""
    local = _aware(moment)
    if language == "en":
        return f"{local.day} {_EN_MONTHS[local.month - 1]} {local.year}, {local:%H:%M}"
    return f"{local:%H:%M} ngày {local:%d/%m/%Y}"


def format_local_date(moment: datetime, language: str = DEFAULT_LANGUAGE) -> str:
    """The local calendar date only (a deadline day, the digest's day)."""
    local = _aware(moment)
    if language == "en":
        return f"{local.day} {_EN_MONTHS[local.month - 1]} {local.year}"
    return f"{local:%d/%m/%Y}"


def digest_tasks(
    tasks: Iterable[DigestTask], language: str = DEFAULT_LANGUAGE
) -> list[dict[str, str]]:
    """The digest's ``tasks`` context: oldest first, times formatted for the language."""
    ordered = sorted(tasks, key=lambda task: (_aware(task.received_at), task.tracking_code))
    return [
        {
            "tracking_code": task.tracking_code,
            "title": task.title,
            "received_at": format_local(task.received_at, language),
            "due_at": format_local(task.due_at, language) if task.due_at else "—",
        }
        for task in ordered
    ]


def _paragraphs(value: str) -> Markup:
    """Blank-line separated text to <p> blocks; a block that is already markup stays."""
    safe = value if isinstance(value, Markup) else escape(value)
    blocks = [block.strip() for block in re.split(r"\n\s*\n", str(safe)) if block.strip()]
    html = [
        block if block.startswith("<") else "<p>" + block.replace("\n", "<br>\n") + "</p>"
        for block in blocks
    ]
    return Markup("\n".join(html))  # every piece came from escaped Markup


@cache
def _environment(html: bool) -> Environment:
    """Two environments over the same files: escaping is right for HTML and wrong for text."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=html,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["paragraphs"] = _paragraphs
    return env


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def render(kind: MessageKind | str, language: str, context: Mapping[str, Any]) -> RenderedMessage:
    """Render every part; a variable missing from ``context`` raises UndefinedError.

    An unknown language falls back to Vietnamese, the service's default.
    """
    kind = MessageKind(kind)
    language = language if language in LANGUAGES else DEFAULT_LANGUAGE
    name = f"{language}/{kind.value}.j2"

    def part(which: Part) -> str:
        template = _environment(which == "html").get_template(name)
        return template.render({**context, "part": which, "language": language})

    return RenderedMessage(
        kind=kind,
        language=language,
        sms=_one_line(part("sms")),
        subject=_one_line(part("subject")),
        text=_tidy(part("text")),
        html=_tidy(part("html")),
    )
