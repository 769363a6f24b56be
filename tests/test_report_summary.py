"""Reports from the summary tables (issue 18) give exactly the figures of the report's SQL over
the reflections, their history and step records: random datasets (seeded, so a failure
replays), every grouping, filters and a caller's scope; a changed month is counted from the
reflections until the next refresh, beside the others' summaries, and nothing stale is ever
answered.

The rows are written directly (random states, counts and working times with many ties), not
through the lifecycle service: the report reads only their columns, and the service's own
rows are covered by tests/test_reports.py."""

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import permutations
from typing import Any

import pytest
from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from reflections.models import (
    AdministrativeUnit,
    Category,
    HandlingUnit,
    HistoryEvent,
    Reflection,
    ReportCell,
    ReportMonth,
    ReportStepCell,
    ReportStepFigure,
    ReportStepMonth,
    StepRecord,
)
from reflections.models.enums import (
    AssignmentStage,
    LifecycleEvent,
    LifecycleState,
    Role,
    SubmissionChannel,
)
from reflections.oversight import report_summary
from reflections.oversight.report_types import GroupBy, ReportQuery
from reflections.oversight.reports import build_report
from reflections.platform import migrate
from reflections.platform.db import get_engine
from reflections.seed import loader
from tests.conftest import new_database

NOW = datetime(2026, 4, 2, 3, 0, tzinfo=UTC)
FIRST = datetime(2025, 11, 30, 17, 0, tzinfo=UTC)  # 1 December 2025, local midnight
END = datetime(2026, 3, 31, 17, 0, tzinfo=UTC)  # 1 April 2026, local midnight
_EVENTS = [
    LifecycleEvent.ESCALATE,
    LifecycleEvent.REQUEST_EXTENSION,
    LifecycleEvent.GRANT_EXTENSION,
    LifecycleEvent.PROCESS,
    LifecycleEvent.NOTE,
]


