"""One transaction per request, committed once the answer is built (DESIGN.md §10: the commit is
the last fallible step of a request).

Inside a request the services' ``session.commit()`` only flushes and asks for the commit; the
middleware below makes it when the endpoint has built its whole response, just before sending
it. So a request that fails after its change (building the view, serialising it) changed
nothing, and a commit that fails (connection lost, lock timeout) is answered 503, never a 200 for
a change that is not there nor a 500 for one that is. The same transaction carries the record of
the request's ``Idempotency-Key`` (:mod:`api.idempotency`).
"""

from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import Any

from anyio import CapacityLimiter, to_thread
from anyio.lowlevel import RunVar
from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import Connection, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session

from api import faults, idempotency
from api.idempotency import AlreadyAnswered, Answer, Claim, InvalidKey, KeyReused
from reflections.models import IdempotencyRecord
from reflections.platform import logs
from reflections.platform.db import DATABASE_FAULTS, get_engine
from reflections.platform.settings import get_settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
SCOPE_KEY = "reflections.unit_of_work"
REPLAYED_ROUTE_KEY = "reflections.replayed_route"  # the route a replayed answer came from
_UNRECORDED = Answer(200, [], b"")  # a request without a key: its answer is not recorded


class RequestSession(Session):
    """A request's session: ``commit()`` flushes (constraint and version checks happen here)
    and leaves the commit to the middleware; ``rollback()`` withdraws what came after the last
    ``commit()``, as it would outside a request.

    The line between the two is a savepoint opened at each ``commit()``: a request that acts on
    several reflections one by one (a bulk action) and sees one of them refused keeps the others,
    all committed together at the end. On SQLite the savepoint is opened only inside a
    transaction the driver began for a write (a SAVEPOINT that began the transaction would
    commit it when released)."""

    commit_requested = False
    _since_commit: SessionTransaction | None = None

    def commit(self) -> None:
        self.flush()
        self.commit_requested = True
        if self._since_commit is not None and self._since_commit.is_active:
            self._since_commit.commit()  # RELEASE: part of the request's transaction now
        self._since_commit = self.begin_nested() if self._writing() else None

    def rollback(self) -> None:
        since = self._since_commit
        self._since_commit = None
        # a failed flush leaves the savepoint deactivated, not gone: roll back to it all the same
        if since is not None and self.get_nested_transaction() is since:
            try:
                since.rollback()
            except DBAPIError:  # the connection itself failed: nothing of the request stays
                pass
            else:
                self._since_commit = self.begin_nested()
                return
        super().rollback()
        self.commit_requested = False

    def commit_now(self) -> None:
        self._since_commit = None
        super().commit()
        self.commit_requested = False

    def _writing(self) -> bool:
        connection = self.connection()
        if connection.dialect.name != "sqlite":
            return True
        driver = connection.connection.driver_connection
        return bool(driver is not None and getattr(driver, "in_transaction", False))


def _bound_statements(_session: Session, tx: SessionTransaction, connection: Connection) -> None:
    """PostgreSQL: a request's statement or lock wait ends in time (then it is a 503). Set on
    the connection, once, by the first request that uses it (and again if the settings
    changed), not in every transaction: a round trip less per request (issue 18). Set outside
    any transaction, so that no rollback undoes it; the other users of the pool in the API
    process (readiness, metrics, purges: all short) wait no longer than a request either."""
    if connection.dialect.name != "postgresql" or tx.nested:
        return
    settings = get_settings()
    bounds = (
        int(settings.database_statement_timeout_seconds * 1000),
        int(settings.database_lock_timeout_seconds * 1000),
    )
    if connection.info.get(_BOUNDS) == bounds:
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    was_autocommit = driver.autocommit
    driver.autocommit = True  # nothing was sent in this transaction yet: it has not begun
    try:
        # Through SQLAlchemy: a connection found cut here is a fault like any other (a 503,
        # the pool told), not the driver's bare error.
        connection.exec_driver_sql(
            f"SELECT set_config('statement_timeout', '{bounds[0]}', false),"
            f" set_config('lock_timeout', '{bounds[1]}', false)"
        )
    finally:
        if not driver.closed:
            driver.autocommit = was_autocommit
    connection.info[_BOUNDS] = bounds


_BOUNDS = "request bounds"  # the statement and lock timeouts the connection carries, in ms
event.listen(RequestSession, "after_begin", _bound_statements)


def begin_reading(session: Session) -> None:
    """A request that only reads, on PostgreSQL: its statements run outside a transaction.
    Under READ COMMITTED each statement takes its own snapshot inside a transaction as well, so
    BEGIN and ROLLBACK bought nothing but two round trips (issue 18). Called before the first
    statement; the pool puts the connection back in transactions when it is returned."""
    if session.in_transaction() or session.get_bind().dialect.name != "postgresql":
        return
    session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def end_reading(session: Session) -> None:
    """A request that only read ends its transaction here, in the worker thread that read,
    rather than in one more trip to the thread pool once its answer is built. A session with
    something to commit (or written and not yet asked to) is left to the middleware."""
    if not isinstance(session, RequestSession) or session.commit_requested:
        return
    if session.new or session.dirty or session.deleted:
        return
    with suppress(*DATABASE_FAULTS):  # what was read is answered; the pool drops the connection
        session.close()


