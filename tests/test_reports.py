"""Reports (DESIGN.md §7) on a small known dataset, in a fresh database of this module's own.

Nine reflections are driven through the real lifecycle service with the clock frozen at chosen
local instants of ordinary working days (March and early April 2026: no holiday; working
hours 07:30–11:30 and 13:30–17:00), and every figure is checked against numbers worked out by
hand below. The suite runs on SQLite, and on PostgreSQL when REFLECTIONS_DATABASE_URL points
there: the same expected numbers on both show that the SQL gives identical results.

Units: PX = the Phú Xuân ward People's Committee (commune level), HEPCO (province level).
Categories: street_lighting (L), waste_collection (W). Normal steps count working time
(classify 4 h, accept 8 h, process 5 days of 7 h 30); R3 is an emergency (accept 1 h,
process 4 h, around the clock). Times are local (Asia/Ho_Chi_Minh); minutes are working time.

====  =============================================================================
R1    L, PX. classify 2/3 08:00→09:00 = 60 on time; accept 09:00→10:00 = 60 on time;
      process 2/3 10:00→4/3 10:00 = 90+210+450+150 = 900 on time; rated 5.
R2    L, PX. classify 2/3 09:00→3/3 08:00 = 150+210+30 = 390, late (due 2/3 15:00);
      accept 3/3 08:00→16:00 = 360 on time; extension requested and granted (to 16/3 17:00);
      process 3/3 16:00→13/3 16:00 = 60+7·450+390 = 3600, on time thanks to the extension;
      reopened 16/3 08:00; process again 16/3 08:00→17/3 08:00 = 450 on time; rated 3.
R3    W, HEPCO, emergency. classify 3/3 20:00→20:30 = 30 wall-clock on time (classified an
      emergency at 20:10, so the step follows the emergency policy from 20:00); accept 20:30→21:00
      = 30 wall-clock on time; process 21:00→4/3 02:00 = 300 wall-clock, late (due 01:00);
      confirmed by the system, unrated.
R4    submitted 27/3 10:00, never classified: open, overdue (classify due 27/3 16:00);
      escalated once.
R5    submitted 2/3 14:00, rejected 15:00: classify 60 on time.
R6    W. classify 4/3 08:00→09:00 = 60 on time; assigned to PX, which returns it at 11:00
      (accept 120 on time, counted for PX); classify again 11:00→14:00 = 60 on time; HEPCO
      accepts 5/3 08:00 (accept 180+30 = 210 on time); extension requested and denied;
      in progress, overdue (process due 12/3 08:00); escalated twice.
R7    submitted 31/3 23:30 (16:30 UTC: March), rejected 1/4 08:00: classify 30 on time.
R8    submitted 1/4 00:30 (31/3 17:30 UTC: April in local time), rejected 1/4 08:00: classify 30.
R9    L, PX. classify 31/3 09:00→10:00 = 60 on time; accept 31/3 10:00→1/4 09:00 = 390 on
      time; in progress, not overdue.
====  =============================================================================

The report is taken at NOW = Thursday 2 April 2026 10:00. Percentiles are nearest-rank: the
smallest value whose rank r (ascending) has 100·r >= p·n.
"""

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import literal
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from reflections import cli
from reflections.actors import Actor
from reflections.cli import oversight as oversight_commands
from reflections.errors import Forbidden, InvalidInput
from reflections.lifecycle.intake import Submission, submit
from reflections.lifecycle.service import EventInput, apply_event
from reflections.models import AdministrativeUnit, Category, HandlingUnit, StepRecord, User
from reflections.models.enums import LifecycleEvent, Priority, Role
from reflections.models.types import UTCDateTime
from reflections.organisation.auth import issue_token
from reflections.oversight.local_months import fixed_offset, local_month
from reflections.oversight.report_types import MAX_MONTHS, GroupBy, Month, ReportQuery
from reflections.oversight.reports import build_report
from reflections.platform import clock, migrate
from reflections.platform.db import get_engine, reset_engines
from reflections.platform.settings import get_settings
from reflections.seed import loader
from tests.conftest import new_database

