"""What a staff page says after an action: the reflection, and the unit it went to.

Actions redirect (303) with ``done`` (the event, or a combined or bulk action), ``of`` (the
tracking code) and, where it applies, ``unit`` (a handling unit's code), ``n`` (how many) and
``failed`` (bulk items not done, ``CODE:reason``); the page turns them into one sentence
("Đã giao 6DWD-7N7F cho Sở Xây dựng.") so that in a list of fifty the clerk knows which.
"""

import re
from urllib.parse import urlencode

from fastapi import Request
from sqlmodel import Session, select

from reflections.models import HandlingUnit
from reflections.models.enums import Language, LifecycleEvent
from reflections.organisation.names import short_name
from web.i18n import Translator

COMBINED = ("merge", "classify_assign", "bulk_assign", "bulk_merge")
PUBLICATION = ("published", "unpublished")  # not lifecycle events: a coordinator's decision
DONE = frozenset({*(event.value for event in LifecycleEvent), *COMBINED, *PUBLICATION})
_CODE = re.compile(r"[A-Z0-9]{4}-[A-Z0-9]{4}")
_FAILED = re.compile(r"([A-Z0-9]{4}-[A-Z0-9]{4}):([a-z_]{1,40})")
FAILURES = ("conflict", "not_allowed", "missing_classification", "invalid", "forbidden")


def done_query(done: str, code: str, **extra: str | int | None) -> str:
    values = {"done": done, "of": code} | {k: str(v) for k, v in extra.items() if v}
    return urlencode(values)


def done_message(request: Request, session: Session, t: Translator) -> str | None:
    """The sentence for ``?done=`` if it names an action; None otherwise."""
    params = request.query_params
    done = params.get("done")
    if done not in DONE:
        return None
    code = params.get("of", "")
    code = code if _CODE.fullmatch(code) else ""
    unit = _unit_name(session, params.get("unit", ""), t)
    count = params.get("n", "")
    text = t(
        f"console.done.{done}",
        code=code,
        unit=unit,
        count=int(count) if count.isascii() and count.isdigit() and len(count) < 9 else 0,
    )
    failed = [
        t(
            "console.bulk.failed_item",
            code=found.group(1),
            why=t(f"console.bulk.why.{found.group(2)}"),
        )
        for found in _FAILED.finditer(params.get("failed", "")[:2000])
        if found.group(2) in FAILURES
    ]
    if failed:
        text += " " + t("console.bulk.failed", items="; ".join(failed))
    return text


def _unit_name(session: Session, code: str, t: Translator) -> str:
    if not code or len(code) > 64:
        return ""
    unit = session.exec(select(HandlingUnit).where(HandlingUnit.code == code)).first()
    if unit is None:
        return ""
    return unit.name_en if t.language is Language.EN else short_name(unit.name)
