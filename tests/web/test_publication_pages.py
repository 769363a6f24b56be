"""The console's publication: a coordinator publishes at classification or later, and takes it
back; other roles see no such form, and a refusal changes nothing."""

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from reflections.models import PublicationDecision
from tests.web.console_helpers import WARD, new_code, staff, stored
from tests.web.pages import log_in, post_form, text_of

PRIVATE = "Nhà tôi số 9 Lê Lợi, gọi 0905 111 222: cống bị tắc"


def _decisions(session: Session, code: str) -> list[bool]:
    session.expire_all()
    reflection = stored(session, code)
    return list(
        session.exec(
            select(PublicationDecision.published)
            .where(PublicationDecision.reflection_id == reflection.id)
            .order_by(col(PublicationDecision.id))
        )
    )


def _open311_description(client: TestClient, code: str) -> str:
    return str(client.get(f"/open311/v2/requests/{code}.json").json()[0]["description"])


def test_publish_at_classification_from_the_console(
    client: TestClient, browser: TestClient, session: Session
) -> None:
    code = new_code(client, description=PRIVATE, category_hint="urban_order")
    log_in(browser, "coordinator")
    page = browser.get(f"/console/reflections/{code}").text
    assert 'name="publish"' in page and 'data-published="no"' in page
    form = {"category": "urban_order", "priority": "normal", "ward": WARD, "handling_unit": ""}
    summary = "Cống bị tắc trên đường Lê Lợi"
    done = post_form(
        browser,
        f"/console/reflections/{code}/classify",
        form | {"version": "1", "publish": "1", "public_summary": summary},
    )
    assert done.status_code == 303
    assert _decisions(session, code) == [True]
    assert _open311_description(client, code) == summary
    page = browser.get(f"/console/reflections/{code}")
    assert 'data-published="yes"' in page.text and summary in page.text

    taken_back = post_form(browser, f"/console/reflections/{code}/publication", {"publish": "0"})
    assert taken_back.status_code == 303
    assert "thôi công bố" in text_of(browser.get(taken_back.headers["location"]))
    assert _decisions(session, code) == [True, False]
    assert "0905" not in _open311_description(client, code)


def test_publish_later_and_refusals(
    app: FastAPI, client: TestClient, browser: TestClient, session: Session
) -> None:
    code = new_code(client, description=PRIVATE)
    log_in(browser, "coordinator")
    too_long = post_form(
        browser, f"/console/reflections/{code}/publication", {"public_summary": "x" * 2500}
    )
    assert too_long.status_code == 422 and "publication-public_summary-error" in too_long.text
    assert _decisions(session, code) == []
    done = post_form(browser, f"/console/reflections/{code}/publication", {"publish": "1"})
    assert done.status_code == 303 and _decisions(session, code) == [True]
    assert _open311_description(client, code).startswith("Nhà tôi số 9")

    other = new_code(client)
    with staff(app, "auditor") as auditor:
        page = auditor.get(f"/console/reflections/{other}").text
        assert 'data-section="publication"' not in page
        refused = post_form(auditor, f"/console/reflections/{other}/publication", {"publish": "1"})
        assert refused.status_code in (403, 404)
    assert _decisions(session, other) == []