E = LifecycleEvent
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
PX, HEPCO = "UBND.46.W19768", "HEPCO"
WARD = "46.W19768"
LIGHTING, WASTE = "street_lighting", "waste_collection"


def local(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=ZONE)


NOW = local(4, 2, 10)
COORDINATOR = Actor(Role.COORDINATOR)
SYSTEM = Actor.system()


@dataclass(frozen=True)
class World:
    url: str
    units: dict[str, int]
    categories: dict[str, int]
    ward: int
    reflections: dict[str, int]


class Driver:
    """Fires events through the real service at frozen instants."""

    def __init__(self, session: Session, world_ids: dict[str, Any]) -> None:
        self.session = session
        self.ids = world_ids
        self.reflections: dict[str, int] = {}

    def submit(self, name: str, at: datetime) -> None:
        with clock.frozen_at(at):
            submitted = submit(
                self.session,
                Submission(
                    description=f"Phản ánh {name}",
                    address="Phú Xuân, Huế",
                    administrative_unit_id=self.ids["ward"],
                ),
                Actor.citizen(),
            )
        assert submitted.reflection.id is not None
        self.reflections[name] = submitted.reflection.id

    def fire(
        self,
        name: str,
        event: LifecycleEvent,
        at: datetime,
        actor: Actor | None = None,
        **data: Any,
    ) -> None:
        reflection_id = self.reflections[name]
        with clock.frozen_at(at):
            apply_event(
                self.session, reflection_id, event, actor or COORDINATOR, EventInput(**data)
            )

    def classify(self, name: str, at: datetime, category: str, priority: Priority) -> None:
        self.fire(
            name,
            E.CLASSIFY,
            at,
            category_id=self.ids["categories"][category],
            priority=priority,
            administrative_unit_id=self.ids["ward"],
        )

    def assign(self, name: str, at: datetime, unit: str) -> None:
        self.fire(name, E.ASSIGN, at, handling_unit_id=self.ids["units"][unit])

    def handler(self, unit: str) -> Actor:
        return Actor(Role.HANDLER, handling_unit_ids=frozenset({self.ids["units"][unit]}))

    def citizen(self, name: str) -> Actor:
        return Actor.citizen(self.reflections[name])


