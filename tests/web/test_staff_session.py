"""Staff log-in on the pages: a cookie, renewed while in use, refused once expired."""

import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session

from reflections.models.enums import Role
from reflections.organisation.users import create_user
from reflections.platform import clock
from tests.api_helpers import DEMO_PASSWORD
from tests.web.pages import log_in, post_form
from web.session import STAFF_COOKIE


def test_log_in_sends_each_role_to_its_start_page(browser: TestClient) -> None:
    assert log_in(browser, "handler.phuxuan").headers["location"] == "/console/inbox"
    assert browser.get("/console").headers["location"] == "/console/inbox"


def test_log_in_only_follows_local_next_links(browser: TestClient) -> None:
    response = post_form(
        browser,
        "/login",
        {"username": "auditor", "password": "demo-password", "next": "https://evil.example/"},
    )
    assert response.headers["location"] == "/console/reports"


def test_a_page_renews_a_half_spent_token_and_an_expired_one_means_logging_in_again(
    browser: TestClient,
) -> None:
    start = clock.now()
    with clock.frozen_at(start):
        log_in(browser, "coordinator")
        first = browser.cookies[STAFF_COOKIE]
        fresh = browser.get("/console")
        assert STAFF_COOKIE not in fresh.headers.get("set-cookie", "")  # still young
    with clock.frozen_at(start + timedelta(minutes=20)):
        renewed = browser.get("/console")
        assert renewed.headers["location"] == "/console/queue"
        assert browser.cookies[STAFF_COOKIE] != first
    with clock.frozen_at(start + timedelta(minutes=20 + 31)):
        expired = browser.get("/console")
        assert expired.headers["location"] == "/login?next=/console"


def test_log_out_forgets_the_staff_cookie(browser: TestClient, session: Session) -> None:
    # A user of its own: logging out ends every session of the user (issue 13), and other
    # tests running beside this one are logged in as the seeded coordinator.
    username = f"coordinator.{uuid.uuid4().hex[:8]}"
    create_user(session, username, "Lê Thị Hoa", Role.COORDINATOR, DEMO_PASSWORD + "-x7", [], [])
    post_form(browser, "/login", {"username": username, "password": DEMO_PASSWORD + "-x7"})
    assert post_form(browser, "/logout", {}).headers["location"] == "/"
    assert browser.get("/console").headers["location"].startswith("/login")
