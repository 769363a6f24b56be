"""Helpers for the staff console's page tests: reflections made through the API, forms read
back from the pages' HTML, lists followed page by page."""

import base64
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from reflections.actors import Actor
from reflections.lifecycle.service import EventInput, apply_event
from reflections.models import HandlingUnit, Reflection
from reflections.models.enums import LifecycleEvent
from tests.api_helpers import as_user, submit
from tests.web.pages import log_in, new_browser

WARD = "46.W19768"  # Phường Phú Xuân
WARD_COMMITTEE = "UBND.46.W19768"
HEPCO = "HEPCO"
NAME, PHONE, EMAIL = "Bùi Thị Kim Ngân", "0912 345 678", "kimngan.bui@example.com"
PHONE_FORMS = ("0912 345 678", "0912345678", "+84912345678")
# A 1×1 transparent PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


@contextmanager
def staff(app: FastAPI, username: str) -> Iterator[TestClient]:
    """A second browser, logged in as someone else."""
    with new_browser(app) as browser:
        log_in(browser, username)
        yield browser


def new_code(client: TestClient, **overrides: object) -> str:
    body: dict[str, object] = {
        "description": f"Lấn chiếm vỉa hè trước chợ, khó đi lại ({uuid.uuid4().hex[:6]})",
        "administrative_unit": WARD,
        "contact": {"name": NAME, "phone": PHONE, "email": EMAIL},
    }
    return str(submit(client, **(body | overrides))["tracking_code"])


def api(client: TestClient, code: str, action: str, user: str, **body: object) -> None:
    response = client.post(
        f"/api/v1/reflections/{code}/{action}", headers=as_user(client, user), json=body
    )
    assert response.status_code == 200, response.text


def assigned_code(
    client: TestClient, unit: str = WARD_COMMITTEE, category: str = "urban_order"
) -> str:
    code = new_code(client)
    classify = {"category": category, "priority": "normal", "administrative_unit": WARD}
    api(client, code, "classify", "coordinator", **classify)
    api(client, code, "assign", "coordinator", handling_unit=unit)
    return code


def stored(session: Session, code: str) -> Reflection:
    session.expire_all()
    return session.exec(select(Reflection).where(Reflection.tracking_code == code)).one()


def unit_code(session: Session, reflection: Reflection) -> str | None:
    unit = session.get(HandlingUnit, reflection.handling_unit_id or 0)
    return unit.code if unit else None


def version_on(html: str, action: str) -> str:
    form = re.search(rf'data-action="{action}".*?</form>', html, re.S)
    assert form, f"no {action} form on the page"
    found = re.search(r'name="version" value="(\d+)"', form.group(0))
    assert found
    return found.group(1)


def selected(html: str, select_id: str) -> str | None:
    block = re.search(rf'<select id="{select_id}".*?</select>', html, re.S)
    assert block, f"no select {select_id}"
    option = re.search(r'<option value="([^"]*)"[^>]*\bselected\b', block.group(0))
    return option.group(1) if option else None


def options(html: str, select_id: str) -> list[str]:
    block = re.search(rf'<select id="{select_id}".*?</select>', html, re.S)
    assert block, f"no select {select_id}"
    return [v for v in re.findall(r'<option value="([^"]*)"', block.group(0)) if v]


def find_in_list(browser: TestClient, path: str, code: str) -> str:
    """The list page (following "next page" links) that shows ``code``."""
    url: str | None = path
    while url:
        response = browser.get(url)
        assert response.status_code == 200, response.text
        if f'data-tracking-code="{code}"' in response.text:
            return str(response.text)
        more = re.search(r'href="([^"]+)" rel="next"', response.text)
        url = more.group(1).replace("&amp;", "&") if more else None
    raise AssertionError(f"{code} is not listed on {path}")


def row_of(html: str, code: str) -> str:
    row = re.search(rf'<tr data-tracking-code="{code}".*?</tr>', html, re.S)
    assert row
    return row.group(0)


def escalate(session: Session, code: str, area: int | None = None) -> None:
    """The deadline sweep's escalation (to the next level, or to ``area``)."""
    reflection = stored(session, code)
    assert reflection.id is not None
    data = EventInput(administrative_unit_id=area)
    apply_event(session, reflection.id, LifecycleEvent.ESCALATE, Actor.system(), data)
