"""``Idempotency-Key`` on POST (DESIGN.md §10, "retries never duplicate").

A client that lost an answer sends the same request again with the same key: within
``REFLECTIONS_IDEMPOTENCY_HOURS`` it gets the first answer back instead of a second change. The
record of a key is inserted at the start of the request's transaction, so a duplicate arriving
while the first runs waits on that row (PostgreSQL's unique index, SQLite's write lock) and then
finds the answer, and it is completed with the answer in the transaction of the change: both
are committed together or not at all, so a restart or a killed response loses neither.

A key is scoped to the caller's credentials (token, citizen key or API key headers) and bound to
the request (method, path, query and body; a multipart boundary does not count): the same key
with another request is a 422. HTML forms, which cannot send headers, carry the key in the
``idempotency_key`` query parameter of their action. Only answers below 400, or to requests that
changed something, are remembered: a refusal changed nothing, and repeating it is harmless.
"""

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import object_session
from sqlmodel import Session, col, select

from reflections.models import IdempotencyRecord
from reflections.platform import clock
from reflections.platform.settings import get_settings

HEADER = "idempotency-key"
QUERY_PARAMETER = "idempotency_key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_PATTERN = re.compile(r"[\x21-\x7e]{16,255}")
_CREDENTIAL_HEADERS = (b"authorization", b"x-citizen-key", b"x-api-key")
# Not part of a remembered answer: about the connection or this very response.
_UNREMEMBERED = {"content-length", "date", "server", "connection", "x-request-id"}

Headers = list[tuple[bytes, bytes]]


class InvalidKey(ValueError):
    """The key is not 16 to 255 visible ASCII characters."""


class KeyReused(Exception):
    """The key already answered a different request."""


class AlreadyAnswered(Exception):
    """A request with this key committed its answer while this one waited for it."""

    def __init__(self, claim: "Claim") -> None:
        super().__init__("answered already")
        self.claim = claim


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Headers
    body: bytes
    route: str | None = None  # for the request line of a replay, answered before routing
    tracking_code: str | None = None


@dataclass(frozen=True)
class Claim:
    """A POST with a key: the hashes that find its record, and the secret that opens it."""

    key_hash: str
    request_hash: str
    secret: bytes  # derived from the key itself, never stored

    @classmethod
    def of(cls, scope: Mapping[str, Any], key: str, body: bytes) -> "Claim":
        headers = dict(scope["headers"])
        credentials = b"\0".join(headers.get(name, b"") for name in _CREDENTIAL_HEADERS)
        caller = hashlib.sha256(credentials).digest()
        material = caller + key.encode("ascii")
        return cls(
            key_hash=hashlib.sha256(b"key\0" + material).hexdigest(),
            request_hash=_request_hash(scope, headers, body),
            secret=hashlib.sha256(b"answer\0" + material).digest(),
        )


def key_of(scope: Mapping[str, Any]) -> str | None:
    """The request's key (header first, else the form action's query parameter), if any."""
    for name, value in scope["headers"]:
        if name == HEADER.encode():
            return _checked(value.decode("latin-1").strip())
    for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
        if name == QUERY_PARAMETER:
            return _checked(value)
    return None


def _checked(key: str) -> str:
    if not KEY_PATTERN.fullmatch(key):
        raise InvalidKey("Idempotency-Key must be 16 to 255 visible ASCII characters, e.g. a UUID")
    return key


def _request_hash(scope: Mapping[str, Any], headers: dict[bytes, bytes], body: bytes) -> str:
    query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    kept = urlencode(sorted((k, v) for k, v in query if k != QUERY_PARAMETER))
    content_type = headers.get(b"content-type", b"").decode("latin-1")
    boundary = re.search(r"boundary=\"?([^\";]+)", content_type)
    if boundary:  # a browser or client sending again picks a new boundary: not a new request
        body = body.replace(boundary.group(1).encode("latin-1"), b"--")
        content_type = content_type[: boundary.start()]
    digest = hashlib.sha256()
    for part in (scope["method"], scope["path"], kept, content_type):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(body)
    return digest.hexdigest()


