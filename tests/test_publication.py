"""Publication is a coordinator's decision (DESIGN.md §10): what the public sees before and after.

Before: category, ward, status, dates and agency, in Open311, the public feed and the pages.
After: the public summary (or the description) and the place rounded to 3 decimals. Rejected:
only the public reason. Every refusal leaves no decision behind.
"""

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from reflections.models import PublicationDecision, Reflection
from tests.api_helpers import as_user, submit

WARD = "46.W19768"  # Phường Phú Xuân
WARD_COMMITTEE = "UBND.46.W19768"
# What the citizen wrote: a name, a phone number and a house number.
PRIVATE = "Tôi là Khổng Thị Bích, 0905 777 888, nhà số 12 Lê Lợi: đèn đường hỏng"
STREET = "12 Lê Lợi, Phú Xuân, Huế"
TRACES = ("Khổng", "0905 777 888", "số 12", "12 Lê Lợi", "16.46371", "107.59093")


def _submit(client: TestClient) -> str:
    submitted = submit(
        client,
        description=PRIVATE,
        address=STREET,
        latitude=16.46371,
        longitude=107.59093,
        administrative_unit=WARD,
    )
    return str(submitted["tracking_code"])


def _post(
    client: TestClient, code: str, action: str, user: str, **body: Any
) -> tuple[int, dict[str, Any]]:
    response = client.post(
        f"/api/v1/reflections/{code}/{action}", headers=as_user(client, user), json=body
    )
    return response.status_code, dict(response.json())


def _classify(client: TestClient, code: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    return _post(
        client,
        code,
        "classify",
        "coordinator",
        category="street_lighting",
        priority="normal",
        administrative_unit=WARD,
        **extra,
    )


def _open311(client: TestClient, code: str) -> dict[str, Any]:
    [one] = client.get(f"/open311/v2/requests/{code}.json").json()
    return dict(one)


def _decisions(session: Session, code: str) -> list[PublicationDecision]:
    session.expire_all()
    reflection = session.exec(select(Reflection).where(Reflection.tracking_code == code)).one()
    return list(
        session.exec(
            select(PublicationDecision)
            .where(PublicationDecision.reflection_id == reflection.id)
            .order_by(col(PublicationDecision.id))
        )
    )


def _leaks(text: str) -> list[str]:
    return [trace for trace in TRACES if trace in text]


def test_nothing_the_citizen_wrote_is_public_before_publication(client: TestClient) -> None:
    code = _submit(client)
    one = _open311(client, code)
    assert one["description"] == ""  # not classified: no category to stand for it
    assert (one["lat"], one["long"], one["media_url"]) == (None, None, None)
    assert "Phú Xuân" in one["address"] and one["address_id"] == WARD
    listed = client.get("/open311/v2/requests.json", params={"service_request_id": code}).text
    xml = client.get(f"/open311/v2/requests/{code}.xml").text
    assert _leaks(listed) == [] and _leaks(xml) == []

    assert _classify(client, code)[0] == 200
    one = _open311(client, code)
    assert one["description"] == "Chiếu sáng công cộng"
    assert one["service_code"] == "street_lighting" and one["status"] == "open"
    assert one["requested_datetime"] and one["updated_datetime"]
    assert _leaks(str(one)) == []


def test_published_at_classify_with_an_edited_summary(client: TestClient, session: Session) -> None:
    code = _submit(client)
    summary = "Đèn đường hỏng trên đường Lê Lợi"
    status, view = _classify(client, code, publish=True, public_summary=summary)
    assert status == 200, view
    assert (view["published"], view["public_summary"]) == (True, summary)
    assert view["version"] == 2  # publication is no lifecycle event
    one = _open311(client, code)
    assert one["description"] == summary
    assert (one["lat"], one["long"]) == (16.464, 107.591)
    assert "12 Lê Lợi" not in one["address"]  # the street address is never public
    [decision] = _decisions(session, code)
    assert decision.published and decision.actor_role == "coordinator"
    assert decision.actor_user_id is not None

    # The result feed and the public page carry the summary once processed.
    assert _post(client, code, "assign", "coordinator", handling_unit=WARD_COMMITTEE)[0] == 200
    assert _post(client, code, "accept", "handler.phuxuan")[0] == 200
    done = _post(client, code, "process", "handler.phuxuan", result="Đã thay bóng đèn")
    assert done[0] == 200, done
    item = client.get(f"/api/v1/public/results/{code}").json()
    assert (item["summary"], item["latitude"], item["longitude"]) == (summary, 16.464, 107.591)
    page = client.get(f"/results/{code}").text
    assert summary in page and _leaks(page) == []


def test_publish_later_then_unpublish(client: TestClient, session: Session) -> None:
    code = _submit(client)
    status, view = _post(client, code, "publish", "coordinator")
    assert status == 200 and view["published"] is True and view["public_summary"] is None
    assert _open311(client, code)["description"] == PRIVATE  # the description itself

    status, view = _post(client, code, "unpublish", "coordinator")
    assert status == 200 and view["published"] is False
    one = _open311(client, code)
    assert _leaks(str(one)) == [] and one["lat"] is None
    assert [d.published for d in _decisions(session, code)] == [True, False]  # the audit


def test_rejected_shows_only_the_public_reason(client: TestClient) -> None:
    code = _submit(client)
    reason = "Không thuộc thẩm quyền của thành phố"
    assert _post(client, code, "reject", "coordinator", reason=reason)[0] == 200
    one = _open311(client, code)
    assert (one["status"], one["status_notes"]) == ("closed", reason)
    assert one["description"] == "" and _leaks(str(one)) == []


def test_who_may_not_publish_changes_nothing(client: TestClient, session: Session) -> None:
    code = _submit(client)
    for user in ("handler.phuxuan", "auditor", "admin"):
        status, problem = _post(client, code, "publish", user)
        assert status in (403, 404), (user, problem)
    anonymous = client.post(f"/api/v1/reflections/{code}/publish")
    assert anonymous.status_code == 401
    assert _decisions(session, code) == []
    assert _leaks(str(_open311(client, code))) == []


def test_refused_input_records_no_decision(client: TestClient, session: Session) -> None:
    code = _submit(client)
    status, problem = _post(client, code, "publish", "coordinator", public_summary="x" * 2001)
    assert status == 422 and "public_summary" in str(problem)
    # A refused classification publishes nothing either: both commit together or neither.
    status, _ = _post(
        client,
        code,
        "classify",
        "coordinator",
        category="no_such_category",
        priority="normal",
        administrative_unit=WARD,
        publish=True,
    )
    assert status == 422
    status, _ = _classify(client, code, publish=False, public_summary="Một bản tóm tắt")
    assert status == 422  # a summary comes only with publishing
    assert _decisions(session, code) == []
    assert _open311(client, code)["description"] == ""