def _build(session: Session, ids: dict[str, Any]) -> dict[str, int]:
    d = Driver(session, ids)
    normal, emergency = Priority.NORMAL, Priority.EMERGENCY

    d.submit("R1", local(3, 2, 8))
    d.classify("R1", local(3, 2, 8, 30), LIGHTING, normal)
    d.assign("R1", local(3, 2, 9), PX)
    d.fire("R1", E.ACCEPT, local(3, 2, 10), d.handler(PX))
    d.fire("R1", E.PROCESS, local(3, 4, 10), d.handler(PX), result="Đã thay bóng")
    d.fire("R1", E.CONFIRM, local(3, 4, 15), d.citizen("R1"), rating=5)

    d.submit("R2", local(3, 2, 9))
    d.classify("R2", local(3, 2, 10), LIGHTING, normal)
    d.assign("R2", local(3, 3, 8), PX)
    d.fire("R2", E.ACCEPT, local(3, 3, 16), d.handler(PX))
    d.fire(
        "R2",
        E.REQUEST_EXTENSION,
        local(3, 4, 9),
        d.handler(PX),
        reason="chờ vật tư",
        new_due_at=local(3, 16, 17),
    )
    d.fire("R2", E.GRANT_EXTENSION, local(3, 4, 10))
    d.fire("R2", E.PROCESS, local(3, 13, 16), d.handler(PX), result="Đã sửa")
    d.fire("R2", E.REOPEN, local(3, 16, 8), d.citizen("R2"), reason="đèn lại hỏng")
    d.fire("R2", E.PROCESS, local(3, 17, 8), d.handler(PX), result="Đã thay dây")
    d.fire("R2", E.CONFIRM, local(3, 17, 9), d.citizen("R2"), rating=3)

    d.submit("R3", local(3, 3, 20))
    d.classify("R3", local(3, 3, 20, 10), WASTE, emergency)
    d.assign("R3", local(3, 3, 20, 30), HEPCO)
    d.fire("R3", E.ACCEPT, local(3, 3, 21), d.handler(HEPCO))
    d.fire("R3", E.PROCESS, local(3, 4, 2), d.handler(HEPCO), result="Đã thu gom")
    d.fire("R3", E.CONFIRM, local(3, 11, 3), SYSTEM)

    d.submit("R4", local(3, 27, 10))
    d.fire("R4", E.ESCALATE, local(3, 30, 8), SYSTEM)

    d.submit("R5", local(3, 2, 14))
    d.fire("R5", E.REJECT, local(3, 2, 15), reason="không đủ thông tin")

    d.submit("R6", local(3, 4, 8))
    d.classify("R6", local(3, 4, 8, 30), WASTE, normal)
    d.assign("R6", local(3, 4, 9), PX)
    d.fire(
        "R6",
        E.RETURN,
        local(3, 4, 11),
        d.handler(PX),
        reason="không đúng thẩm quyền",
        suggested_unit_id=ids["units"][HEPCO],
    )
    d.assign("R6", local(3, 4, 14), HEPCO)
    d.fire("R6", E.ACCEPT, local(3, 5, 8), d.handler(HEPCO))
    d.fire(
        "R6",
        E.REQUEST_EXTENSION,
        local(3, 11, 9),
        d.handler(HEPCO),
        reason="thiếu xe",
        new_due_at=local(3, 20, 17),
    )
    d.fire("R6", E.DENY_EXTENSION, local(3, 11, 10), reason="không đủ lý do")
    d.fire("R6", E.ESCALATE, local(3, 12, 9), SYSTEM)
    d.fire("R6", E.ESCALATE, local(3, 13, 9), SYSTEM)

    d.submit("R7", local(3, 31, 23, 30))
    d.fire("R7", E.REJECT, local(4, 1, 8), reason="trùng lặp")

    d.submit("R8", local(4, 1, 0, 30))
    d.fire("R8", E.REJECT, local(4, 1, 8), reason="trùng lặp")

    d.submit("R9", local(3, 31, 9))
    d.classify("R9", local(3, 31, 9, 30), LIGHTING, normal)
    d.assign("R9", local(3, 31, 10), PX)
    d.fire("R9", E.ACCEPT, local(4, 1, 9), d.handler(PX))
    return d.reflections


