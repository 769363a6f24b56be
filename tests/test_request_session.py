"""A request's session commits once, at the end, yet keeps the meaning of commit and rollback
that every service relies on: a rollback withdraws only what came after the last commit.

A bulk action (several reflections, one by one, in one request) depends on it: a refused row
must not take the rows done before it with it."""

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.unit_of_work import RequestSession
from reflections.models import ApiKey
from reflections.platform import clock


@pytest.fixture
def names(engine: Engine) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    with Session(engine) as cleanup:
        cleanup.execute(delete(ApiKey).where(col(ApiKey.name).in_(made)))
        cleanup.commit()


def _key(names: list[str], key_hash: str | None = None) -> ApiKey:
    name = f"request-session-{uuid.uuid4().hex[:8]}"
    names.append(name)
    return ApiKey(
        name=name,
        prefix=name[-8:],
        key_hash=key_hash or uuid.uuid4().hex,
        created_at=clock.now(),
    )


def _stored(engine: Engine, names: list[str]) -> list[str]:
    with Session(engine) as reader:
        found = reader.exec(select(ApiKey.name).where(col(ApiKey.name).in_(names))).all()
    return sorted(found)


def test_a_rollback_keeps_what_was_committed_before_it(engine: Engine, names: list[str]) -> None:
    session = RequestSession(engine, expire_on_commit=False)
    try:
        first, second = _key(names), _key(names)
        session.add(first)
        session.commit()  # done: the first row of a bulk action
        assert _stored(engine, names) == []  # not yet: the request commits at the end
        session.add(second)
        session.flush()
        session.rollback()  # the second is refused
        third = _key(names)
        session.add(third)
        session.commit()
        session.commit_now()
    finally:
        session.close()
    assert _stored(engine, names) == sorted([first.name, third.name])


def test_a_failed_flush_is_withdrawn_alone(engine: Engine, names: list[str]) -> None:
    session = RequestSession(engine, expire_on_commit=False)
    try:
        kept = _key(names)
        session.add(kept)
        session.commit()
        session.add(_key(names, key_hash=kept.key_hash))  # a unique hash, twice
        with pytest.raises(IntegrityError):
            session.commit()
        session.rollback()
        assert session.commit_requested  # the first change still waits for the end
        session.commit_now()
    finally:
        session.close()
    assert _stored(engine, names) == [kept.name]


def test_a_rollback_before_any_commit_withdraws_everything(
    engine: Engine, names: list[str]
) -> None:
    session = RequestSession(engine, expire_on_commit=False)
    try:
        session.add(_key(names))
        session.flush()
        session.rollback()
        assert not session.commit_requested
    finally:
        session.close()
    assert _stored(engine, names) == []
