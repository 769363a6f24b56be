"""The pure machine: guards on required data, and the README's diagram."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from statemachines import (
    AssignmentStage,
    GuardFailed,
    LifecycleEvent,
    LifecycleState,
    Position,
    fire,
    mermaid_diagram,
)

E = LifecycleEvent
IN_PROGRESS = Position(LifecycleState.ASSIGNED, AssignmentStage.IN_PROGRESS)
PROCESSED = Position(LifecycleState.PROCESSED)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("position", "event", "data", "field"),
    [
        (
            Position(),
            E.CLASSIFY,
            {"priority": "normal", "administrative_unit_id": 1},
            "category_id",
        ),
        (Position(), E.CLASSIFY, {"category_id": 1, "administrative_unit_id": 1}, "priority"),
        (Position(), E.REJECT, {"reason": "   "}, "reason"),
        (Position(LifecycleState.CLASSIFIED), E.ASSIGN, {}, "handling_unit_id"),
        (IN_PROGRESS, E.RETURN, {}, "reason"),
        (IN_PROGRESS, E.PROCESS, {"result": ""}, "result"),
        (IN_PROGRESS, E.REQUEST_EXTENSION, {"reason": "x"}, "new_due_at"),
        (
            IN_PROGRESS,
            E.REQUEST_EXTENSION,
            {"reason": "x", "new_due_at": NOW - timedelta(hours=1), "now": NOW},
            "new_due_at",
        ),
        (IN_PROGRESS, E.GRANT_EXTENSION, {}, "extension"),
        (PROCESSED, E.CONFIRM, {"rating": 6}, "rating"),
        (PROCESSED, E.REOPEN, {"reason": "x", "max_reopens": 0}, "reopen"),
        (
            Position(LifecycleState.PROCESSED, confirm_due_at=NOW),
            E.REOPEN,
            {"reason": "x", "max_reopens": 2, "now": NOW + timedelta(minutes=1)},
            "reopen",
        ),
    ],
)
def test_guard_names_the_missing_data(
    position: Position, event: LifecycleEvent, data: dict[str, object], field: str
) -> None:
    with pytest.raises(GuardFailed) as refused:
        fire(position, event, **data)
    assert refused.value.field == field


def test_extension_request_is_pending_until_decided() -> None:
    requested = fire(IN_PROGRESS, E.REQUEST_EXTENSION, reason="x", new_due_at=NOW, now=None)
    assert requested.extension_pending
    with pytest.raises(GuardFailed):
        fire(requested, E.REQUEST_EXTENSION, reason="again", new_due_at=NOW)
    assert not fire(requested, E.DENY_EXTENSION, reason="no").extension_pending


def test_reopen_counts_and_stops_at_the_limit() -> None:
    position = PROCESSED
    for expected in (1, 2):
        position = fire(position, E.REOPEN, reason="x", max_reopens=2)
        assert position.reopen_count == expected
        position = fire(position, E.PROCESS, result="done again")
    with pytest.raises(GuardFailed):
        fire(position, E.REOPEN, reason="x", max_reopens=2)


def test_fire_leaves_its_input_unchanged() -> None:
    before = Position()
    fire(before, E.REJECT, reason="spam")
    assert before == Position()


def test_readme_diagram_is_current() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```mermaid\n(.*?)```", readme, flags=re.DOTALL)
    assert mermaid_diagram().strip() in [block.strip() for block in blocks], (
        "README diagram is stale: run `reflections diagram` and paste its output"
    )