# Requests that may hold a pooled connection at once, per event loop (set by the app's
# lifespan; unset, as under a test client run without it, nothing is limited).
_CONNECTION_SLOTS: RunVar[CapacityLimiter] = RunVar("reflections_connection_slots")


def limit_connections(total: int) -> None:
    """At most ``total`` requests hold a session at a time: the pool's connections.

    A request keeps its connection across trips to the thread pool (a key taken, the endpoint,
    the commit). Were more requests than connections let into worker threads, the threads could
    all be waiting for a connection while the requests holding one wait for a thread: nothing
    moves until the pool's timeout, then 503s. So a request waits for its slot in the event
    loop, holding neither a thread nor a connection (issue 18)."""
    _CONNECTION_SLOTS.set(CapacityLimiter(total))


@dataclass
class UnitOfWork:
    """What one request did to the database, and the key it came with."""

    claim: Claim | None = None
    session: RequestSession | None = None
    record: IdempotencyRecord | None = None
    failed: bool = False  # an exception left the endpoint: nothing is committed
    replayed: bool = False
    slot: CapacityLimiter | None = None  # the connection slot it holds (limit_connections)

    async def wait_for_a_connection(self) -> None:
        """Before the request's session is opened: its turn among the pool's connections."""
        slots = _CONNECTION_SLOTS.get(None)
        if slots is not None and self.slot is None:
            await slots.acquire_on_behalf_of(id(self))
            self.slot = slots

    def give_back_the_slot(self) -> None:
        if self.slot is not None:
            self.slot.release_on_behalf_of(id(self))
            self.slot = None

    def take_key(self) -> Answer | None:
        """The answer remembered for the request's key, or None, the key then taken in the
        request's transaction (:meth:`open`): one trip to the thread pool and one transaction
        for both. Raises KeyReused, or AlreadyAnswered when a request with the key committed
        while this one waited for it; nothing is left open then."""
        assert self.claim is not None and self.session is None
        session = RequestSession(get_engine(), expire_on_commit=False)
        try:
            answer = idempotency.lookup(session, self.claim)
            if answer is None:
                try:
                    self.record = idempotency.insert(session, self.claim)
                except AlreadyAnswered:
                    self.replayed = True
                    raise
                self.session = session
                return None
        except BaseException:
            with suppress(*DATABASE_FAULTS):
                session.close()
            raise
        session.close()
        return answer

    def open(self) -> RequestSession:
        if self.session is None:
            assert self.claim is None, "a keyed request's session is opened by take_key"
            self.session = RequestSession(get_engine(), expire_on_commit=False)
        return self.session

    def has_to_write(self, answer: Answer) -> bool:
        """Whether :meth:`finish` commits anything (else it need not leave the event loop)."""
        if self.failed or self.replayed:
            return False
        asked = self.session is not None and self.session.commit_requested
        return asked or (self.claim is not None and answer.status < 400)

    def finish(self, answer: Answer) -> None:
        """Commit what the request asked to commit, with the answer to its key, then hand the
        connection back to the pool before the answer is sent."""
        if not self.has_to_write(answer):
            # rolls back what was read; if that fails, the answer stands (nothing of it was to
            # be kept) and the pool drops the connection
            with suppress(*DATABASE_FAULTS):
                self.close()
            return
        asked = self.session is not None and self.session.commit_requested
        remember = self.claim is not None and (answer.status < 400 or asked)
        session = self.open()
        try:
            if remember and self.claim is not None:
                kept = replace(answer, headers=idempotency.remembered_headers(answer.headers))
                idempotency.complete(session, self.claim, self.record, kept)
            session.commit_now()
        except BaseException:
            session.rollback()
            raise
        session.close()  # no I/O left: the commit gave the connection back

    def finish_unkeyed(self) -> None:
        """:meth:`finish` for a request without an Idempotency-Key whose answer is built: there
        is no answer to record, so it need not wait for the answer's bytes."""
        if self.claim is None and not self.failed and self.session is not None:
            self.finish(_UNRECORDED)

    def commit_before_stream(self) -> None:
        if not self.failed and self.session is not None and self.session.commit_requested:
            self.session.commit_now()

    def close(self) -> None:
        if self.session is not None:
            self.session.close()

    def holds_a_connection(self) -> bool:
        """Closing would roll back on a pooled connection (I/O: in the thread pool)."""
        return self.session is not None and self.session.in_transaction()


def current(request: Request) -> UnitOfWork | None:
    work = request.scope.get(SCOPE_KEY)
    return work if isinstance(work, UnitOfWork) else None