@pytest.fixture(scope="module")
def world(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A migrated, seeded database holding only the dataset, configured while the module runs
    (the API and the CLI read the configured database)."""
    for url in new_database(tmp_path_factory.mktemp("reports")):
        migrate.upgrade(url)
        with pytest.MonkeyPatch.context() as patch, Session(get_engine(url)) as session:
            patch.setattr(loader, "hash_password", lambda password: "not-a-hash")  # speed
            loader.seed(session, demo_password="unused")
        with Session(get_engine(url), expire_on_commit=False) as session:
            units = {
                code: _id(session, HandlingUnit, col(HandlingUnit.code) == code)
                for code in (PX, HEPCO)
            }
            categories = {
                code: _id(session, Category, col(Category.code) == code)
                for code in (LIGHTING, WASTE)
            }
            ward = _id(session, AdministrativeUnit, col(AdministrativeUnit.code) == WARD)
            ids = {"units": units, "categories": categories, "ward": ward}
            reflections = _build(session, ids)
        os.environ["REFLECTIONS_DATABASE_URL"] = url
        get_settings.cache_clear()
        reset_engines()
        try:
            yield World(url, units, categories, ward, reflections)
        finally:
            get_engine(url).dispose()
            os.environ["REFLECTIONS_DATABASE_URL"] = database_url
            get_settings.cache_clear()
            reset_engines()


def _id(session: Session, model: Any, where: Any) -> int:
    found = session.scalar(select(model.id).where(where))
    assert isinstance(found, int)
    return found


@pytest.fixture
def db(world: World) -> Iterator[Session]:
    with Session(get_engine(world.url), expire_on_commit=False) as session:
        yield session


def report(db: Session, *group_by: GroupBy, **options: Any) -> dict[str, Any]:
    months = options.pop("months", ("2026-03", "2026-03"))
    within = options.pop("within_units", None)
    query = ReportQuery(Month.parse(months[0]), Month.parse(months[1]), group_by, **options)
    return build_report(db, query, NOW, within_units=within).as_dict()


# -- expected figures (worked out in the module docstring) ------------------------------------

NO_STEP = {
    "finished": 0,
    "on_time": 0,
    "on_time_pct": None,
    "median_hours": None,
    "p90_hours": None,
}


def step(finished: int, on_time: int, pct: float, median: float, p90: float) -> dict[str, Any]:
    return {
        "finished": finished,
        "on_time": on_time,
        "on_time_pct": pct,
        "median_hours": median,
        "p90_hours": p90,
    }


def figures(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "received": 0,
        "rejected": 0,
        "processed": 0,
        "open_overdue": 0,
        "escalations": 0,
        "extensions_requested": 0,
        "extensions_granted": 0,
        "reopened": 0,
        "reopen_rate_pct": None,
        "rated": 0,
        "satisfaction_pct": None,
        "mean_rating": None,
    }
    steps = {"classify": NO_STEP, "accept": NO_STEP, "process": NO_STEP}
    for name in list(values):
        if name in steps:
            steps[name] = values.pop(name)
    return base | values | {"steps": steps}


# PX: R1, R2, R9 now; its accept steps 60, 120 (R6, returned), 360, 390; process 450, 900, 3600.
PX_FIGURES = figures(
    received=3,
    processed=2,
    extensions_requested=1,
    extensions_granted=1,
    reopened=1,
    reopen_rate_pct=50.0,
    rated=2,
    satisfaction_pct=50.0,
    mean_rating=4.0,
    accept=step(4, 4, 100.0, 2.0, 6.5),
    process=step(3, 3, 100.0, 15.0, 60.0),
)
# HEPCO: R3, R6; accept 30 (wall clock), 210; process 300 (wall clock, late).
HEPCO_FIGURES = figures(
    received=2,
    processed=1,
    open_overdue=1,
    escalations=2,
    extensions_requested=1,
    reopen_rate_pct=0.0,
    accept=step(2, 2, 100.0, 0.5, 3.5),
    process=step(1, 0, 0.0, 5.0, 5.0),
)
# No unit: R4, R5, R7; and every classify step of March: 30, 30, 60, 60, 60, 60, 60, 390 (late).
NO_UNIT_FIGURES = figures(
    received=3,
    rejected=2,
    open_overdue=1,
    escalations=1,
    classify=step(8, 7, 87.5, 1.0, 6.5),
)
MARCH_TOTAL = figures(
    received=8,
    rejected=2,
    processed=3,
    open_overdue=2,
    escalations=3,
    extensions_requested=2,
    extensions_granted=1,
    reopened=1,
    reopen_rate_pct=33.3,
    rated=2,
    satisfaction_pct=50.0,
    mean_rating=4.0,
    classify=step(8, 7, 87.5, 1.0, 6.5),
    accept=step(6, 6, 100.0, 2.0, 6.5),  # 30, 60, 120, 210, 360, 390
    process=step(4, 3, 75.0, 7.5, 60.0),  # 300 (late), 450, 900, 3600
)


def unit(code: str, name: str) -> dict[str, str]:
    return {"code": code, "name": name}


PX_NAMED = unit(PX, "Ủy ban nhân dân phường Phú Xuân")
HEPCO_NAMED = unit(HEPCO, "Công ty Cổ phần Môi trường và Công trình đô thị Huế")


def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    return list(result["rows"])


# -- the step records ----------------------------------------------------------------------


def test_step_records_follow_the_rules(db: Session, world: World) -> None:
    """What ended each step, for which unit, how long, on time: R2, R3 and R6 in full."""

    def records(name: str) -> list[tuple[Any, ...]]:
        found = db.exec(
            select(StepRecord)
            .where(col(StepRecord.reflection_id) == world.reflections[name])
            .order_by(col(StepRecord.id))
        ).all()
        return [
            (
                r.step,
                r.handling_unit_id,
                r.working_seconds,
                r.on_time,
                r.ended_by,
            )
            for r in found
        ]

    px, hepco = world.units[PX], world.units[HEPCO]
    assert records("R2") == [
        ("classify", None, 390 * 60, False, "assign"),
        ("accept", px, 360 * 60, True, "accept"),
        ("process", px, 3600 * 60, True, "process"),
        ("process", px, 450 * 60, True, "process"),
    ]
    assert records("R3") == [
        ("classify", None, 30 * 60, True, "assign"),
        ("accept", hepco, 30 * 60, True, "accept"),
        ("process", hepco, 300 * 60, False, "process"),
    ]
    assert records("R6") == [
        ("classify", None, 60 * 60, True, "assign"),
        ("accept", px, 120 * 60, True, "return"),
        ("classify", None, 60 * 60, True, "assign"),
        ("accept", hepco, 210 * 60, True, "accept"),
    ]
    assert records("R4") == []  # still classifying
    extended = db.exec(
        select(StepRecord).where(
            col(StepRecord.reflection_id) == world.reflections["R2"],
            col(StepRecord.working_seconds) == 3600 * 60,
        )
    ).one()
    assert extended.due_at == local(3, 16, 17)  # the granted extension
    assert extended.started_at == local(3, 3, 16)
    assert extended.ended_at == local(3, 13, 16)


# -- the figures ---------------------------------------------------------------------------


def test_by_handling_unit(db: Session) -> None:
    result = report(db, GroupBy.HANDLING_UNIT)
    assert rows(result) == [
        {"group": {"handling_unit": HEPCO_NAMED}, **HEPCO_FIGURES},
        {"group": {"handling_unit": PX_NAMED}, **PX_FIGURES},
        {"group": {"handling_unit": None}, **NO_UNIT_FIGURES},
    ]
    assert result["total"] == MARCH_TOTAL
    assert result["group_by"] == ["handling_unit"]
    assert result["generated_at"] == NOW.astimezone(UTC).isoformat()


def test_months_are_local_months(db: Session) -> None:
    """R8 was received at 00:30 on 1 April in Hue, 17:30 on 31 March in UTC: April."""
    result = report(db, GroupBy.MONTH, months=("2026-03", "2026-04"))
    april = figures(received=1, rejected=1, classify=step(1, 1, 100.0, 0.5, 0.5))
    assert rows(result) == [
        {"group": {"month": "2026-03"}, **MARCH_TOTAL},
        {"group": {"month": "2026-04"}, **april},
    ]
    both = MARCH_TOTAL | {
        "received": 9,
        "rejected": 3,
        # 0, 30, 30, 60, 60, 60, 60, 60, 390: median rank 5 (60), p90 rank 9 (390)
        "steps": MARCH_TOTAL["steps"] | {"classify": step(9, 8, 88.9, 1.0, 6.5)},
    }
    assert result["total"] == both
    assert report(db, months=("2026-04", "2026-04"))["total"] == april
    assert report(db, months=("2026-02", "2026-02"))["total"] == figures()


def test_by_level_and_category(db: Session) -> None:
    """Reflection figures go to the unit holding the reflection, step figures to the unit
    that held the step: PX's returned accept of R6 (waste) is a group without reflections."""
    result = report(db, GroupBy.LEVEL, GroupBy.CATEGORY)
    lighting = unit(LIGHTING, "Chiếu sáng công cộng")
    waste = unit(WASTE, "Thu gom rác thải")
    px_lighting = PX_FIGURES | {
        "steps": PX_FIGURES["steps"] | {"accept": step(3, 3, 100.0, 6.0, 6.5)}  # 60, 360, 390
    }
    assert rows(result) == [
        {"group": {"level": "commune", "category": lighting}, **px_lighting},
        {
            "group": {"level": "commune", "category": waste},
            **figures(accept=step(1, 1, 100.0, 2.0, 2.0)),
        },
        {"group": {"level": "province", "category": waste}, **HEPCO_FIGURES},
        {
            "group": {"level": None, "category": lighting},
            **figures(classify=step(3, 2, 66.7, 1.0, 6.5)),  # 60, 60, 390 (late)
        },
        {
            "group": {"level": None, "category": waste},
            **figures(classify=step(3, 3, 100.0, 1.0, 1.0)),  # 0, 60, 60
        },
        {
            "group": {"level": None, "category": None},
            **figures(
                received=3,
                rejected=2,
                open_overdue=1,
                escalations=1,
                classify=step(2, 2, 100.0, 0.5, 1.0),  # 30, 60
            ),
        },
    ]
    assert result["total"] == MARCH_TOTAL


def test_all_four_groupings(db: Session) -> None:
    result = report(db, *GroupBy)
    first = rows(result)[0]
    assert first["group"] == {
        "handling_unit": HEPCO_NAMED,
        "level": "province",
        "category": unit(WASTE, "Thu gom rác thải"),
        "month": "2026-03",
    }
    assert first["received"] == 2
    assert sum(row["received"] for row in rows(result)) == 8
    assert result["total"] == MARCH_TOTAL


def test_filters(db: Session) -> None:
    assert report(db, handling_unit=HEPCO)["total"] == HEPCO_FIGURES
    assert report(db, level="commune")["total"] == PX_FIGURES
    waste = report(db, GroupBy.HANDLING_UNIT, category=WASTE)
    assert [row["group"]["handling_unit"] for row in rows(waste)] == [HEPCO_NAMED, PX_NAMED, None]
    assert rows(waste)[0] | {"group": None} == {"group": None, **HEPCO_FIGURES}
    assert rows(waste)[1]["received"] == 0
    assert rows(waste)[1]["steps"]["accept"] == step(1, 1, 100.0, 2.0, 2.0)
    assert rows(waste)[2]["steps"]["classify"] == step(3, 3, 100.0, 1.0, 1.0)


def test_scope_leaves_out_other_units_and_no_unit(db: Session, world: World) -> None:
    result = report(db, GroupBy.HANDLING_UNIT, within_units=frozenset({world.units[PX]}))
    assert rows(result) == [{"group": {"handling_unit": PX_NAMED}, **PX_FIGURES}]
    assert result["total"] == PX_FIGURES
    assert report(db, within_units=frozenset())["total"] == figures()
    with pytest.raises(Forbidden):
        report(db, handling_unit=HEPCO, within_units=frozenset({world.units[PX]}))


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"month_from": "2026-13"}, "from"),
        ({"month_from": "March"}, "from"),
        ({"month_from": "1969-12"}, "from"),
        ({"month_from": "2026-03", "month_to": "2026-02"}, "to"),
        ({"month_from": "2000-01", "month_to": "2010-01"}, "to"),
        ({"month_from": "2026-03", "group_by": ["unit"]}, "group_by"),
        ({"month_from": "2026-03", "group_by": ["month", "month"]}, "group_by"),
    ],
)
def test_invalid_queries(arguments: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        ReportQuery.parse(**arguments)
    assert refused.value.field == field


def test_unknown_codes_are_refused(db: Session) -> None:
    for name, value in (("handling_unit", "NOPE"), ("category", "nope"), ("level", "galaxy")):
        with pytest.raises(InvalidInput) as refused:
            report(db, **{name: value})
        assert refused.value.field == name
    # Saigon moved from +08:00 to +07:00 on 13 June 1975: no fixed offset to bucket months by.
    with pytest.raises(InvalidInput, match="changes its UTC offset") as refused:
        report(db, months=("1975-01", "1975-12"))
    assert refused.value.field == "from"
    assert report(db, months=("1970-01", "1975-05"))["total"] == figures()


def test_longest_period() -> None:
    query = ReportQuery.parse("2016-04", "2026-03")
    assert query.month_to.index() - query.month_from.index() + 1 == MAX_MONTHS


def test_local_month_in_sql(db: Session) -> None:
    """The month expression on this database, at the edges of local months."""
    cases = {
        datetime(2026, 3, 31, 16, 59, 59, 999999, tzinfo=UTC): "2026-03",
        datetime(2026, 3, 31, 17, 0, tzinfo=UTC): "2026-04",
        datetime(2025, 12, 31, 17, 0, tzinfo=UTC): "2026-01",
        datetime(2025, 12, 31, 16, 59, 59, tzinfo=UTC): "2025-12",
        datetime(2028, 2, 29, 16, 59, 59, 500000, tzinfo=UTC): "2028-02",
    }
    offset = fixed_offset(
        "Asia/Ho_Chi_Minh", datetime(2025, 1, 1).date(), datetime(2029, 1, 1).date()
    )
    assert offset == timedelta(hours=7)
    for instant, month in cases.items():
        expression = local_month(literal(instant, UTCDateTime()), offset)
        assert db.scalar(select(expression)) == month, instant


def test_a_zone_with_daylight_saving_is_refused() -> None:
    with pytest.raises(ValueError, match="fixed offset"):
        fixed_offset("Europe/Paris", datetime(2026, 1, 1).date(), datetime(2026, 12, 1).date())


# -- the API -------------------------------------------------------------------------------


def _headers(db: Session, username: str) -> dict[str, str]:
    user = db.exec(select(User).where(col(User.username) == username)).one()
    token, _ = issue_token(user)
    return {"Authorization": f"Bearer {token}"}


def _get(client: TestClient, headers: dict[str, str], **params: Any) -> Any:
    with clock.frozen_at(NOW):
        return client.get("/api/v1/reports", params=params, headers=headers)


def _expected(db: Session, **options: Any) -> dict[str, Any]:
    query = ReportQuery.parse("2026-03", **options)
    return build_report(db, query, NOW).as_dict()


def test_api_answers_the_report(client: TestClient, db: Session) -> None:
    for username in ("coordinator", "auditor", "admin"):
        response = _get(
            client, _headers(db, username), **{"from": "2026-03", "group_by": "handling_unit"}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body == _expected(db, group_by=["handling_unit"])
        assert body["rows"][0] == {"group": {"handling_unit": HEPCO_NAMED}, **HEPCO_FIGURES}
        assert body["total"] == MARCH_TOTAL
    both = _get(
        client,
        _headers(db, "auditor"),
        **{"from": "2026-03", "to": "2026-04", "group_by": ["month", "category"]},
    ).json()
    assert [row["group"]["month"] for row in both["rows"]] == ["2026-03"] * 3 + ["2026-04"]
    assert both["from"] == "2026-03" and both["to"] == "2026-04"


def test_api_default_groups_and_filters(client: TestClient, db: Session) -> None:
    body = _get(client, _headers(db, "coordinator"), **{"from": "2026-03"}).json()
    assert body["group_by"] == ["handling_unit", "level", "category", "month"]
    assert body == _expected(db)
    filtered = _get(
        client, _headers(db, "coordinator"), **{"from": "2026-03", "category": WASTE}
    ).json()
    assert filtered["filters"] == {"handling_unit": None, "category": WASTE, "level": None}


def test_api_refuses_callers_without_the_role(client: TestClient, db: Session) -> None:
    anonymous = _get(client, {}, **{"from": "2026-03"})
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    citizen = _get(client, {"X-Citizen-Key": "not-a-staff-token"}, **{"from": "2026-03"})
    assert citizen.status_code == 401
    operator = _get(client, _headers(db, "operator"), **{"from": "2026-03"})
    assert operator.status_code == 403
    assert operator.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("username", ["handler.phuxuan", "supervisor.phuxuan"])
def test_api_scopes_handlers_and_supervisors(
    client: TestClient, db: Session, username: str
) -> None:
    headers = _headers(db, username)
    body = _get(client, headers, **{"from": "2026-03", "group_by": "handling_unit"}).json()
    assert body["rows"] == [{"group": {"handling_unit": PX_NAMED}, **PX_FIGURES}]
    assert body["total"] == PX_FIGURES
    outside = _get(client, headers, **{"from": "2026-03", "handling_unit": HEPCO})
    assert outside.status_code == 403


def test_api_handler_of_hepco_sees_hepco(client: TestClient, db: Session) -> None:
    body = _get(client, _headers(db, "handler.hepco"), **{"from": "2026-03"}).json()
    assert {row["group"]["handling_unit"]["code"] for row in body["rows"]} == {HEPCO}
    assert body["total"] == HEPCO_FIGURES


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-13"}, "from"),
        ({"from": "2026/03"}, "from"),
        ({}, "from"),
        ({"from": "2026-03", "to": "2026-01"}, "to"),
        ({"from": "2026-03", "group_by": "unit"}, "group_by.0"),
        ({"from": "2026-03", "category": "nope"}, "category"),
    ],
)
def test_api_validation_problems(
    client: TestClient, db: Session, params: dict[str, Any], field: str
) -> None:
    response = _get(client, _headers(db, "coordinator"), **params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]


