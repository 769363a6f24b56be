"""Duplicates and followers (issue 16): a merged duplicate's citizen follows the original,
opens it with what opened their own report, hears of its result, and the original counts
everyone who reported it."""

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from reflections.lifecycle.duplicates import merge
from reflections.models import OutboxMessage, Reflection
from tests.api_helpers import as_citizen, submit
from tests.lifecycle_helpers import COORDINATOR, PATHS, E, fire, refs
from tests.test_citizen_sign_in import e164, new_phone, sign_in_with
from tests.web.pages import new_browser, text_of


def _reflection(session: Session, code: str) -> Reflection:
    session.expire_all()
    return session.exec(select(Reflection).where(Reflection.tracking_code == code)).one()


def _sent_to(session: Session, reflection: Reflection, kind: str) -> set[str]:
    rows = session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.reflection_id == reflection.id, OutboxMessage.kind == kind)
        .order_by(col(OutboxMessage.id))
    ).all()
    return {row.recipient for row in rows}


def test_a_merged_citizen_follows_the_original_and_hears_its_result(
    app: FastAPI, client: TestClient, session: Session
) -> None:
    first_phone, second_phone = new_phone(), new_phone()
    original = submit(client, contact={"phone": first_phone})
    duplicate = submit(client, contact={"phone": second_phone})
    o, d = (
        _reflection(session, original["tracking_code"]),
        _reflection(session, duplicate["tracking_code"]),
    )
    assert o.id and d.id
    merge(session, d.id, o.tracking_code, COORDINATOR)

    # The duplicate's key now opens the original too; another citizen's does not.
    key = duplicate["citizen_key"]
    code = o.tracking_code
    assert client.get(f"/api/v1/reflections/{code}", headers=as_citizen(key)).status_code == 200
    stranger = submit(client, contact={"phone": new_phone()})["citizen_key"]
    assert (
        client.get(f"/api/v1/reflections/{code}", headers=as_citizen(stranger)).status_code == 404
    )

    # Pages: the duplicate says where it went, with a link; the original counts two reporters.
    browser = new_browser(app)
    browser.cookies.set("reflections_citizen", key)
    page = browser.get(f"/track/{d.tracking_code}")
    assert f'Đã gộp vào phản ánh <a href="/track/{code}">{code}</a>' in page.text
    assert "Không tiếp nhận" not in text_of(page)  # a valid report, not refused
    assert "2 người cùng phản ánh vấn đề này." in text_of(browser.get(f"/track/{code}"))

    # Signed in by the second phone, the original is on "my reports".
    token = sign_in_with(client, session, second_phone)
    mine = client.get("/api/v1/citizen/reflections", headers=as_citizen(token)).json()
    assert code in {item["tracking_code"] for item in mine["items"]}

    # The original is processed: both citizens are told, each once.
    r = refs(session)
    reflection = _reflection(session, code)
    for event in [*PATHS["processed"]]:
        reflection = fire(session, reflection, event, r)
    assert {e164(first_phone), e164(second_phone)} <= _sent_to(session, reflection, "processed")
    followed = browser.get(f"/track/{code}")
    assert re.search(r"Kết quả", text_of(followed))
    # a follower reads and hears; confirming or reopening is the reporter's
    assert 'name="rating"' not in followed.text
    refused = client.post(
        f"/api/v1/reflections/{code}/confirm", json={"rating": 5}, headers=as_citizen(key)
    )
    assert refused.status_code == 403
    assert _reflection(session, code).state.value == "processed"


def test_merging_twice_keeps_one_follower(client: TestClient, session: Session) -> None:
    phone = new_phone()
    original = _reflection(session, submit(client, contact={"phone": new_phone()})["tracking_code"])
    first = _reflection(session, submit(client, contact={"phone": phone})["tracking_code"])
    second = _reflection(session, submit(client, contact={"phone": phone})["tracking_code"])
    assert first.id and second.id
    merge(session, first.id, original.tracking_code, COORDINATOR)
    merge(session, second.id, original.tracking_code, COORDINATOR)
    r = refs(session)
    reflection = _reflection(session, original.tracking_code)
    reflection = fire(session, reflection, E.CLASSIFY, r)
    reflection = fire(session, reflection, E.ASSIGN, r)
    rows = session.exec(
        select(OutboxMessage).where(
            OutboxMessage.reflection_id == reflection.id,
            OutboxMessage.kind == "assigned",
            OutboxMessage.recipient == e164(phone),
        )
    ).all()
    assert len(rows) == 1  # the same phone hears once, though it reported twice