def end_writing(request: Request) -> None:
    """A write without an Idempotency-Key, its answer built (nothing fallible comes after),
    commits here, in the worker thread that wrote, rather than in one more trip to the thread
    pool; a failed commit leaves the endpoint as any fault does (a 503). With a key the
    middleware commits, recording the answer with it."""
    work = current(request)
    if work is not None:
        work.finish_unkeyed()


def replay(answer: Answer) -> Response:
    """The remembered answer, marked as such."""
    response = Response(answer.body, status_code=answer.status)
    response.raw_headers = [
        *((k, v) for k, v in answer.headers if k.lower() != b"content-length"),
        (b"content-length", str(len(answer.body)).encode()),
        (idempotency.REPLAYED_HEADER.lower().encode(), b"true"),
    ]
    return response


def _key_reused(path: str) -> Response:
    detail = "this Idempotency-Key was used for a different request; use a new key for a new one"
    return faults.refusal(path, 422, detail, "idempotency-key-reused", field="Idempotency-Key")


async def answered_meanwhile(request: Request, error: Exception) -> Response:
    """A duplicate waited for the first request with its key: the first one's answer."""
    assert isinstance(error, AlreadyAnswered)
    try:
        answer = await to_thread.run_sync(_lookup, error.claim)
    except KeyReused:
        return _key_reused(request.url.path)
    if answer is None:  # expired in the meantime: vanishingly rare
        detail = "the first request with this key is not answered yet; retry"
        return faults.refusal(request.url.path, 409, detail, "conflict")
    return replay(answer)


def _lookup(claim: Claim) -> Answer | None:
    with Session(get_engine()) as session:
        return idempotency.lookup(session, claim)


class TransactionalRequests:
    """Middleware: replays answered keys, and commits each request after its answer is built."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        work = UnitOfWork()
        try:
            await self._serve(work, scope, receive, send)
        finally:
            work.give_back_the_slot()

    async def _serve(self, work: UnitOfWork, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "POST":
            try:
                key = idempotency.key_of(scope)
            except InvalidKey as error:
                refusal = faults.refusal(
                    scope["path"], 422, str(error), "validation-error", field="Idempotency-Key"
                )
                await refusal(scope, receive, send)
                return
            if key is not None:
                body = await _read_body(receive)
                receive = _replaying(body, receive)
                work.claim = Claim.of(scope, key, body)
                try:
                    await work.wait_for_a_connection()
                    answer = await to_thread.run_sync(work.take_key)
                except KeyReused:
                    await _key_reused(scope["path"])(scope, receive, send)
                    return
                except AlreadyAnswered as error:
                    await (await answered_meanwhile(Request(scope), error))(scope, receive, send)
                    return
                except Exception as error:
                    if not faults.is_fault(error):
                        raise
                    await (await faults.app_answer(scope, error))(scope, receive, send)
                    return
                if answer is not None:
                    scope[REPLAYED_ROUTE_KEY] = answer.route
                    logs.note(tracking_code=answer.tracking_code)
                    await replay(answer)(scope, receive, send)
                    return
        scope[SCOPE_KEY] = work
        try:
            await self.app(scope, receive, _CommittingSend(scope, work, send))
        except BaseException:
            work.failed = True
            raise
        finally:
            if work.holds_a_connection():
                await to_thread.run_sync(work.close)
            else:
                work.close()


class _CommittingSend:
    """Holds the response until its body is complete, commits, then sends it (or, if the
    commit failed, the error's answer instead, dropping what the app sends after)."""

    def __init__(self, scope: Scope, work: UnitOfWork, send: Send) -> None:
        self.scope, self.work, self.send = scope, work, send
        self.start: Message | None = None
        self.replaced = False

    async def __call__(self, message: Message) -> None:
        if self.replaced:
            return
        if message["type"] == "http.response.start":
            self.start = message
            return
        if message["type"] != "http.response.body" or self.start is None:
            await self.send(message)
            return
        start, self.start = self.start, None
        streamed = bool(message.get("more_body", False))
        note = logs.current()
        answer = Answer(
            start["status"],
            list(start.get("headers", [])),
            message.get("body", b""),
            getattr(self.scope.get("route"), "path", None),
            note.tracking_code if note else None,
        )
        try:
            if streamed:
                await to_thread.run_sync(self.work.commit_before_stream)
            elif self.work.has_to_write(answer) or self.work.holds_a_connection():
                await to_thread.run_sync(self.work.finish, answer)
            else:
                self.work.close()
        except AlreadyAnswered as error:
            await self._replace(await answered_meanwhile(Request(self.scope), error))
            return
        except Exception as error:
            if not faults.is_fault(error):
                raise
            faults.log.warning("commit failed: %s", faults.describe(error))
            await self._replace(await faults.app_answer(self.scope, error))
            return
        await self.send(start)
        await self.send(message)

    async def _replace(self, response: Response) -> None:
        self.replaced = True

        async def nothing() -> Message:
            return {"type": "http.disconnect"}

        await response(self.scope, nothing, self.send)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replaying() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replaying
