"""The step policies kept per process (issue 18): a change written through the ORM applies to
the next step at once, a rolled-back one never, and one made elsewhere (raw SQL, as another
process would) within ``policy_refresh_seconds``."""

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from reflections.models import StepPolicy
from reflections.models.enums import Priority
from reflections.platform.settings import get_settings
from reflections.timekeeping import policy_cache
from reflections.timekeeping.deadlines import Step, allowance


@pytest.fixture
def default_normal(session: Session) -> Iterator[StepPolicy]:
    row = session.exec(
        select(StepPolicy).where(
            col(StepPolicy.category_id).is_(None), StepPolicy.priority == Priority.NORMAL
        )
    ).one()
    kept = row.classify_minutes
    yield row
    row.classify_minutes = kept
    session.add(row)
    session.commit()


def test_a_change_through_the_orm_applies_at_once(
    session: Session, default_normal: StepPolicy
) -> None:
    before, _ = allowance(session, Step.CLASSIFY, None, Priority.NORMAL)
    default_normal.classify_minutes = before + 7
    session.add(default_normal)
    session.commit()
    assert allowance(session, Step.CLASSIFY, None, Priority.NORMAL)[0] == before + 7


def test_a_rolled_back_change_is_never_used(session: Session, default_normal: StepPolicy) -> None:
    before, _ = allowance(session, Step.CLASSIFY, None, Priority.NORMAL)
    default_normal.classify_minutes = before + 11
    session.add(default_normal)
    session.flush()
    # Inside the transaction that made it, the change is what the step reads...
    assert allowance(session, Step.CLASSIFY, None, Priority.NORMAL)[0] == before + 11
    session.rollback()
    # ...and once rolled back, nothing of it stays cached.
    assert allowance(session, Step.CLASSIFY, None, Priority.NORMAL)[0] == before


def test_a_change_made_elsewhere_applies_after_the_refresh(
    session: Session, default_normal: StepPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    before, _ = allowance(session, Step.CLASSIFY, None, Priority.NORMAL)
    assert default_normal.id is not None
    session.execute(
        text("UPDATE step_policies SET classify_minutes = :m WHERE id = :id"),
        {"m": before + 13, "id": default_normal.id},
    )
    session.commit()
    # Core SQL stands for another process: this one keeps its copy for the refresh time...
    assert allowance(session, Step.CLASSIFY, None, Priority.NORMAL)[0] == before
    monkeypatch.setattr(get_settings(), "policy_refresh_seconds", 0)
    # ...and reads the table again once it has passed.
    assert allowance(session, Step.CLASSIFY, None, Priority.NORMAL)[0] == before + 13
    session.refresh(default_normal)
    policy_cache.invalidate()
