"""The JSON a history row's hash covers is pinned (issue 18 changed how it is built): rows
already written must verify as they did, so the same row gives the same text and hash."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from reflections.lifecycle import history
from reflections.models import HistoryEvent
from reflections.models.enums import AssignmentStage, LifecycleEvent, LifecycleState, Role

# Written by the implementation before issue 18's change, for the row below.
_CONTENT = (
    '{"actor_role":"coordinator","actor_user_id":null,"event":"assign","from_stage":null,'
    '"from_state":"classified","occurred_at":"2026-12-07T09:30:05.000123+00:00","payload":'
    '{"due_at":"2026-12-08T09:00:00.000000+00:00","ghi chú":["Đèn",1.5,true,null],'
    '"handling_unit_id":4},"reason":"Giao cho phường","reflection_id":7,"seq":3,'
    '"to_stage":"awaiting_acceptance","to_state":"assigned"}'
)
_HASH = "bb51ffac83ec5ff4310e40fa0547ae04908802c896e4e68d772a0d389fa68378"


def _row() -> HistoryEvent:
    return HistoryEvent(
        reflection_id=7,
        seq=3,
        event=LifecycleEvent.ASSIGN,
        from_state=LifecycleState.CLASSIFIED,
        from_stage=None,
        to_state=LifecycleState.ASSIGNED,
        to_stage=AssignmentStage.AWAITING_ACCEPTANCE,
        actor_user_id=None,
        actor_role=Role.COORDINATOR,
        payload={
            "handling_unit_id": 4,
            "due_at": "2026-12-08T09:00:00.000000+00:00",
            "ghi chú": ["Đèn", 1.5, True, None],
        },
        reason="Giao cho phường",
        occurred_at=datetime(2026, 12, 7, 9, 30, 5, 123, tzinfo=UTC),
    )


def test_a_rows_hashed_content_and_hash_are_as_before() -> None:
    row = _row()
    assert history.canonical_content(row) == _CONTENT
    assert history.chain_hash(row, "ab" * 32) == _HASH


def test_what_json_cannot_write_is_still_refused() -> None:
    row = _row()
    row.payload = {"photo": b"\xff"}
    with pytest.raises(TypeError, match="bytes is not JSON serializable"):
        history.canonical_content(row)


@pytest.mark.parametrize(
    "instant",
    [
        datetime(2026, 12, 7, 9, 30, 5, 123, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=UTC),  # no microseconds: still written, as zeros
        datetime(7, 2, 3, 4, 5, 6, 7, tzinfo=UTC),
        datetime(2026, 6, 30, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=7))),
        datetime(2026, 6, 30, 23, 59, 59, 999999),  # naive (a payload's own value)
    ],
)
def test_an_instant_is_written_as_isoformat_writes_it(instant: datetime) -> None:
    """The hashed and stored text of an instant (UTC ones written field by field)."""
    expected = instant.isoformat(timespec="microseconds")
    assert history.json_safe({"at": instant}) == {"at": expected}
    row = _row()
    row.occurred_at = instant
    assert f'"occurred_at":"{expected}"' in history.canonical_content(row)
