"""Request dependencies: the database session and who is calling."""

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import OAuth2PasswordBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api import unit_of_work
from reflections.actors import Actor
from reflections.errors import Forbidden
from reflections.messaging.sign_in import SESSION_PREFIX, Contact, contact_of_token
from reflections.models import ApiKey, User
from reflections.models.enums import Role
from reflections.organisation.auth import (
    InvalidCredentials,
    actor_for,
    client_for_api_key,
    user_for_token,
)
from reflections.platform import clock, logs
from reflections.platform.db import get_engine
from reflections.platform.security import hash_secret


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's session (:mod:`api.unit_of_work`): committed after the answer is built,
    not at all if an exception leaves the endpoint. Async: opening it does no I/O (a request
    with an Idempotency-Key had its key taken by the middleware, in the session it opened), so
    requests are spared two trips to the thread pool."""
    work = unit_of_work.current(request)
    if work is None:  # outside the middleware (an app without it)
        session = Session(get_engine(), expire_on_commit=False)
        try:
            yield session
        finally:
            await run_in_threadpool(session.close)
        return
    await work.wait_for_a_connection()
    session = work.open()
    try:
        yield session
    except BaseException:
        work.failed = True
        raise


SessionDep = Annotated[Session, Depends(get_session)]

# Documented in the OpenAPI (the "Authorize" button's scheme) by api.openapi_credentials.
oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
CITIZEN_KEY_HEADER = "X-Citizen-Key"
CITIZEN_KEY_DESCRIPTION = (
    "The key a citizen received with a submission, or the token of a session opened by a "
    "one-time code (POST /api/v1/citizen/sessions)."
)
API_KEY_HEADER = "X-API-Key"
API_KEY_DESCRIPTION = "A service client's API key."
CitizenKeyDep = Annotated[
    str | None, Header(alias=CITIZEN_KEY_HEADER, description=CITIZEN_KEY_DESCRIPTION)
]


@dataclass(frozen=True)
class Credentials:
    """What a request presents, read from its headers as they are. Not declared as FastAPI
    parameters: FastAPI resolves and validates each of those on every request, about 7% of a
    citizen's read (issue 18); api.openapi_credentials documents them instead."""

    token: str | None  # a staff member's bearer token
    citizen_key: str | None
    api_key: str | None

    @classmethod
    def of(cls, request: Request) -> "Credentials":
        headers = request.headers
        scheme, token = get_authorization_scheme_param(headers.get("Authorization"))
        return cls(
            token=token if scheme.lower() == "bearer" else None,  # as OAuth2PasswordBearer
            citizen_key=headers.get(CITIZEN_KEY_HEADER),
            api_key=headers.get(API_KEY_HEADER),
        )

    @property
    def any(self) -> bool:
        return bool(self.token or self.citizen_key or self.api_key)


@dataclass(frozen=True)
class Caller:
    """Staff (with a token), a citizen (with their key, a session opened by a one-time code,
    or reflections opened by a signed link or a hotline PIN) or a service client (API key)."""

    actor: Actor
    user: User | None = None
    citizen_key: str | None = None
    client: ApiKey | None = None
    contact: Contact | None = None  # a signed-in citizen: every reflection with this contact
    grants: frozenset[str] = frozenset()  # tracking codes a link or a PIN opened here

    @property
    def citizen_key_hash(self) -> str | None:
        return hash_secret(self.citizen_key) if self.citizen_key else None


def staff_user(request: Request, session: SessionDep) -> User:
    token = Credentials.of(request).token
    if not token:
        raise InvalidCredentials("log in first: this needs a staff token")
    return user_for_token(session, token)


StaffUser = Annotated[User, Depends(staff_user)]


def staff_actor(session: SessionDep, user: StaffUser) -> Actor:
    actor = actor_for(session, user)
    logs.note(actor_role=actor.role)
    return actor


StaffActor = Annotated[Actor, Depends(staff_actor)]


async def caller(request: Request, session: SessionDep) -> Caller:
    return await caller_for(session, Credentials.of(request))


async def caller_for(session: Session, sent: Credentials) -> Caller:
    """Who calls. A citizen key is taken as it is (no query): only a token, an API key or a
    sign-in session is looked up, in the thread pool."""
    token, citizen_key, api_key = sent.token, sent.citizen_key, sent.api_key
    looked_up = token or api_key or (citizen_key and citizen_key.startswith(SESSION_PREFIX))
    if looked_up:
        return await run_in_threadpool(identify, session, token, citizen_key, api_key)
    return identify(session, token, citizen_key, api_key)


def identify(
    session: Session, token: str | None, citizen_key: str | None, api_key: str | None
) -> Caller:
    if token:
        user = user_for_token(session, token)
        actor = actor_for(session, user)
        logs.note(actor_role=actor.role)
        return Caller(actor, user=user)
    logs.note(actor_role=Role.CITIZEN)
    if api_key:
        client = client_for_api_key(session, api_key)
        return Caller(Actor.citizen(), client=client)
    if citizen_key:
        return citizen_caller(session, citizen_key)
    raise InvalidCredentials("send a staff token, a citizen key or an API key")


def citizen_caller(session: Session, credential: str) -> Caller:
    """A citizen key, or a sign-in session's token (which must be live)."""
    if not credential.startswith(SESSION_PREFIX):
        return Caller(Actor.citizen(), citizen_key=credential)
    contact = contact_of_token(session, credential, clock.now())
    if contact is None:
        raise InvalidCredentials("this sign-in has ended or is unknown: sign in again")
    return Caller(Actor.citizen(), contact=contact)


CallerDep = Annotated[Caller, Depends(caller)]


async def optional_caller(request: Request, session: SessionDep) -> Caller | None:
    sent = Credentials.of(request)
    return await caller_for(session, sent) if sent.any else None


OptionalCallerDep = Annotated[Caller | None, Depends(optional_caller)]


def require_role(*roles: Role) -> Callable[[Actor], Actor]:
    allowed = frozenset(roles)

    def check(actor: StaffActor) -> Actor:
        if actor.role not in allowed:
            names = ", ".join(sorted(allowed))
            raise Forbidden(f"this needs the role {names}; you are {actor.role}")
        return actor

    return check
