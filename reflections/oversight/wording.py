"""History rows in people's words, for auditors' pages and exports.

A row's payload holds database ids and UTC instants, the forms the hash chain covers
(``administrative_unit_id: 11; due_at: 2026-12-08T03:21:00+00:00``). Auditors read "Giao cho
UBND phường Phú Xuân; hạn nhận xử lý 08/12/2026 10:21": names instead of ids, Vietnam time
instead of UTC. The words are in ``words/<language>.json`` (Vietnamese and English).
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from reflections.models import AdministrativeUnit, Category, HandlingUnit, User
from reflections.organisation.names import short_name
from reflections.platform.settings import get_settings

WORDS = Path(__file__).parent / "words"
LANGUAGES = ("vi", "en")
_UNIT_IDS = ("handling_unit_id", "from_unit_id", "suggested_unit_id")
_AREA_IDS = ("administrative_unit_id", "to_administrative_unit_id")


@cache
def words(language: str) -> dict[str, str]:
    chosen = language if language in LANGUAGES else "vi"
    table: dict[str, str] = json.loads((WORDS / f"{chosen}.json").read_text("utf-8"))
    return table


def say(language: str, key: str, **values: Any) -> str:
    text = words(language).get(key) or words("vi").get(key) or key
    return text.format(**values) if values else text


def local_text(value: datetime | str | None, seconds: bool = False) -> str:
    """An instant as people in Huế read it: ``08/12/2026 10:21``."""
    if value is None:
        return ""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = instant.astimezone(ZoneInfo(get_settings().time_zone))
    return local.strftime("%d/%m/%Y %H:%M:%S" if seconds else "%d/%m/%Y %H:%M")


def local_iso(value: datetime) -> str:
    """An instant in Vietnam time with its offset, for files: ``2026-12-07 09:47:16+07:00``."""
    local = value.astimezone(ZoneInfo(get_settings().time_zone))
    return local.isoformat(sep=" ", timespec="seconds")


@dataclass
class Names:
    """The units, areas, categories and people a set of history rows names by id."""

    units: dict[int, HandlingUnit] = field(default_factory=dict)
    areas: dict[int, AdministrativeUnit] = field(default_factory=dict)
    categories: dict[int, Category] = field(default_factory=dict)
    users: dict[int, User] = field(default_factory=dict)

    def unit(self, unit_id: Any, language: str) -> str:
        unit = self.units.get(unit_id) if isinstance(unit_id, int) else None
        if unit is None:
            return say(language, "detail.unknown_unit")
        return unit.name_en if language == "en" else short_name(unit.name)

    def area(self, area_id: Any, language: str) -> str:
        area = self.areas.get(area_id) if isinstance(area_id, int) else None
        if area is None:
            return "—"
        return area.name_en if language == "en" else area.name

    def category(self, category_id: Any, language: str) -> str:
        category = self.categories.get(category_id) if isinstance(category_id, int) else None
        if category is None:
            return "—"
        return category.name_en if language == "en" else category.name_vi

    def person(self, user_id: Any) -> str:
        user = self.users.get(user_id) if isinstance(user_id, int) else None
        return user.full_name if user else "—"


def names_for(
    session: Session, payloads: Iterable[Mapping[str, Any]], user_ids: Iterable[int | None] = ()
) -> Names:
    """One query per table for every id these payloads (and ``user_ids``) name."""
    units: set[Any] = set()
    areas: set[Any] = set()
    categories: set[Any] = set()
    users: set[Any] = {u for u in user_ids if u}
    for payload in payloads:
        units |= {payload.get(key) for key in _UNIT_IDS}
        areas |= {payload.get(key) for key in _AREA_IDS}
        categories.add(payload.get("category_id"))
        users.add(payload.get("assignee_user_id"))

    def rows(table: Any, ids: set[Any]) -> dict[int, Any]:
        wanted = {i for i in ids if isinstance(i, int)}
        if not wanted:
            return {}
        return {r.id: r for r in session.exec(select(table).where(col(table.id).in_(wanted)))}

    return Names(
        rows(HandlingUnit, units),
        rows(AdministrativeUnit, areas),
        rows(Category, categories),
        rows(User, users),
    )


def describe(event: str, payload: Mapping[str, Any], names: Names, language: str) -> str:
    """What a history row changed, in words: "Giao cho UBND phường Phú Xuân; hạn nhận xử lý
    08/12/2026 10:21". Empty when the row carries nothing beyond its event and reason."""
    p, lang = payload, language
    due = local_text(p.get("due_at"))
    if event == "classify":
        priority = say(lang, f"priority.{p.get('priority')}") if p.get("priority") else "—"
        category = names.category(p.get("category_id"), lang)
        ward = names.area(p.get("administrative_unit_id"), lang)
        return say(lang, "detail.classify", category=category, priority=priority, ward=ward)
    if event in ("assign", "reassign"):
        key = (
            "detail.reassign" if event == "reassign" and p.get("from_unit_id") else "detail.assign"
        )
        unit, before = (
            names.unit(p.get("handling_unit_id"), lang),
            names.unit(p.get("from_unit_id"), lang),
        )
        return say(lang, key, unit=unit, from_unit=before, due=due)
    if event == "accept":
        if p.get("assignee_user_id"):
            assignee = names.person(p.get("assignee_user_id"))
            return say(lang, "detail.accept_assignee", due=due, assignee=assignee)
        return say(lang, "detail.accept", due=due)
    if event == "return":
        before = names.unit(p.get("from_unit_id"), lang)
        if p.get("suggested_unit_id"):
            suggested = names.unit(p.get("suggested_unit_id"), lang)
            return say(
                lang, "detail.return_suggests", from_unit=before, suggested=suggested, due=due
            )
        return say(lang, "detail.return", from_unit=before, due=due)
    if event == "request_extension":
        return say(lang, "detail.request_extension", new_due=local_text(p.get("new_due_at")))
    if event == "grant_extension":
        step = say(lang, f"step.{p.get('step')}") if p.get("step") else ""
        return say(
            lang,
            "detail.grant_extension",
            step=step,
            previous=local_text(p.get("previous_due_at")),
            new_due=local_text(p.get("new_due_at")),
        )
    if event == "deny_extension":
        return say(lang, "detail.deny_extension", requested=local_text(p.get("requested_due_at")))
    if event == "process":
        return say(lang, "detail.process", confirm_due=local_text(p.get("confirm_due_at")))
    if event in ("send_back", "reopen") and due:
        return say(lang, f"detail.{event}", due=due)
    if event == "confirm":
        if p.get("rating") is None:
            return say(lang, "detail.confirm_system")
        return say(lang, "detail.confirm", rating=p.get("rating"))
    if event == "reject" and p.get("duplicate_of"):
        return say(lang, "detail.reject_duplicate", code=p.get("duplicate_of"))
    if event == "escalate":
        area = names.area(p.get("to_administrative_unit_id"), lang)
        return say(lang, "detail.escalate", area=area, level=p.get("escalation_level", ""))
    if event == "note" and p.get("notify"):
        return say(lang, "detail.note_notify")
    if event == "take":
        return say(lang, "detail.take", assignee=names.person(p.get("assignee_user_id")))
    return ""
