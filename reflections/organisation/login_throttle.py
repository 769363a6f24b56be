"""Staff log-in throttle (issue 13): growing waits after failures, then a lockout an admin sees
and lifts; per username and per client address, kept in the database so every replica and
every restart sees the same counts.

After ``login_delay_after_failures`` failures each further try must wait 1, 2, 4 ... seconds
(at most ``login_delay_max_seconds``) after the last failure, and a try made sooner is
refused with 429 without looking at the password. After ``login_failures_before_lockout``
failures the username (or address) is locked: every try is refused, the right password
included, until an admin lifts the lock or ``login_failure_window_minutes`` pass without a
new failure. A success clears the failures of its username and address (not a lock).

The counts are written in a session of their own and committed at once: the request that
failed rolls its own transaction back, and the failure must outlive it.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from reflections.errors import RateLimited
from reflections.models import LoginThrottle
from reflections.platform import clock
from reflections.platform.db import get_engine
from reflections.platform.settings import get_settings

USERNAME, ADDRESS = "username", "address"


@dataclass(frozen=True)
class Lockout:
    scope: str
    subject: str
    failures: int
    locked_at: datetime
    until: datetime


def _subjects(username: str, address: str) -> list[tuple[str, str]]:
    return [(USERNAME, username.strip().lower()[:255]), (ADDRESS, address[:255])]


def _row(session: Session, scope: str, subject: str) -> LoginThrottle | None:
    return session.exec(
        select(LoginThrottle).where(LoginThrottle.scope == scope, LoginThrottle.subject == subject)
    ).first()


def _window() -> timedelta:
    return timedelta(minutes=get_settings().login_failure_window_minutes)


def _stale(row: LoginThrottle, now: datetime) -> bool:
    """No failure for a whole window: the count (and any lock) has lapsed."""
    return row.last_failure_at + _window() <= now


def wait_after(failures: int) -> int:
    """Seconds a try must wait after the last of ``failures`` failures (0: none)."""
    settings = get_settings()
    beyond = failures - settings.login_delay_after_failures
    if beyond < 0:
        return 0
    return int(min(2**beyond, settings.login_delay_max_seconds))


def check(username: str, address: str) -> None:
    """Refuse (429) a try that comes while locked or before its wait is over."""
    if not get_settings().abuse_limits:
        return
    now = clock.now()
    with Session(get_engine()) as session:
        for scope, subject in _subjects(username, address):
            row = _row(session, scope, subject)
            if row is None or _stale(row, now):
                continue
            if row.locked_at is not None:
                left = (row.last_failure_at + _window() - now).total_seconds()
                raise RateLimited(
                    f"this {scope} is locked after {row.failures} failed log-ins; "
                    "an administrator can lift the lock",
                    math.ceil(left),
                    "login_locked",
                )
            ready = row.last_failure_at + timedelta(seconds=wait_after(row.failures))
            if now < ready:
                raise RateLimited(
                    "too many failed log-ins; wait before trying again",
                    math.ceil((ready - now).total_seconds()),
                    "too_many_logins",
                )


def failed(username: str, address: str) -> None:
    """Count a failure against the username (known or not) and the address."""
    if not get_settings().abuse_limits:
        return
    now, limit = clock.now(), get_settings().login_failures_before_lockout
    with Session(get_engine()) as session:
        for scope, subject in _subjects(username, address):
            row = _row(session, scope, subject)
            if row is None:
                row = LoginThrottle(scope=scope, subject=subject, last_failure_at=now)
            elif _stale(row, now):
                row.failures, row.locked_at = 0, None
            row.failures += 1
            row.last_failure_at = now
            if row.failures >= limit and row.locked_at is None:
                row.locked_at = now
            session.add(row)
        session.commit()


def succeeded(username: str, address: str) -> None:
    """A right password (checked only when not locked) clears the failures counted."""
    if not get_settings().abuse_limits:
        return
    with Session(get_engine()) as session:
        for scope, subject in _subjects(username, address):
            row = _row(session, scope, subject)
            if row is not None and row.locked_at is None:
                session.delete(row)
        session.commit()


def lockouts(session: Session) -> list[Lockout]:
    """The locks in force, newest first (the admin API and page)."""
    now = clock.now()
    rows = session.exec(
        select(LoginThrottle)
        .where(col(LoginThrottle.locked_at).is_not(None))
        .order_by(col(LoginThrottle.locked_at).desc())
    ).all()
    return [
        Lockout(r.scope, r.subject, r.failures, r.locked_at, r.last_failure_at + _window())
        for r in rows
        if r.locked_at is not None and not _stale(r, now)
    ]


def lift(session: Session, scope: str, subject: str) -> bool:
    """An admin lifts a lock (and its failures); False if there was none. Not committed."""
    row = _row(session, scope, subject)
    if row is None or row.locked_at is None:
        return False
    session.delete(row)
    return True
