"""Staff log-in (issue 13): growing waits after failures, a lockout that a right password does
not lift and that an admin sees and lifts, the same work for unknown usernames."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session

from reflections.models.enums import Role
from reflections.organisation import auth
from reflections.organisation.users import create_user
from reflections.platform import clock, security
from tests.abuse_helpers import Limits, client_from, new_ip, switch_limits
from tests.api_helpers import as_user
from tests.web.pages import csrf, log_in, text_of

PASSWORD = "river-lantern-citadel-42"
TOKEN = "/api/v1/auth/token"


@pytest.fixture
def limits_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[Limits]:
    yield from switch_limits(monkeypatch)


@pytest.fixture
def username(session: Session) -> str:
    name = f"clerk.{uuid.uuid4().hex[:8]}"
    create_user(session, name, "Phan Thị Lan", Role.AUDITOR, PASSWORD, [], [])
    return name


def _try(client: TestClient, username: str, password: str) -> Response:
    response: Response = client.post(TOKEN, data={"username": username, "password": password})
    return response


def test_failures_make_each_next_try_wait_longer(
    app: FastAPI, username: str, limits_on: Limits
) -> None:
    limits_on(login_delay_after_failures=2, login_failures_before_lockout=20)
    client = client_from(app, new_ip())
    start = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    with clock.frozen_at(start):
        assert [_try(client, username, "wrong").status_code for _ in range(2)] == [401, 401]
        early = _try(client, username, PASSWORD)  # even the right password: not looked at
        assert early.status_code == 429
        assert early.headers["content-type"] == "application/problem+json"
        assert early.json()["code"] == "too_many_logins"
        assert early.headers["Retry-After"] == "1"
    waits = []
    for second in (1, 3, 7):  # each failure doubles the wait: 1, 2, 4 s
        with clock.frozen_at(start + timedelta(seconds=second)):
            assert _try(client, username, "wrong").status_code == 401
            waits.append(_try(client, username, "wrong").headers.get("Retry-After"))
    assert waits == ["2", "4", "8"]
    with clock.frozen_at(start + timedelta(seconds=15)):
        assert _try(client, username, PASSWORD).status_code == 200
        # A success clears the count: the next failures wait for nothing.
        assert _try(client, username, "wrong").status_code == 401
        assert _try(client, username, "wrong").status_code == 401


def test_a_lockout_holds_against_the_right_password_until_an_admin_lifts_it(
    app: FastAPI, client: TestClient, username: str, limits_on: Limits
) -> None:
    limits_on(login_delay_after_failures=100, login_failures_before_lockout=5)
    address = new_ip()
    attacker = client_from(app, address)
    answers = [_try(attacker, username, f"guess-{n}").status_code for n in range(7)]
    assert answers == [401, 401, 401, 401, 401, 429, 429]
    # The owner, from another address, with the right password: still locked.
    owner = client_from(app, new_ip())
    locked = _try(owner, username, PASSWORD)
    assert locked.status_code == 429 and locked.json()["code"] == "login_locked"

    admin = as_user(client, "admin")
    listed = client.get("/api/v1/admin/lockouts", headers=admin).json()
    mine = {(lock["scope"], lock["subject"]): lock for lock in listed}
    assert mine[("username", username)]["failures"] == 5
    assert ("address", address) in mine
    assert (
        client.get("/api/v1/admin/lockouts", headers=as_user(client, "auditor")).status_code == 403
    )

    assert (
        client.delete(f"/api/v1/admin/lockouts/username/{username}", headers=admin).status_code
        == 204
    )
    assert (
        client.delete(f"/api/v1/admin/lockouts/username/{username}", headers=admin).status_code
        == 404
    )
    assert _try(owner, username, PASSWORD).status_code == 200
    # The attacker's address stays locked for any username until lifted too.
    assert _try(attacker, username, PASSWORD).status_code == 429
    client.delete(f"/api/v1/admin/lockouts/address/{address}", headers=admin)
    assert _try(attacker, username, PASSWORD).status_code == 200


def test_unknown_usernames_are_throttled_and_cost_the_same_hash(
    app: FastAPI, username: str, limits_on: Limits, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits_on(login_delay_after_failures=100, login_failures_before_lockout=3)
    verified: list[str] = []
    real = security.verify_password

    def counting(password: str, password_hash: str) -> bool:  # a spy: the real hash runs
        verified.append(password_hash)
        return real(password, password_hash)

    monkeypatch.setattr(auth, "verify_password", counting)
    client = client_from(app, new_ip())
    assert _try(client, username, "wrong").status_code == 401
    assert _try(client_from(app, new_ip()), "nobody-by-that-name", "wrong").status_code == 401
    assert len(verified) == 2 and all(h.startswith("$argon2") for h in verified)
    ghost = [_try(client_from(app, new_ip()), "ghost.user", "x").status_code for _ in range(4)]
    assert ghost == [401, 401, 401, 429]


def test_the_log_in_page_says_429_in_the_readers_language(
    app: FastAPI, username: str, limits_on: Limits
) -> None:
    limits_on(login_delay_after_failures=100, login_failures_before_lockout=2)
    browser = client_from(app, new_ip())
    form = {"username": username, "password": "wrong"}
    for _ in range(2):
        assert browser.post("/login", data={"csrf": csrf(browser), **form}).status_code == 401
    page = browser.post("/login", data={"csrf": csrf(browser), **form, "password": PASSWORD})
    assert page.status_code == 429 and int(page.headers["Retry-After"]) > 0
    assert "đã bị khóa sau nhiều lần đăng nhập sai" in text_of(page)
    assert "reflections_staff" not in page.headers.get("set-cookie", "")
    browser.get("/language/en")
    page = browser.post("/login", data={"csrf": csrf(browser), **form, "password": PASSWORD})
    assert "locked after repeated failed log-ins" in text_of(page)


def test_the_admin_page_lists_and_lifts_a_lock(
    app: FastAPI, username: str, limits_on: Limits
) -> None:
    limits_on(login_delay_after_failures=100, login_failures_before_lockout=2)
    attacker = client_from(app, new_ip())
    assert [_try(attacker, username, "x").status_code for _ in range(3)] == [401, 401, 429]

    admin = client_from(app, new_ip())
    log_in(admin, "admin")
    page = admin.get("/console/admin/lockouts")
    assert page.status_code == 200
    assert f'data-lock="username:{username}"' in page.text
    assert "Tên đăng nhập" in text_of(page)
    lifted = admin.post(
        "/console/admin/lockouts/lift",
        data={
            "csrf": csrf(admin, "/console/admin/lockouts"),
            "scope": "username",
            "subject": username,
        },
    )
    assert lifted.status_code == 303
    assert f'data-lock="username:{username}"' not in admin.get("/console/admin/lockouts").text
    assert _try(client_from(app, new_ip()), username, PASSWORD).status_code == 200

    clerk = client_from(app, new_ip())
    log_in(clerk, "auditor")
    assert clerk.get("/console/admin/lockouts").status_code == 403
