"""Canned texts kept by admins: created, changed by retiring and replacing, withdrawn; every
version stays, with who did what and when; refusals change nothing."""

import uuid

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from reflections.models import CannedText, Category
from reflections.models.enums import LifecycleEvent
from reflections.organisation.canned_texts import offered
from tests.api_helpers import as_user

PATH = "/api/v1/admin/canned-texts"


def _count(session: Session) -> int:
    session.expire_all()
    return len(session.exec(select(CannedText)).all())


def test_admins_keep_texts_and_every_version_stays(client: TestClient, session: Session) -> None:
    admin = as_user(client, "admin")
    title = f"Đã thu gom {uuid.uuid4().hex[:6]}"
    body = {
        "event": "process",
        "category": "waste_collection",
        "title": title,
        "text": "Đã thu gom rác.",
    }
    created = client.post(PATH, headers=admin, json=body)
    assert created.status_code == 201, created.text
    first = created.json()
    assert (first["category"], first["created_by"], first["retired_at"]) == (
        "waste_collection",
        "admin",
        None,
    )

    changed = client.patch(
        f"{PATH}/{first['id']}",
        headers=admin,
        json={"category": "waste_collection", "title": title, "text": "Đã thu gom, vệ sinh."},
    )
    assert changed.status_code == 200, changed.text
    second = changed.json()
    assert second["id"] != first["id"] and second["replaces"] == first["id"]

    current = client.get(f"{PATH}?event=process&limit=200", headers=admin).json()["items"]
    ids = {item["id"] for item in current}
    assert second["id"] in ids and first["id"] not in ids
    everything = client.get(f"{PATH}?include_retired=true&limit=200", headers=admin).json()
    old = next(item for item in everything["items"] if item["id"] == first["id"])
    assert old["retired_by"] == "admin" and old["text"] == "Đã thu gom rác."

    assert client.delete(f"{PATH}/{second['id']}", headers=admin).status_code == 204
    assert client.delete(f"{PATH}/{second['id']}", headers=admin).status_code == 404


def test_refusals_change_nothing(client: TestClient, session: Session) -> None:
    before = _count(session)
    body = {"event": "process", "title": "x", "text": "y"}
    for user in ("coordinator", "handler.phuxuan", "auditor"):
        response = client.post(PATH, headers=as_user(client, user), json=body)
        assert response.status_code == 403
    admin = as_user(client, "admin")
    for wrong in (
        {**body, "event": "confirm"},  # not an action with a free text to fill
        {**body, "category": "no-such-category"},
        {**body, "title": ""},
        {**body, "text": "x" * 2001},
    ):
        response = client.post(PATH, headers=admin, json=wrong)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
    assert _count(session) == before


def test_forms_offer_the_categorys_own_texts_first(client: TestClient, session: Session) -> None:
    admin = as_user(client, "admin")
    tag = uuid.uuid4().hex[:6]
    for category, title in ((None, f"A chung {tag}"), ("noise", f"Z riêng {tag}")):
        body = {"event": "reject", "category": category, "title": title, "text": "Lý do"}
        assert client.post(PATH, headers=admin, json=body).status_code == 201
    noise = session.exec(select(Category).where(Category.code == "noise")).one()
    titles = [
        row.title
        for row in offered(session, [LifecycleEvent.REJECT], noise.id)[LifecycleEvent.REJECT]
    ]
    mine = [t for t in titles if tag in t]
    assert mine == [f"Z riêng {tag}", f"A chung {tag}"]
    others = offered(session, [LifecycleEvent.REJECT], None)[LifecycleEvent.REJECT]
    assert f"Z riêng {tag}" not in [row.title for row in others]
