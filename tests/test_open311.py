"""Open311 GeoReport v2: conformance to the specification's field lists, in JSON and XML."""

import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session, func, select

from api.open311 import search
from reflections.actors import Actor
from reflections.lifecycle.intake import Submission, submit
from reflections.models import Reflection
from reflections.models.enums import LifecycleEvent
from reflections.organisation.auth import create_api_key, revoke_api_key
from reflections.platform import clock
from tests.api_helpers import as_user
from tests.lifecycle_helpers import fire, refs

BASE = "/open311/v2"
WARD = "46.W19768"  # Phường Phú Xuân
E = LifecycleEvent

# The specification's response field lists, method by method.
SERVICE_FIELDS = {
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
}
DEFINITION_FIELDS = {"service_code", "attributes"}
POST_FIELDS = {"service_request_id", "service_notice", "account_id"}
TOKEN_FIELDS = {"service_request_id", "token"}
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}
ERROR_FIELDS = {"code", "description"}

REPORTER = {
    # A surname no seeded street or demo text carries, so finding it anywhere means a leak.
    "first_name": "Thị Bích",
    "last_name": "Khổng",
    "phone": "0905 777 888",
    "email": "bich.tran.open311@example.com",
}
REPORTER_TRACES = (
    "Bích",
    "Khổng",
    "0905 777 888",
    "0905777888",
    "+84905777888",
    "bich.tran.open311",
)


def publish(client: TestClient, request_id: str) -> None:
    """A coordinator publishes what the citizen wrote."""
    response = client.post(
        f"/api/v1/reflections/{request_id}/publish", headers=as_user(client, "coordinator")
    )
    assert response.status_code == 200, response.text


@pytest.fixture
def api_key(session: Session) -> str:
    _, key = create_api_key(session, f"open311-test-{uuid.uuid4().hex[:8]}")
    return key


def post(client: TestClient, fmt: str = "json", **fields: str) -> Response:
    response: Response = client.post(f"{BASE}/requests.{fmt}", data=fields)
    return response


def created_id(client: TestClient, key: str, **fields: str) -> str:
    body = {
        "api_key": key,
        "service_code": "street_lighting",
        "address_string": "12 Lê Lợi, Huế",
        "description": "Đèn đường hỏng, cả đoạn tối om",
    } | fields
    response = post(client, **body)
    assert response.status_code == 201, response.text
    return str(response.json()[0]["service_request_id"])


def json_list(response: Response, status: int = 200) -> list[dict[str, Any]]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = response.json()
    assert isinstance(body, list)
    return body


def xml_items(response: Response, root: str, item: str, status: int = 200) -> list[ET.Element]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    element = ET.fromstring(response.content)
    assert element.tag == root
    assert all(child.tag == item for child in element)
    return list(element)


def tags(element: ET.Element) -> set[str]:
    return {child.tag for child in element}


def text(element: ET.Element, tag: str) -> str | None:
    found = element.find(tag)
    assert found is not None, tag
    return found.text


def assert_error(response: Response, status: int, fmt: str = "json") -> str:
    if fmt == "json":
        errors = json_list(response, status)
        assert errors and all(set(e) == ERROR_FIELDS for e in errors)
        assert errors[0]["code"] == status
        return str(errors[0]["description"])
    items = xml_items(response, "errors", "error", status)
    assert items and all(tags(e) == ERROR_FIELDS for e in items)
    assert text(items[0], "code") == str(status)
    return str(text(items[0], "description"))


# --- Services ----------------------------------------------------------------------------


def test_service_list_has_every_field_in_json(client: TestClient) -> None:
    services = json_list(client.get(f"{BASE}/services.json"))
    assert services and all(set(s) == SERVICE_FIELDS for s in services)
    lighting = next(s for s in services if s["service_code"] == "street_lighting")
    assert lighting["metadata"] is True  # the "urgent" attribute
    assert lighting["type"] == "realtime"
    assert lighting["group"]
    assert ", " in lighting["keywords"]
    urban = next(s for s in services if s["service_code"] == "urban_order")
    assert urban["service_name"] == "Trật tự đô thị"


def test_service_list_has_every_field_in_xml(client: TestClient) -> None:
    items = xml_items(client.get(f"{BASE}/services.xml"), "services", "service")
    assert items and all(tags(s) == SERVICE_FIELDS for s in items)
    urban = next(s for s in items if text(s, "service_code") == "urban_order")
    assert text(urban, "service_name") == "Trật tự đô thị"
    assert text(urban, "metadata") == "true"
    assert text(urban, "type") == "realtime"