def lookup(session: Session, claim: Claim) -> Answer | None:
    """The remembered answer to this key; raises KeyReused if it answered another request."""
    record = session.exec(
        select(IdempotencyRecord).where(
            IdempotencyRecord.key_hash == claim.key_hash,
            IdempotencyRecord.expires_at > clock.now(),
        )
    ).first()
    if record is None or record.answer is None:
        return None
    if record.request_hash != claim.request_hash:
        raise KeyReused()
    return _decrypt(claim, record.answer)


def insert(session: Session, claim: Claim) -> IdempotencyRecord:
    """Take the key for this request's transaction, first thing: a concurrent duplicate waits
    here until this transaction ends, then raises AlreadyAnswered."""
    now = clock.now()
    session.execute(
        delete(IdempotencyRecord).where(
            col(IdempotencyRecord.key_hash) == claim.key_hash,
            col(IdempotencyRecord.expires_at) <= now,
        )
    )
    hours = get_settings().idempotency_hours
    record = IdempotencyRecord(
        key_hash=claim.key_hash,
        request_hash=claim.request_hash,
        created_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    session.add(record)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise AlreadyAnswered(claim) from None
    return record


def complete(
    session: Session, claim: Claim, record: IdempotencyRecord | None, answer: Answer
) -> None:
    """Write the answer into the key's record, in the request's transaction."""
    if record is None or object_session(record) is not session:  # a refusal rolled it back
        record = insert(session, claim)
    record.answer = _encrypt(claim, answer)
    session.add(record)
    session.flush()


def remembered_headers(headers: Headers) -> Headers:
    return [(k, v) for k, v in headers if k.decode("latin-1").lower() not in _UNREMEMBERED]


def purge_expired(session: Session, batch: int = 1000) -> int:
    """Forget answers past their time, in short transactions; returns how many."""
    purged = 0
    while True:
        ids = session.exec(
            select(IdempotencyRecord.id)
            .where(IdempotencyRecord.expires_at <= clock.now())
            .limit(batch)
        ).all()
        if ids:
            session.execute(delete(IdempotencyRecord).where(col(IdempotencyRecord.id).in_(ids)))
        session.commit()
        purged += len(ids)
        if len(ids) < batch:
            return purged


def _encrypt(claim: Claim, answer: Answer) -> bytes:
    plain = json.dumps(
        {
            "status": answer.status,
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in answer.headers],
            "body": answer.body.decode("latin-1"),
            "route": answer.route,
            "tracking_code": answer.tracking_code,
        }
    ).encode()
    nonce = os.urandom(12)
    return nonce + AESGCM(claim.secret).encrypt(nonce, plain, claim.key_hash.encode())


def _decrypt(claim: Claim, blob: bytes) -> Answer:
    plain = AESGCM(claim.secret).decrypt(blob[:12], blob[12:], claim.key_hash.encode())
    data = json.loads(plain)
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in data["headers"]]
    body = data["body"].encode("latin-1")
    return Answer(int(data["status"]), headers, body, data.get("route"), data.get("tracking_code"))


PURGE_EVERY_SECONDS = 3600.0


async def purge_periodically() -> None:
    """In each API process: forget expired answers every hour (harmless on several at once)."""
    from anyio import sleep, to_thread

    from api import faults
    from reflections.platform.db import get_engine

    def purge() -> int:
        with Session(get_engine()) as session:
            return purge_expired(session)

    while True:
        try:
            await to_thread.run_sync(purge)
        except Exception as error:
            if not faults.is_fault(error):
                raise
            faults.log.warning("idempotency purge: %s", faults.describe(error))
        await sleep(PURGE_EVERY_SECONDS)
