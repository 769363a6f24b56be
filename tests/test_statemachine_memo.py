"""The remembered chart (statemachines.memo, issue 18) answers exactly as the machine does:
the same position or the same refusal, for generated positions, events and data, asked in any
order (so remembered answers are reused across cases that must share them, and only those)."""

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from statemachines import (
    AssignmentStage,
    EventNotAllowed,
    GuardFailed,
    LifecycleEvent,
    LifecycleState,
    Position,
    fire,
    memo,
)

T0 = datetime(2026, 2, 16, 9, 0, tzinfo=UTC)
_instants = st.one_of(st.none(), st.integers(-3, 3).map(lambda h: T0 + timedelta(hours=h)))
_texts = st.sampled_from([None, "", "  ", "lý do"])

_positions = st.builds(
    lambda state, stage, pending, reopens, due: Position(
        state,
        stage if state is LifecycleState.ASSIGNED else None,
        pending,
        reopens,
        due,
    ),
    st.sampled_from(list(LifecycleState)),
    st.sampled_from(list(AssignmentStage)),
    st.booleans(),
    st.integers(0, 3),
    _instants,
)
_data = st.fixed_dictionaries(
    {},
    optional={
        "reason": _texts,
        "result": _texts,
        "category_id": st.sampled_from([None, 1, 2]),
        "priority": st.sampled_from([None, "normal"]),
        "administrative_unit_id": st.sampled_from([None, 7]),
        "handling_unit_id": st.sampled_from([None, 3]),
        "assignee_user_id": st.sampled_from([None, 9]),
        "rating": st.sampled_from([None, 0, 1, 4, 5, 6]),
        "new_due_at": _instants,
        "now": _instants,
        "max_reopens": st.integers(0, 3),
    },
)


def _outcome(run: Any, position: Position, event: LifecycleEvent, data: dict[str, Any]) -> Any:
    try:
        return run(position, event, **data)
    except (EventNotAllowed, GuardFailed) as refusal:
        return (type(refusal), str(refusal), getattr(refusal, "code", None))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(_positions, st.sampled_from(list(LifecycleEvent)), _data), max_size=8))
def test_memo_answers_as_the_machine(cases: list[tuple[Position, LifecycleEvent, Any]]) -> None:
    for position, event, data in cases:
        assert _outcome(memo.fire, position, event, data) == _outcome(fire, position, event, data)