def test_service_names_in_english_on_request(client: TestClient) -> None:
    for response in (
        client.get(f"{BASE}/services.json", params={"lang": "en"}),
        client.get(f"{BASE}/services.json", headers={"Accept-Language": "en-US,en;q=0.9"}),
    ):
        urban = next(s for s in json_list(response) if s["service_code"] == "urban_order")
        assert urban["service_name"] == "Urban order"
    vietnamese_first = client.get(
        f"{BASE}/services.json", headers={"Accept-Language": "vi-VN,en;q=0.5"}
    )
    urban = next(s for s in json_list(vietnamese_first) if s["service_code"] == "urban_order")
    assert urban["service_name"] == "Trật tự đô thị"


def test_service_definition_in_both_formats(client: TestClient) -> None:
    response = client.get(f"{BASE}/services/urban_order.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    definition = response.json()
    assert set(definition) == DEFINITION_FIELDS
    assert definition["service_code"] == "urban_order"
    [urgent] = definition["attributes"]
    assert (urgent["code"], urgent["datatype"], urgent["required"]) == (
        "urgent",
        "singlevaluelist",
        False,
    )
    assert [v["key"] for v in urgent["values"]] == ["true", "false"]

    response = client.get(f"{BASE}/services/urban_order.xml")
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    assert root.tag == "service_definition"
    assert tags(root) == DEFINITION_FIELDS
    assert text(root, "service_code") == "urban_order"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unknown_service_is_404(client: TestClient, fmt: str) -> None:
    assert "no_such" in assert_error(client.get(f"{BASE}/services/no_such.{fmt}"), 404, fmt)


def test_unknown_format_is_an_open311_error(client: TestClient) -> None:
    assert_error(client.get(f"{BASE}/services.yaml"), 400)


# --- POST and reading back ------------------------------------------------------------------


def test_full_flow_in_json(client: TestClient, api_key: str) -> None:
    services = json_list(client.get(f"{BASE}/services.json"))
    code = next(s["service_code"] for s in services if s["service_code"] == "street_lighting")

    created = json_list(
        post(
            client,
            api_key=api_key,
            service_code=code,
            lat="16.4637",
            long="107.5909",
            description="Đèn đường hỏng",
            account_id="acc-7",
        ),
        201,
    )
    assert len(created) == 1 and set(created[0]) >= POST_FIELDS
    request_id = created[0]["service_request_id"]
    assert created[0]["token"] == request_id
    assert created[0]["account_id"] == "acc-7"
    assert request_id in created[0]["service_notice"]

    [one] = json_list(client.get(f"{BASE}/requests/{request_id}.json"))
    assert set(one) == REQUEST_FIELDS
    assert one["service_request_id"] == request_id
    assert one["status"] == "open"
    assert one["service_code"] == "street_lighting"
    assert one["service_name"] == "Chiếu sáng công cộng"
    # Not published yet: the category stands for the citizen's text, no coordinates.
    assert one["description"] == "Chiếu sáng công cộng"
    assert (one["lat"], one["long"]) == (None, None)
    assert one["zipcode"] is None and one["media_url"] is None
    publish(client, request_id)
    [one] = json_list(client.get(f"{BASE}/requests/{request_id}.json"))
    assert one["description"] == "Đèn đường hỏng"
    assert (one["lat"], one["long"]) == (16.464, 107.591)  # rounded to about 100 m
    requested = datetime.fromisoformat(one["requested_datetime"])
    assert requested.utcoffset() == timedelta(0)
    assert abs(requested - clock.now()) < timedelta(minutes=5)

    listed = json_list(
        client.get(
            f"{BASE}/requests.json",
            params={"service_code": f"urban_order,{code}", "status": "open"},
        )
    )
    assert request_id in {r["service_request_id"] for r in listed}
    assert all(set(r) == REQUEST_FIELDS for r in listed)
    assert all(r["status"] == "open" for r in listed)
    closed = json_list(client.get(f"{BASE}/requests.json", params={"status": "closed"}))
    assert request_id not in {r["service_request_id"] for r in closed}
    other = json_list(client.get(f"{BASE}/requests.json", params={"service_code": "urban_order"}))
    assert request_id not in {r["service_request_id"] for r in other}

    by_id = json_list(
        client.get(
            f"{BASE}/requests.json",
            params={"service_request_id": f"{request_id},NOPE-NOPE", "status": "closed"},
        )
    )
    assert [r["service_request_id"] for r in by_id] == [request_id]  # overrides status

    tokens = json_list(client.get(f"{BASE}/tokens/{request_id}.json"))
    assert tokens == [{"service_request_id": request_id, "token": request_id}]


def test_full_flow_in_xml(client: TestClient, api_key: str) -> None:
    response = post(
        client,
        "xml",
        api_key=api_key,
        service_code="urban_order",
        address_id=WARD,
        description="Lấn chiếm vỉa hè",
    )
    [created] = xml_items(response, "service_requests", "request", 201)
    assert tags(created) >= POST_FIELDS
    request_id = text(created, "service_request_id")
    assert request_id and text(created, "token") == request_id
    assert text(created, "account_id") is None

    [one] = xml_items(
        client.get(f"{BASE}/requests/{request_id}.xml"), "service_requests", "request"
    )
    assert tags(one) == REQUEST_FIELDS
    assert text(one, "status") == "open"
    assert text(one, "service_code") == "urban_order"
    assert text(one, "address_id") == WARD
    assert "Phú Xuân" in (text(one, "address") or "")

    listed = xml_items(
        client.get(f"{BASE}/requests.xml", params={"service_code": "urban_order"}),
        "service_requests",
        "request",
    )
    assert request_id in {text(r, "service_request_id") for r in listed}
    assert all(tags(r) == REQUEST_FIELDS for r in listed)

    [token] = xml_items(
        client.get(f"{BASE}/tokens/{request_id}.xml"), "service_requests", "request"
    )
    assert tags(token) == TOKEN_FIELDS
    assert text(token, "service_request_id") == request_id


def test_post_uses_the_domain_service(client: TestClient, session: Session, api_key: str) -> None:
    request_id = created_id(
        client, api_key, media_url="https://img.example.org/den.jpg", **{"attribute[pole]": "C12"}
    )
    reflection = session.exec(
        select(Reflection).where(Reflection.tracking_code == request_id)
    ).one()
    assert reflection.submitted_via == "open311"
    assert reflection.category_hint == "street_lighting"
    assert reflection.state == "received" and reflection.version == 1
    assert "https://img.example.org/den.jpg" in reflection.description
    assert "pole: C12" in reflection.description

    [one] = json_list(client.get(f"{BASE}/requests/{request_id}.json"))
    assert one["media_url"] is None  # the citizen's link is theirs until published
    publish(client, request_id)
    [one] = json_list(client.get(f"{BASE}/requests/{request_id}.json"))
    assert one["media_url"] == "https://img.example.org/den.jpg"
    assert "img.example.org" not in one["description"]


def test_description_is_optional(client: TestClient, api_key: str) -> None:
    response = client.post(
        f"{BASE}/requests.json",
        params={"lang": "en"},
        data={"api_key": api_key, "service_code": "urban_order", "lat": "16.46", "long": "107.59"},
    )
    created = json_list(response, 201)[0]
    assert "Tracking code" in created["service_notice"]
    publish(client, created["service_request_id"])
    [one] = json_list(client.get(f"{BASE}/requests/{created['service_request_id']}.json"))
    assert one["description"] == "Urban order"  # the submitter's language, once published
    assert one["service_name"] == "Trật tự đô thị"  # the reader asked for no language


def test_lifecycle_shows_as_status_notes_agency_and_deadline(
    client: TestClient, session: Session, api_key: str
) -> None:
    r = refs(session)
    request_id = created_id(client, api_key)
    reflection = session.exec(
        select(Reflection).where(Reflection.tracking_code == request_id)
    ).one()
    for event in (E.CLASSIFY, E.ASSIGN, E.ACCEPT, E.REQUEST_EXTENSION, E.GRANT_EXTENSION):
        reflection = fire(session, reflection, event, r)
    [one] = json_list(client.get(f"{BASE}/requests/{request_id}.json"))
    assert one["status"] == "open"
    assert one["agency_responsible"]
    assert reflection.process_due_at is not None
    due = reflection.process_due_at.replace(microsecond=0)
    assert datetime.fromisoformat(one["expected_datetime"]) == due
    assert one["expected_datetime"].endswith("+00:00")

    reflection = fire(session, reflection, E.PROCESS, r)
    [one] = json_list(client.get(f"{BASE}/requests/{request_id}.json"))
    assert one["status"] == "closed"  # processed: resolved, as in the public results feed
    assert one["status_notes"] == "Đã thay bóng đèn"
    assert one["expected_datetime"] is None

    fire(session, reflection, E.CONFIRM, r)
    [one] = json_list(client.get(f"{BASE}/requests/{request_id}.json"))
    assert one["status"] == "closed"
    assert one["status_notes"] == "Đã thay bóng đèn"


def test_rejected_is_closed_with_the_reason(
    client: TestClient, session: Session, api_key: str
) -> None:
    request_id = created_id(client, api_key)
    reflection = session.exec(
        select(Reflection).where(Reflection.tracking_code == request_id)
    ).one()
    fire(session, reflection, E.REJECT, refs(session))
    [one] = xml_items(
        client.get(f"{BASE}/requests/{request_id}.xml"), "service_requests", "request"
    )
    assert text(one, "status") == "closed"
    assert text(one, "status_notes") == "trùng lặp"
    closed = json_list(client.get(f"{BASE}/requests.json", params={"status": "closed"}))
    assert request_id in {r["service_request_id"] for r in closed}


# --- Refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_api_key_is_required(client: TestClient, session: Session, api_key: str, fmt: str) -> None:
    fields = {"service_code": "urban_order", "address_string": "12 Lê Lợi"}
    assert "api_key" in assert_error(post(client, fmt, **fields), 403, fmt)
    assert_error(post(client, fmt, api_key="not-a-key", **fields), 403, fmt)

    name = f"open311-revoked-{uuid.uuid4().hex[:8]}"
    _, revoked = create_api_key(session, name)
    assert post(client, fmt, api_key=revoked, **fields).status_code == 201
    revoke_api_key(session, name)
    assert_error(post(client, fmt, api_key=revoked, **fields), 403, fmt)


def test_api_key_in_the_query_is_refused(
    client: TestClient, session: Session, api_key: str
) -> None:
    """A key in a URL lands in access logs and browser histories: 400, and nothing made."""
    before = session.exec(select(func.count()).select_from(Reflection)).one()
    response = client.post(
        f"{BASE}/requests.json",
        params={"api_key": api_key},
        data={"service_code": "urban_order", "address_id": WARD},
    )
    assert response.status_code == 400, response.text
    assert "form body" in response.json()[0]["description"]
    assert session.exec(select(func.count()).select_from(Reflection)).one() == before
    # In the form body or as the X-API-Key header, the same key works.
    response = client.post(
        f"{BASE}/requests.json",
        headers={"X-API-Key": api_key},
        data={"service_code": "urban_order", "address_id": WARD},
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_bad_requests_are_400(client: TestClient, api_key: str, fmt: str) -> None:
    where = {"address_string": "12 Lê Lợi"}
    assert "service_code" in assert_error(post(client, fmt, api_key=api_key, **where), 400, fmt)
    assert "location" in assert_error(
        post(client, fmt, api_key=api_key, service_code="urban_order"), 400, fmt
    )
    assert "location" in assert_error(
        post(client, fmt, api_key=api_key, service_code="urban_order", lat="16.4"), 400, fmt
    )
    assert "lat" in assert_error(
        post(client, fmt, api_key=api_key, service_code="urban_order", lat="95", long="1"), 400, fmt
    )
    assert "address_id" in assert_error(
        post(client, fmt, api_key=api_key, service_code="urban_order", address_id="nowhere"),
        400,
        fmt,
    )
    assert "media_url" in assert_error(
        post(client, fmt, api_key=api_key, service_code="urban_order", media_url="ftp:/x", **where),
        400,
        fmt,
    )
    assert "control" in assert_error(
        post(
            client, fmt, api_key=api_key, service_code="urban_order", description="a\x00b", **where
        ),
        400,
        fmt,
    )
    assert_error(post(client, fmt, api_key=api_key, service_code="no_such", **where), 404, fmt)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unknown_request_and_token_are_404(client: TestClient, fmt: str) -> None:
    assert_error(client.get(f"{BASE}/requests/ZZZZ-ZZZZ.{fmt}"), 404, fmt)
    assert "token" in assert_error(client.get(f"{BASE}/tokens/ZZZZ-ZZZZ.{fmt}"), 404, fmt)


def test_errors_are_never_problem_json(client: TestClient) -> None:
    response = client.get(f"{BASE}/requests.json", params={"status": "pending"})
    assert_error(response, 400)
    response = client.get(f"{BASE}/requests.xml", params={"lang": "fr"})
    assert_error(response, 400, "xml")


# --- The 90-day window and the limit -----------------------------------------------------


def test_ninety_day_window(client: TestClient, session: Session) -> None:
    long_ago = clock.now() - timedelta(days=120)
    with clock.frozen_at(long_ago):
        old = submit(
            session, Submission(description="Ổ gà", address="Lê Duẩn, Huế"), Actor.citizen()
        ).reflection.tracking_code

    recent = {r["service_request_id"] for r in json_list(client.get(f"{BASE}/requests.json"))}
    assert old not in recent  # the default is the most recent 90 days

    start = (long_ago - timedelta(days=1)).isoformat()
    end = (long_ago + timedelta(days=1)).isoformat()
    around = json_list(
        client.get(f"{BASE}/requests.json", params={"start_date": start, "end_date": end})
    )
    assert old in {r["service_request_id"] for r in around}
    after_start = json_list(client.get(f"{BASE}/requests.json", params={"start_date": start}))
    assert old in {r["service_request_id"] for r in after_start}
    before_end = json_list(client.get(f"{BASE}/requests.json", params={"end_date": end}))
    assert old in {r["service_request_id"] for r in before_end}
    by_id = json_list(
        client.get(
            f"{BASE}/requests.json",
            params={"service_request_id": old, "start_date": end, "end_date": start},
        )
    )
    assert [r["service_request_id"] for r in by_id] == [old]

    too_long = {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-04-02T00:00:00Z"}
    assert "90 days" in assert_error(client.get(f"{BASE}/requests.json", params=too_long), 400)
    exactly = {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-04-01T00:00:00Z"}
    assert client.get(f"{BASE}/requests.json", params=exactly).status_code == 200
    backwards = {"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}
    assert_error(client.get(f"{BASE}/requests.xml", params=backwards), 400, "xml")
    naive = {"start_date": "2026-01-01T00:00:00"}
    assert "time zone" in assert_error(client.get(f"{BASE}/requests.json", params=naive), 400)
    unix_time = {"start_date": "1767225600"}
    assert_error(client.get(f"{BASE}/requests.json", params=unix_time), 400)
    lower_case = {"start_date": "2026-01-01t00:00:00.1234567z", "end_date": ""}
    assert client.get(f"{BASE}/requests.json", params=lower_case).status_code == 200
    extreme = {"start_date": "9999-12-31T23:00:00+00:00"}
    assert_error(client.get(f"{BASE}/requests.json", params=extreme), 400)


def test_at_most_the_limit(
    client: TestClient, api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    created_id(client, api_key)
    created_id(client, api_key)
    monkeypatch.setattr(search, "LIMIT", 1)
    assert len(json_list(client.get(f"{BASE}/requests.json"))) == 1
    assert timedelta(days=90) == search.WINDOW


# --- Privacy ------------------------------------------------------------------------------


def test_no_reporter_identity_in_any_get(client: TestClient, api_key: str) -> None:
    request_id = created_id(client, api_key, **REPORTER)
    bodies = []
    for fmt in ("json", "xml"):
        for path in (f"requests/{request_id}", "requests", f"tokens/{request_id}"):
            response = client.get(f"{BASE}/{path}.{fmt}")
            assert response.status_code == 200
            bodies.append(response.text)
        response = client.get(f"{BASE}/requests.{fmt}", params={"service_request_id": request_id})
        bodies.append(response.text)
    assert any(request_id in body for body in bodies)
    for body in bodies:
        for trace in REPORTER_TRACES:
            assert trace not in body


def test_datetimes_carry_a_time_zone(client: TestClient, api_key: str) -> None:
    request_id = created_id(client, api_key)
    [one] = json_list(client.get(f"{BASE}/requests/{request_id}.json"))
    for name in ("requested_datetime", "updated_datetime"):
        value = datetime.fromisoformat(one[name])
        assert value.tzinfo is not None
        assert value.astimezone(UTC) <= clock.now()
