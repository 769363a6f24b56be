"""The coordinator queue's filters as a page carries them: in the query string of the list, and
from the list to each item (``?queue=``) so that "next item" follows the same list."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import parse_qsl, urlencode

from reflections.errors import InvalidInput
from reflections.lifecycle.worklists import QueueFilters, QueueSort
from reflections.models.enums import LifecycleState, Priority

QUEUE_STATES = (LifecycleState.RECEIVED, LifecycleState.CLASSIFIED)
FLAGS = ("overdue", "returned", "emergency")
T = TypeVar("T")
TEXT_MAX = 200
CODE_MAX = 64


@dataclass(frozen=True)
class QueueQuery:
    """The filters as typed (to show them back) and as the domain reads them."""

    values: dict[str, str] = field(default_factory=dict)
    filters: QueueFilters = field(default_factory=QueueFilters)
    page: int = 1

    def query_string(self, **changes: str) -> str:
        """The list's query string (without the page unless given), for links and forms."""
        values = {k: v for k, v in (self.values | changes).items() if v}
        return urlencode(values)

    @property
    def active(self) -> bool:
        return any(v for k, v in self.values.items() if k not in ("sort", "page"))


def parse_queue(params: Mapping[str, str]) -> QueueQuery:
    """Read the queue's filters; a value the list cannot use is a 422 naming its input."""
    values = {
        name: str(params.get(name, "")).strip()
        for name in ("q", "state", "category", "ward", "priority", "sort", *FLAGS)
    }
    if len(values["q"]) > TEXT_MAX:
        raise InvalidInput("q", "is too long", "too_long", max=TEXT_MAX)
    for name in ("category", "ward"):
        if len(values[name]) > CODE_MAX:
            raise InvalidInput(name, "is not a code", "unknown_choice")
    state = _choice(values["state"], "state", {s.value: s for s in QUEUE_STATES})
    priority = _choice(values["priority"], "priority", {p.value: p for p in Priority})
    sort = _choice(values["sort"], "sort", {s.value: s for s in QueueSort}) or QueueSort.OLDEST
    flags = {name: values[name] in ("1", "on", "true") for name in FLAGS}
    page_text = str(params.get("page", "1")).strip() or "1"
    page = int(page_text) if page_text.isascii() and page_text.isdigit() else 1
    filters = QueueFilters(
        text=values["q"] or None,
        state=state,
        category_code=values["category"] or None,
        ward_code=values["ward"] or None,
        priority=priority,
        sort=sort,
        **flags,
    )
    values = {k: ("1" if k in FLAGS and flags[k] else v) for k, v in values.items()}
    values = {k: v for k, v in values.items() if v and not (k in FLAGS and v != "1")}
    return QueueQuery(values, filters, min(page, 10_000))


def parse_queue_string(text: str | None) -> QueueQuery | None:
    """The queue an item page was opened from (``?queue=`` holds its query string)."""
    if text is None:
        return None
    try:
        return parse_queue(dict(parse_qsl(text[:1000])))
    except InvalidInput:
        return parse_queue({})


def _choice(value: str, name: str, choices: Mapping[str, T]) -> T | None:
    if not value:
        return None
    if value not in choices:
        raise InvalidInput(name, f"is one of {', '.join(choices)}", "unknown_choice")
    return choices[value]