def _generate(session: Session, seed: int, count: int) -> None:
    rng = random.Random(seed)
    units = [*list(session.scalars(select(HandlingUnit.id)))[:6], None]
    categories = [*list(session.scalars(select(Category.id)))[:5], None]
    for n in range(count):
        created = FIRST + timedelta(minutes=rng.randrange(0, (END - FIRST) // timedelta(minutes=1)))
        state = rng.choice(list(LifecycleState))
        stage = rng.choice(list(AssignmentStage)) if state is LifecycleState.ASSIGNED else None
        rating = rng.choice([None, 1, 2, 3, 4, 5]) if state is LifecycleState.CONFIRMED else None
        due = created + timedelta(hours=rng.randrange(1, 24 * 90))
        events = [rng.choice(_EVENTS) for _ in range(rng.randrange(0, 6))]
        reflection = Reflection(
            tracking_code=f"RS{seed:02d}{n:06d}",
            secret_hash="-",
            description="Đèn đường hỏng",
            submitted_via=SubmissionChannel.WEB,
            category_id=rng.choice(categories),
            handling_unit_id=rng.choice(units),
            state=state,
            assignment_stage=stage,
            classify_due_at=due,
            accept_due_at=due,
            process_due_at=due,
            rating=rating,
            reopen_count=rng.choice([0, 0, 0, 1, 2]),
            version=1 + len(events),
            created_at=created,
            updated_at=created,
        )
        session.add(reflection)
        session.flush()
        assert reflection.id is not None
        for seq, event in enumerate([LifecycleEvent.SUBMIT, *events], start=1):
            session.add(
                HistoryEvent(
                    reflection_id=reflection.id,
                    seq=seq,
                    event=event,
                    to_state=LifecycleState.RECEIVED,
                    actor_role=Role.SYSTEM,
                    occurred_at=created,
                    hash="-",
                )
            )
        for _ in range(rng.randrange(0, 5)):
            session.add(
                StepRecord(
                    reflection_id=reflection.id,
                    step=rng.choice(["classify", "accept", "process"]),
                    started_at=created,
                    ended_at=created + timedelta(hours=1),
                    # Many ties, halves of a tenth of an hour (180 s, 540 s...), and any time.
                    working_seconds=(
                        rng.choice([60, 120, 300, 600]) * rng.randrange(1, 8)
                        if rng.random() < 0.7
                        else rng.randrange(0, 400_000)
                    ),
                    on_time=rng.random() < 0.7,
                    handling_unit_id=rng.choice(units),
                    ended_by="process",
                )
            )
    session.commit()


@pytest.fixture(scope="module", params=[1, 2, 3])
def dataset(
    request: pytest.FixtureRequest, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    for url in new_database(tmp_path_factory.mktemp("summary")):
        migrate.upgrade(url)
        with pytest.MonkeyPatch.context() as patch, Session(get_engine(url)) as session:
            patch.setattr(loader, "hash_password", lambda password: "not-a-hash")
            loader.seed(session, demo_password="unused")
        with Session(get_engine(url)) as session:
            _generate(session, request.param, 300)
        yield url
        get_engine(url).dispose()


def _queries(session: Session, rng: random.Random) -> Iterator[tuple[ReportQuery, Any]]:
    groupings = [()] + [
        order
        for size in (1, 2, 3, 4)
        for order in permutations(GroupBy, size)
        if rng.random() < 0.2
    ]
    for group_by in groupings:
        yield ReportQuery.parse("2025-12", "2026-03", group_by), None
    unit = session.scalars(select(HandlingUnit)).first()
    category = session.scalars(select(Category)).first()
    level = session.scalars(select(AdministrativeUnit.level)).first()
    assert unit and category and level and unit.id
    yield ReportQuery.parse("2026-01", "2026-02", handling_unit=unit.code), None
    yield ReportQuery.parse("2025-12", "2026-03", ["category"], category=category.code), None
    yield ReportQuery.parse("2025-12", "2026-03", ["month", "level"], level=level), None
    yield ReportQuery.parse("2026-02"), frozenset({unit.id})
    yield ReportQuery.parse("2026-02"), frozenset()


@pytest.fixture
def read_from_summaries(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the reports answered from the summary tables."""
    calls: list[int] = []
    real = report_summary.figures_by_group

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(len(kwargs.get("live", ())))  # how many months counted live
        return real(*args, **kwargs)

    monkeypatch.setattr(report_summary, "figures_by_group", counted)
    return calls


def _both(session: Session, query: ReportQuery, within: Any) -> tuple[Any, Any]:
    live = build_report(session, query, NOW, within_units=within, use_summaries=False)
    summary = build_report(session, query, NOW, within_units=within)
    return live.as_dict(), summary.as_dict()


def test_summaries_give_the_figures_of_the_sql(
    dataset: str, read_from_summaries: list[int]
) -> None:
    with Session(get_engine(dataset)) as session:
        refreshed = report_summary.refresh(session)
        assert refreshed == ["2025-12", "2026-01", "2026-02", "2026-03"]
        assert report_summary.refresh(session) == []  # nothing changed since
        rng = random.Random(dataset)
        for query, within in _queries(session, rng):
            before = len(read_from_summaries)
            live, summary = _both(session, query, within)
            assert summary == live, (query, within)
            assert len(read_from_summaries) == before + 2  # the rows and the total


def test_a_changed_month_is_counted_live_until_the_refresh(
    dataset: str, read_from_summaries: list[int]
) -> None:
    query = ReportQuery.parse("2025-12", "2026-03", list(GroupBy))
    with Session(get_engine(dataset)) as session:
        report_summary.refresh(session)
        changed = session.scalars(
            select(Reflection)
            .where(col(Reflection.state) == LifecycleState.PROCESSED)
            .order_by(col(Reflection.id))
        ).first()
        assert changed is not None and changed.id is not None
        # What an event does to the figures: a rating, a new version, a history row.
        session.execute(
            update(Reflection)
            .where(col(Reflection.id) == changed.id)
            .values(state=LifecycleState.CONFIRMED, rating=5, version=Reflection.version + 1)
        )
        session.commit()
        live, summary = _both(session, query, None)
        assert summary == live
        assert read_from_summaries == [1, 1]  # the changed month from the reflections
        unit = session.scalars(select(HandlingUnit).order_by(col(HandlingUnit.id))).first()
        assert unit is not None and unit.id is not None
        cases: list[tuple[list[str], str | None, frozenset[int] | None]] = [
            ([], None, None),
            (["month"], None, None),
            (["handling_unit"], None, None),
            (["category", "level"], None, None),
            (["month"], unit.code, None),
            ([str(dimension) for dimension in GroupBy], None, frozenset({unit.id})),
        ]
        for names, code, within in cases:
            grouped = ReportQuery.parse("2025-12", "2026-03", names, handling_unit=code)
            live, summary = _both(session, grouped, within)
            assert summary == live, (names, code, within)
        assert report_summary.refresh(session) == [report_summary.month_of(changed.created_at)]
        read_from_summaries.clear()
        live, summary = _both(session, query, None)
        assert summary == live
        assert read_from_summaries == [0, 0]  # every month from the summaries


def _by_month(report: Any) -> dict[str, Any]:
    return {row["group"]["month"]: row for row in report.as_dict()["rows"]}


def test_as_summarised_reads_a_changed_month_as_it_was_summarised(
    dataset: str, read_from_summaries: list[int]
) -> None:
    """The dashboard's stated lag: a changed month as of its rebuild (and since when), a month
    never summarised counted, the others as summarised; the default stays exact."""
    query = ReportQuery.parse("2025-12", "2026-03", ["month"])
    with Session(get_engine(dataset)) as session:
        report_summary.refresh(session)
        before = build_report(session, query, NOW, use_summaries=False)
        lagged, forgotten = "2026-01", "2026-03"
        for table in (ReportCell, ReportStepCell, ReportStepMonth, ReportStepFigure, ReportMonth):
            session.execute(delete(table).where(col(table.month) == forgotten))
        summarised = session.get(ReportMonth, lagged)
        assert summarised is not None
        refreshed_at = summarised.refreshed_at
        changed = [
            session.scalars(
                select(Reflection)
                .where(
                    col(Reflection.state) == LifecycleState.PROCESSED,
                    col(Reflection.created_at) >= start,
                    col(Reflection.created_at) < end,
                )
                .order_by(col(Reflection.id))
            ).first()
            for start, end in (
                (datetime(2025, 12, 31, 17, tzinfo=UTC), datetime(2026, 1, 31, 17, tzinfo=UTC)),
                (datetime(2026, 2, 28, 17, tzinfo=UTC), END),
            )
        ]
        for reflection in changed:  # processed, now confirmed with a rating: not open either way
            assert reflection is not None
            session.execute(
                update(Reflection)
                .where(col(Reflection.id) == reflection.id)
                .values(state=LifecycleState.CONFIRMED, rating=5, version=Reflection.version + 1)
            )
        session.commit()
        exact = build_report(session, query, NOW, use_summaries=False)
        read_from_summaries.clear()
        shown = build_report(session, query, NOW, as_summarised=True)
        assert read_from_summaries == [1, 1]  # only the month never summarised counted
        assert shown.summarised_at == refreshed_at
        by_month, was, now_ = _by_month(shown), _by_month(before), _by_month(exact)
        assert by_month[lagged] == was[lagged] != now_[lagged]  # as summarised
        assert by_month[forgotten] == now_[forgotten] != was[forgotten]  # counted
        assert by_month["2025-12"] == now_["2025-12"] and by_month["2026-02"] == now_["2026-02"]
        assert build_report(session, query, NOW).as_dict() == exact.as_dict()  # the default
        assert build_report(session, query, NOW).summarised_at is None

        report_summary.refresh(session)
        assert build_report(session, query, NOW, as_summarised=True).summarised_at is None
        assert build_report(session, query, NOW, as_summarised=True).as_dict() == exact.as_dict()


def test_the_flow_rebuilds_what_changed_and_then_nothing(
    prefect_harness: None, database_url: str
) -> None:
    import asyncio

    from flows.reports import refresh_report_summaries

    first = asyncio.run(refresh_report_summaries())
    with Session(get_engine(database_url)) as session:
        summarised = set(session.scalars(select(col(ReportMonth.month))))
    try:
        assert set(first["months"]) <= summarised
        assert asyncio.run(refresh_report_summaries()) == {"months": []}
    finally:  # the session's database: later dashboards would read these summaries
        with Session(get_engine(database_url)) as session:
            for table in (
                ReportCell,
                ReportStepCell,
                ReportStepMonth,
                ReportStepFigure,
                ReportMonth,
            ):
                session.execute(delete(table))
            session.commit()
