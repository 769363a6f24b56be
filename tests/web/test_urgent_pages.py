"""The "dangerous / urgent" tick on the submit form, and the coordinator's queue with
emergencies on top."""

import re

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from reflections.models import Reflection
from reflections.models.enums import Priority
from tests.test_outbox import _tag
from tests.web.pages import log_in, post_form, text_of

FORM = {"description": "Dây điện đứt rơi xuống vỉa hè", "address": "9 Lê Lợi", "language": "vi"}


def _submitted(browser: TestClient, session: Session, **extra: str) -> Reflection:
    response = post_form(
        browser, "/submit", FORM | {"description": f"{FORM['description']} {_tag()}"} | extra
    )
    assert response.status_code == 303, text_of(response)
    code = response.headers["location"].split("/track/")[1].split("?")[0]
    return session.exec(select(Reflection).where(Reflection.tracking_code == code)).one()


def test_the_citizen_s_tick_makes_an_emergency(browser: TestClient, session: Session) -> None:
    form = browser.get("/submit").text
    assert 'name="urgent"' in form and "Nguy hiểm / khẩn cấp" in form
    assert _submitted(browser, session, urgent="true").priority is Priority.EMERGENCY
    assert _submitted(browser, session).priority is None


def test_the_queue_shows_emergencies_first_with_a_badge(
    browser: TestClient, session: Session
) -> None:
    urgent = _submitted(browser, session, urgent="true")
    log_in(browser, "coordinator")
    page = browser.get("/console/queue")
    assert page.status_code == 200
    rows = re.findall(r'<tr data-tracking-code="([^"]+)"([^>]*)>', page.text)
    flags = ["data-emergency" in attributes for _, attributes in rows]
    assert flags == sorted(flags, reverse=True)  # every emergency before the rest
    assert urgent.tracking_code in [code for code, _ in rows]
    assert "Khẩn cấp" in text_of(page)
