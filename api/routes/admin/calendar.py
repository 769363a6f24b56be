"""The working calendar (DESIGN.md §2, §10): the government's moved days, kept by admins.

A change never moves a running step: it applies to steps that start from
``REFLECTIONS_CALENDAR_REFRESH_SECONDS`` after it (``effective_from``), when every process has
read it. Nothing is deleted: ``/history`` shows who set or removed what, and when.
"""

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from api.deps import SessionDep, require_role
from api.routes.admin.common import Body
from reflections.actors import Actor
from reflections.models import CalendarDay, User
from reflections.models.enums import CalendarDayKind, Role
from reflections.platform import clock
from reflections.timekeeping import calendar_days

router = APIRouter(prefix="/calendar", tags=["admin: working calendar"])
Admin = Annotated[Actor, Depends(require_role(Role.ADMIN))]
Year = Annotated[int, Query(ge=calendar_days.FIRST_YEAR, le=calendar_days.LAST_YEAR)]


class CalendarDayOut(BaseModel):
    date: date
    kind: CalendarDayKind
    note: str | None
    effective_from: datetime = Field(description="Steps starting from then count this day so.")
    effective_to: datetime | None
    set_at: datetime
    set_by: str | None = Field(description="Username; none when seeded.")
    removed_at: datetime | None
    removed_by: str | None


class CalendarDayIn(Body):
    kind: CalendarDayKind
    note: str | None = Field(default=None, max_length=300, examples=["Nghỉ bù Tết Dương lịch"])


def calendar_day_views(session: Session, rows: list[CalendarDay]) -> list[CalendarDayOut]:
    ids = {row.created_by_id for row in rows} | {row.retired_by_id for row in rows}
    names = dict(
        session.exec(select(User.id, User.username).where(col(User.id).in_(ids - {None}))).all()
    )
    return [
        CalendarDayOut(
            date=row.day,
            kind=row.kind,
            note=row.note,
            effective_from=row.effective_from,
            effective_to=row.effective_to,
            set_at=row.created_at,
            set_by=names.get(row.created_by_id),
            removed_at=row.retired_at,
            removed_by=names.get(row.retired_by_id),
        )
        for row in rows
    ]


@router.get("", response_model=list[CalendarDayOut])
def list_days(session: SessionDep, year: Year) -> list[CalendarDayOut]:
    """The year's days off and working days as they stand, by date."""
    return calendar_day_views(session, calendar_days.rows_of_year(session, year, current_only=True))


@router.get("/history", response_model=list[CalendarDayOut])
def history(session: SessionDep, year: Year) -> list[CalendarDayOut]:
    """Every decision about the year's dates, removed ones too, newest first within a date."""
    return calendar_day_views(
        session, calendar_days.rows_of_year(session, year, current_only=False)
    )


@router.put("/{day}", response_model=CalendarDayOut)
def set_day(
    session: SessionDep, actor: Admin, day: date, body: CalendarDayIn, response: Response
) -> CalendarDayOut:
    """Make a date a day off or a working day (201 when the date had no entry)."""
    existed = calendar_days.current_row(session, day) is not None
    row, changed = calendar_days.set_day(
        session, day, body.kind, body.note, actor.user_id, clock.now()
    )
    if changed and not existed:
        response.status_code = 201
    return calendar_day_views(session, [row])[0]


@router.delete("/{day}", status_code=204, response_class=Response)
def remove_day(session: SessionDep, actor: Admin, day: date) -> None:
    """The date follows the weekly schedule and the public holidays again."""
    calendar_days.remove_day(session, day, actor.user_id, clock.now())
