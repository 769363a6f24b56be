"""Notices that reached nobody (an escalation to an area without a reachable supervisor, an
emergency with no duty officer to tell): what the admin digest lists, readable any time."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlmodel import col, select

from api.deps import SessionDep
from api.routes.admin.common import IdCursor, Limit, codes, id_page
from api.schemas import Page
from reflections.models import AdministrativeUnit, AdminWarning, Reflection

router = APIRouter(prefix="/warnings", tags=["admin: warnings"])


class WarningOut(BaseModel):
    kind: str = Field(description="escalation_unheard or emergency_unheard.")
    tracking_code: str | None
    area: str | None = Field(description="Code of the area where nobody could be told.")
    escalation_level: int | None
    created_at: datetime
    digested_at: datetime | None = Field(description="When the admin digest listed it.")


@router.get("", response_model=Page[WarningOut])
def list_warnings(
    session: SessionDep,
    limit: Limit = 50,
    cursor: IdCursor = None,
    pending: Annotated[bool | None, Query(description="Only those not digested yet.")] = None,
) -> Page[WarningOut]:
    statement = select(AdminWarning)
    if pending is not None:
        digested = col(AdminWarning.digested_at)
        statement = statement.where(digested.is_(None) if pending else digested.is_not(None))
    rows, next_cursor = id_page(session, statement, AdminWarning.id, limit, cursor)
    areas = codes(session, AdministrativeUnit, (row.administrative_unit_id for row in rows))
    tracking = dict(
        session.exec(
            select(Reflection.id, Reflection.tracking_code).where(
                col(Reflection.id).in_({row.reflection_id for row in rows})
            )
        ).all()
    )
    items = [
        WarningOut(
            kind=row.kind,
            tracking_code=tracking.get(row.reflection_id),
            area=areas.get(row.administrative_unit_id or 0),
            escalation_level=row.detail.get("escalation_level"),
            created_at=row.created_at,
            digested_at=row.digested_at,
        )
        for row in rows
    ]
    return Page(items=items, next_cursor=next_cursor)
