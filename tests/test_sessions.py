"""Sessions end (issue 13): log-out, a new password, another role and disabling revoke every
token at once; page sessions stop renewing at their absolute lifetime; tokens carry a jti;
the citizen's cookie lasts weeks, Secure behind https."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from reflections.models.enums import Role
from reflections.organisation.users import create_user
from reflections.platform import clock
from reflections.platform.settings import get_settings
from tests.api_helpers import as_user
from tests.web.pages import csrf, new_browser

PASSWORD = "river-lantern-citadel-42"


@pytest.fixture
def username(session: Session) -> str:
    name = f"desk.{uuid.uuid4().hex[:8]}"
    create_user(session, name, "Hồ Văn Nam", Role.COORDINATOR, PASSWORD, [], [])
    return name


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()


def _token(client: TestClient, username: str, password: str = PASSWORD) -> str:
    answer = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def _me(client: TestClient, token: str) -> int:
    return int(
        client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code
    )


def test_tokens_carry_a_jti_and_logout_ends_every_token_of_the_user(
    client: TestClient, username: str
) -> None:
    phone, laptop = _token(client, username), _token(client, username)
    claims = [jwt.decode(t, options={"verify_signature": False}) for t in (phone, laptop)]
    assert all(len(c["jti"]) == 32 for c in claims) and claims[0]["jti"] != claims[1]["jti"]
    assert _me(client, phone) == 200 and _me(client, laptop) == 200

    out = client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {phone}"})
    assert out.status_code == 204
    assert _me(client, phone) == 401 and _me(client, laptop) == 401
    refused = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {laptop}"})
    assert "ended" in refused.json()["detail"]
    assert _me(client, _token(client, username)) == 200  # a new log-in is a new session


@pytest.mark.parametrize(
    "change",
    [{"password": "another-long-riverside-7"}, {"role": "auditor"}, {"disabled": True}],
)
def test_a_new_password_another_role_or_disabling_revokes_at_once(
    client: TestClient, username: str, change: dict[str, object]
) -> None:
    token = _token(client, username)
    admin = as_user(client, "admin")
    assert (
        client.patch(f"/api/v1/admin/users/{username}", json=change, headers=admin).status_code
        == 200
    )
    assert _me(client, token) == 401


def test_other_changes_keep_the_session(client: TestClient, username: str) -> None:
    token = _token(client, username)
    admin = as_user(client, "admin")
    same = {"full_name": "Hồ Văn Nam (IOC)", "role": "coordinator"}
    assert (
        client.patch(f"/api/v1/admin/users/{username}", json=same, headers=admin).status_code == 200
    )
    assert _me(client, token) == 200


def test_the_page_session_renews_until_its_absolute_lifetime(
    app: FastAPI, username: str, settings_env: pytest.MonkeyPatch
) -> None:
    settings_env.setenv("REFLECTIONS_SESSION_ABSOLUTE_HOURS", "1")
    get_settings.cache_clear()
    browser = new_browser(app)
    start = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
    with clock.frozen_at(start):
        login = {"csrf": csrf(browser), "username": username, "password": PASSWORD}
        assert browser.post("/login", data=login).status_code == 303
    renewed_until = []
    for minutes in (20, 40, 55):  # each visit past half a 30-minute token renews it
        with clock.frozen_at(start + timedelta(minutes=minutes)):
            page = browser.get("/console/queue")
            assert page.status_code == 200
            cookie = browser.cookies.get("reflections_staff")
            assert cookie
            renewed_until.append(jwt.decode(cookie, options={"verify_signature": False})["exp"])
    end = int((start + timedelta(hours=1)).timestamp())
    assert renewed_until[0] == int((start + timedelta(minutes=50)).timestamp())
    assert renewed_until[1:] == [end, end]  # never past log-in + 1 h
    with clock.frozen_at(start + timedelta(minutes=61)):
        assert browser.get("/console/queue").status_code == 303  # to the log-in form


def test_logging_out_of_the_pages_ends_the_api_tokens_too(
    app: FastAPI, client: TestClient, username: str
) -> None:
    token = _token(client, username)
    browser = new_browser(app)
    login = {"csrf": csrf(browser), "username": username, "password": PASSWORD}
    assert browser.post("/login", data=login).status_code == 303
    assert browser.post("/logout", data={"csrf": csrf(browser, "/")}).status_code == 303
    assert _me(client, token) == 401


def test_the_citizen_cookie_lasts_weeks_and_is_secure_behind_https(
    app: FastAPI, settings_env: pytest.MonkeyPatch
) -> None:
    form = {
        "description": "Nắp cống bị vỡ trên đường Nguyễn Huệ",
        "address": "Nguyễn Huệ, Huế",
        "language": "vi",
    }
    browser = new_browser(app)
    sent = browser.post("/submit", data={"csrf": csrf(browser, "/submit"), **form})
    cookie = next(c for c in sent.headers.get_list("set-cookie") if "reflections_citizen" in c)
    assert "Max-Age=2592000" in cookie and "secure" not in cookie.lower()  # 30 days

    settings_env.setenv("REFLECTIONS_PUBLIC_URL", "https://phananh.hue.gov.vn")
    settings_env.setenv("REFLECTIONS_CITIZEN_COOKIE_DAYS", "14")
    get_settings.cache_clear()
    browser = TestClient(app, base_url="https://testserver", follow_redirects=False)
    sent = browser.post("/submit", data={"csrf": csrf(browser, "/submit"), **form})
    cookie = next(c for c in sent.headers.get_list("set-cookie") if "reflections_citizen" in c)
    assert "Max-Age=1209600" in cookie and "secure" in cookie.lower()
