"""API keys of service clients (Open311 apps, integrations).

Only a key's hash is stored, so the key is shown once, in the answer that creates it. Keys are
revoked, not deleted: the name and prefix stay to tell which client used to call.
"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.deps import SessionDep
from api.routes.admin.common import Body, IdCursor, Limit, Text, id_page, matching, one
from api.schemas import Page
from reflections.errors import Conflict
from reflections.models import ApiKey
from reflections.organisation.auth import create_api_key, revoke_api_key

router = APIRouter(prefix="/api-keys", tags=["admin: API keys"])
KeyName = Annotated[
    str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
]


class ApiKeyOut(BaseModel):
    name: str
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="Send as X-API-Key. Shown only now: it is stored hashed.")


class ApiKeyIn(Body):
    name: KeyName


def _view(row: ApiKey) -> ApiKeyOut:
    return ApiKeyOut.model_validate(row.model_dump())


def _key(session: Session, name: str) -> ApiKey:
    return one(session, select(ApiKey).where(ApiKey.name == name), f"no API key {name!r}")


@router.get("", response_model=Page[ApiKeyOut])
def list_keys(
    session: SessionDep,
    limit: Limit = 50,
    cursor: IdCursor = None,
    revoked: bool | None = None,
    q: Text = None,
) -> Page[ApiKeyOut]:
    statement = select(ApiKey)
    if revoked is not None:
        revoked_at = col(ApiKey.revoked_at)
        statement = statement.where(revoked_at.is_not(None) if revoked else revoked_at.is_(None))
    statement = matching(statement, q, ApiKey.name, ApiKey.prefix)
    rows, next_cursor = id_page(session, statement, ApiKey.id, limit, cursor)
    return Page(items=[_view(row) for row in rows], next_cursor=next_cursor)


@router.post("", status_code=201, response_model=ApiKeyCreated)
def create_key(session: SessionDep, body: ApiKeyIn) -> ApiKeyCreated:
    try:
        row, key = create_api_key(session, body.name)
    except (ValueError, IntegrityError) as error:  # a name taken before or meanwhile
        session.rollback()
        raise Conflict(f"an API key named {body.name} exists already") from error
    return ApiKeyCreated.model_validate(row.model_dump() | {"key": key})


@router.get("/{name}", response_model=ApiKeyOut)
def read_key(session: SessionDep, name: str) -> ApiKeyOut:
    return _view(_key(session, name))


@router.post("/{name}/revoke", response_model=ApiKeyOut)
def revoke_key(session: SessionDep, name: str) -> ApiKeyOut:
    """Idempotent: revoking a revoked key keeps its first revocation time."""
    return _view(revoke_api_key(session, _key(session, name).name))
