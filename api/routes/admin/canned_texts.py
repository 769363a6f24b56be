"""Canned texts: results and reasons offered per category in the staff's action forms.

Rows are never rewritten: PATCH retires the text and returns its successor (a new id), DELETE
withdraws it; ``include_retired`` lists what was withdrawn or replaced, by whom and when.
"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from api.deps import SessionDep, require_role
from api.routes.admin.common import Body, IdCursor, Limit, codes, id_page
from api.schemas import Page
from reflections.actors import Actor
from reflections.models import CannedText, Category, User
from reflections.models.enums import LifecycleEvent, Role
from reflections.organisation import canned_texts

router = APIRouter(prefix="/canned-texts", tags=["admin: canned texts"])
Admin = Annotated[Actor, Depends(require_role(Role.ADMIN))]
Title = Annotated[str, Field(min_length=1, max_length=canned_texts.TITLE_MAX)]
Text = Annotated[str, Field(min_length=1, max_length=canned_texts.TEXT_MAX)]


class CannedTextOut(BaseModel):
    id: int
    event: LifecycleEvent = Field(description="The action whose free text it fills.")
    category: str | None = Field(description="Category code; none: every category.")
    title: str
    text: str
    replaces: int | None = Field(description="The id of the text this one replaced.")
    created_at: datetime
    created_by: str | None
    retired_at: datetime | None
    retired_by: str | None


class CannedTextIn(Body):
    event: LifecycleEvent = Field(examples=["process"])
    category: str | None = Field(default=None, max_length=64, description="None: all.")
    title: Title = Field(examples=["Đã dọn dẹp, trả lại vỉa hè"])
    text: Text


class CannedTextChange(Body):
    category: str | None = Field(default=None, max_length=64)
    title: Title
    text: Text


def views(session: Session, rows: list[CannedText]) -> list[CannedTextOut]:
    users = {row.created_by_id for row in rows} | {row.retired_by_id for row in rows}
    statement = select(User.id, User.username).where(col(User.id).in_(users - {None}))
    names = dict(session.exec(statement).all())
    categories = codes(session, Category, [row.category_id for row in rows])
    return [
        CannedTextOut(
            id=row.id or 0,
            event=row.event,
            category=categories.get(row.category_id or 0),
            title=row.title,
            text=row.text,
            replaces=row.replaces_id,
            created_at=row.created_at,
            created_by=names.get(row.created_by_id),
            retired_at=row.retired_at,
            retired_by=names.get(row.retired_by_id),
        )
        for row in rows
    ]


@router.get("", response_model=Page[CannedTextOut])
def list_canned_texts(
    session: SessionDep,
    limit: Limit = 50,
    cursor: IdCursor = None,
    event: LifecycleEvent | None = None,
    include_retired: Annotated[bool, Query(description="Also replaced and withdrawn.")] = False,
) -> Page[CannedTextOut]:
    statement = select(CannedText)
    if event is not None:
        statement = statement.where(CannedText.event == event)
    if not include_retired:
        statement = statement.where(col(CannedText.retired_at).is_(None))
    rows, next_cursor = id_page(session, statement, CannedText.id, limit, cursor)
    return Page(items=views(session, rows), next_cursor=next_cursor)


@router.post("", status_code=201, response_model=CannedTextOut)
def create_canned_text(session: SessionDep, admin: Admin, body: CannedTextIn) -> CannedTextOut:
    row = canned_texts.create(session, admin, body.event, body.category, body.title, body.text)
    return views(session, [row])[0]


@router.patch("/{text_id}", response_model=CannedTextOut)
def change_canned_text(
    session: SessionDep, admin: Admin, text_id: int, body: CannedTextChange
) -> CannedTextOut:
    """Retires the text and returns its successor, with a new id."""
    row = canned_texts.replace(session, admin, text_id, body.category, body.title, body.text)
    return views(session, [row])[0]


@router.delete("/{text_id}", status_code=204, response_class=Response)
def withdraw_canned_text(session: SessionDep, admin: Admin, text_id: int) -> None:
    canned_texts.retire(session, admin, text_id)