# -- the CLI -------------------------------------------------------------------------------


@pytest.fixture
def wide_console(monkeypatch: pytest.MonkeyPatch, world: World) -> None:
    monkeypatch.setattr(oversight_commands, "console", Console(width=250))


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch, world: World) -> None:
    """An 80-column terminal, the narrowest an operator's is likely to be."""
    monkeypatch.setattr(oversight_commands, "console", Console(width=80))


AT = ["--at", "2026-04-02T10:00"]  # local time: NOW


@pytest.mark.usefixtures("terminal")
def test_cli_table(db: Session) -> None:
    result = CliRunner().invoke(
        cli.app, ["report", "--from", "2026-03", "--group-by", "handling_unit", *AT]
    )
    assert result.exit_code == 0, result.output
    assert all(len(line) <= 80 for line in result.output.splitlines())  # 80 columns
    lines = [line.split("│") for line in result.output.splitlines() if "│" in line]
    cells = [[cell.strip() for cell in line[1:-1]] for line in lines]
    counts = {row[0].split()[0]: row[1:] for row in cells if len(row) == 6 and row[0]}
    steps = [row for row in cells if len(row) == 7 and row[1] in ("classify", "accept", "process")]
    follow_up = {row[0].split()[0]: row[1:] for row in cells if len(row) == 7 and row not in steps}
    # received, rejected, processed, overdue now, escalations
    assert counts["HEPCO"] == ["2", "0", "1", "1", "2"]
    assert counts["all"] == ["8", "2", "3", "2", "3"]
    assert counts["(no"][:4] == ["3", "2", "0", "1"]
    # ext. asked, granted, reopen %, rated, satisfied %, mean rating
    assert follow_up["HEPCO"] == ["1", "0", "0.0", "0", "-", "-"]
    assert follow_up["all"] == ["2", "1", "33.3", "2", "50.0", "4.00"]
    assert ["all", "process", "4", "3", "75.0", "7.5", "60.0"] in steps
    assert ["(no unit)", "classify", "8", "7", "87.5", "1.0", "6.5"] in steps
    assert "HEPCO Công ty CP" in result.output  # the name as offices shorten it
    title = "Reflections received in March 2026 (overdue now: as of 2 April 2026 10:00)"
    assert title in " ".join(result.output.split())


@pytest.mark.usefixtures("wide_console")
def test_cli_json(db: Session) -> None:
    arguments = ["--from", "2026-03", "--to", "2026-04", "--group-by", "month", "--format", "json"]
    result = CliRunner().invoke(cli.app, ["report", *arguments, *AT])
    assert result.exit_code == 0, result.output
    query = ReportQuery.parse("2026-03", "2026-04", ["month"])
    assert json.loads(result.output) == build_report(db, query, NOW).as_dict()


@pytest.mark.usefixtures("wide_console")
def test_cli_refuses_bad_input(world: World) -> None:
    for arguments in (["--from", "2026-13"], ["--from", "2026-03", "--format", "xml"]):
        result = CliRunner().invoke(cli.app, ["report", *arguments])
        assert result.exit_code == 2, result.output
