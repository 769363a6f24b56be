"""Reports per handling unit, administrative level, category and month (DESIGN.md §7).

Auditors, coordinators and admins see every unit; supervisors the units under their areas and
handlers their own units (:func:`reflections.organisation.visibility.units_in_scope`): for
them, reflections no unit holds and the IOC's classify steps are left out. The definitions of
the figures are in :mod:`reflections.oversight.reports`.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import SessionDep, require_role
from api.problems import problem_responses
from reflections.actors import Actor
from reflections.models.enums import Role
from reflections.organisation.visibility import units_in_scope
from reflections.oversight.report_types import GroupBy, ReportQuery
from reflections.oversight.reports import build_report
from reflections.platform import clock

router = APIRouter(prefix="/api/v1/reports", tags=["reports"], responses=problem_responses())
Reader = Annotated[
    Actor,
    Depends(
        require_role(Role.AUDITOR, Role.COORDINATOR, Role.ADMIN, Role.SUPERVISOR, Role.HANDLER)
    ),
]
MONTH_PATTERN = r"^\d{4}-\d{2}$"
Percent = Annotated[float | None, Field(ge=0, le=100, description="0–100, 1 decimal.")]
Hours = Annotated[float | None, Field(ge=0, description="Working hours, 1 decimal.")]


class NamedView(BaseModel):
    code: str
    name: str


class GroupView(BaseModel):
    """Only the dimensions asked for in ``group_by``; null: no unit, level or category."""

    handling_unit: NamedView | None = None
    level: str | None = None
    category: NamedView | None = None
    month: str | None = Field(default=None, description="Local month received, YYYY-MM.")


class StepView(BaseModel):
    finished: int = Field(description="Steps finished (step records).")
    on_time: int = Field(description="Of those, ended by the due date (extensions included).")
    on_time_pct: Percent
    median_hours: Hours = Field(description="Nearest-rank median time spent.")
    p90_hours: Hours = Field(description="Nearest-rank 90th percentile of the time spent.")


class StepsView(BaseModel):
    classify: StepView
    accept: StepView
    process: StepView


class FiguresView(BaseModel):
    received: int
    rejected: int
    processed: int = Field(description="Result published at least once.")
    open_overdue: int = Field(description="Open now, the running step past its due date.")
    escalations: int
    extensions_requested: int
    extensions_granted: int
    reopened: int
    reopen_rate_pct: Percent = Field(description="Reopened among processed.")
    rated: int
    satisfaction_pct: Percent = Field(description="Ratings of 4 or 5 among the rated.")
    mean_rating: float | None = Field(ge=1, le=5, description="2 decimals.")
    steps: StepsView


class RowView(FiguresView):
    group: GroupView


class FiltersView(BaseModel):
    handling_unit: str | None
    category: str | None
    level: str | None


class ReportView(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    month_from: str = Field(alias="from")
    month_to: str = Field(alias="to")
    group_by: list[GroupBy]
    filters: FiltersView
    time_zone: str
    generated_at: str = Field(description="The instant 'open overdue' is counted at (UTC).")
    rows: list[RowView]
    total: FiguresView


# The report's filters, shared with its export (api/routes/exports.py).
UnitFilter = Annotated[
    str | None, Query(max_length=64, description="Only this handling unit (code).")
]
CategoryFilter = Annotated[
    str | None, Query(max_length=64, description="Only this category (code).")
]
LevelFilter = Annotated[
    str | None, Query(max_length=32, description="Only units at this administrative level.")
]


@router.get("", response_model=ReportView, response_model_exclude_unset=True)
def report(
    session: SessionDep,
    actor: Reader,
    month_from: Annotated[
        str,
        Query(
            alias="from",
            pattern=MONTH_PATTERN,
            description="First month received (local time), YYYY-MM.",
            examples=["2026-03"],
        ),
    ],
    month_to: Annotated[
        str | None,
        Query(
            alias="to",
            pattern=MONTH_PATTERN,
            description="Last month received, included (default: `from`).",
            examples=["2026-03"],
        ),
    ] = None,
    group_by: Annotated[
        list[GroupBy] | None,
        Query(description="Repeat for several, in the order wanted (default: all four)."),
    ] = None,
    handling_unit: UnitFilter = None,
    category: CategoryFilter = None,
    level: LevelFilter = None,
) -> ReportView:
    """Received, processed, on-time % and median / 90th percentile working time per step,
    open overdue now, escalations, extensions, reopen rate and satisfaction, per group of the
    reflections received in the months asked for, and in total."""
    query = ReportQuery.parse(
        month_from,
        month_to,
        group_by,
        handling_unit=handling_unit,
        category=category,
        level=level,
    )
    result = build_report(session, query, clock.now(), within_units=units_in_scope(session, actor))
    return ReportView.model_validate(result.as_dict())
