"""The public results feed and Open311 GET: processed and confirmed reflections only, at ward
level, with the unit's result and photos, and nothing personal in any response body."""

import uuid
import xml.etree.ElementTree as ET
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlmodel import Session, col, select

from reflections.actors import Actor
from reflections.lifecycle.attachments import Photo
from reflections.lifecycle.intake import Submission, submit
from reflections.lifecycle.service import EventInput, apply_event
from reflections.models import AdministrativeUnit, Category, HandlingUnit, Reflection
from reflections.models.enums import LifecycleEvent, Priority, Role
from reflections.platform import clock
from reflections.platform.security import hash_secret
from reflections.platform.settings import get_settings
from tests.api_helpers import as_citizen
from tests.images import stored_sha, unique_png

E = LifecycleEvent
FEED = "/api/v1/public/results"
OPEN311 = "/open311/v2"
WARD = "46.W19768"  # Phường Phú Xuân
WARD_COMMITTEE = "UBND.46.W19768"
COORDINATOR = Actor(Role.COORDINATOR)


@dataclass(frozen=True)
class Place:
    ward_id: int
    other_ward_id: int
    other_ward_code: str
    parent_code: str  # the unit both wards lie under
    unit_id: int
    lighting_id: int
    urban_order_id: int


@pytest.fixture(scope="module")
def place(engine: Any) -> Place:
    with Session(engine) as session:
        ward = session.exec(select(AdministrativeUnit).where(AdministrativeUnit.code == WARD)).one()
        assert ward.id and ward.parent_id
        parent = session.get(AdministrativeUnit, ward.parent_id)
        other = session.exec(
            select(AdministrativeUnit)
            .where(AdministrativeUnit.parent_id == ward.parent_id, AdministrativeUnit.id != ward.id)
            .where(AdministrativeUnit.level == "commune")  # a ward of the same (two-tier) map
            .order_by(col(AdministrativeUnit.code))
        ).first()
        unit = session.exec(select(HandlingUnit).where(HandlingUnit.code == WARD_COMMITTEE)).one()
        categories = {
            c.code: c.id
            for c in session.exec(
                select(Category).where(col(Category.code).in_(["street_lighting", "urban_order"]))
            )
        }
    assert parent and other and other.id and unit.id
    return Place(
        ward_id=ward.id,
        other_ward_id=other.id,
        other_ward_code=other.code,
        parent_code=parent.code,
        unit_id=unit.id,
        lighting_id=categories["street_lighting"] or 0,
        urban_order_id=categories["urban_order"] or 0,
    )


def image(tag: str) -> Photo:
    """A PNG as far as the type sniffing goes, and unlike any other."""
    return Photo(unique_png(), f"{tag}.png")


@dataclass(frozen=True)
class Traces:
    """Everything personal a reflection was given, in every form it could come back in."""

    name: str
    phone: str
    email: str
    description: str
    address: str
    comment: str
    latitude: float
    longitude: float

    @classmethod
    def new(cls) -> "Traces":
        tag = uuid.uuid4().hex[:8]
        digits = str(int(tag, 16) % 10**6).zfill(6)
        fraction = int(tag, 16) % 10**6
        return cls(
            name=f"Công Tằng Tôn Nữ {tag}",
            phone=f"0914{digits}",
            email=f"tonnu.{tag}@example.com",
            description=f"Nhà tôi số 7 kiệt {tag}, gọi tôi 0914{digits}",
            address=f"7 kiệt {tag} Lê Lợi",
            comment=f"Cảm ơn anh Tư {tag}",
            latitude=float(f"16.4{fraction:06d}"),
            longitude=float(f"107.5{fraction:06d}"),
        )

    def strings(self) -> list[str]:
        return [
            self.name,
            self.email,
            self.phone,
            "+84" + self.phone[1:],
            self.phone[1:],
            self.description,
            self.address,
            self.comment,
            str(self.latitude),
            str(self.longitude),
        ]


@dataclass
class Case:
    code: str
    citizen_key: str
    traces: Traces
    report_photo: str
    result_photos: list[str]


def make_case(
    session: Session,
    place: Place,
    end: str = "processed",
    *,
    at: datetime | None = None,
    category_id: int | None = None,
    ward_id: int | None = None,
    result_photos: int = 1,
) -> Case:
    """A reflection from a named reporter with a photo, taken to ``end`` by the real service
    (every step at ``at`` when given)."""
    traces = Traces.new()
    report = image("report")
    with clock.frozen_at(at) if at else nullcontext():
        submitted = submit(
            session,
            Submission(
                description=traces.description,
                address=traces.address,
                latitude=traces.latitude,
                longitude=traces.longitude,
                reporter_name=traces.name,
                reporter_phone=traces.phone,
                reporter_email=traces.email,
                photos=(report,),
            ),
            Actor.citizen(),
        )
        reflection = submitted.reflection
        assert reflection.id is not None
        handler = Actor(Role.HANDLER, handling_unit_ids=frozenset({place.unit_id}))
        photos = tuple(image(f"result{i}") for i in range(result_photos))
        steps: list[tuple[LifecycleEvent, Actor, EventInput]] = [
            (
                E.CLASSIFY,
                COORDINATOR,
                EventInput(
                    category_id=category_id or place.lighting_id,
                    priority=Priority.NORMAL,
                    administrative_unit_id=ward_id or place.ward_id,
                ),
            ),
            (E.ASSIGN, COORDINATOR, EventInput(handling_unit_id=place.unit_id)),
            (E.ACCEPT, handler, EventInput()),
            (
                E.PROCESS,
                handler,
                EventInput(result=f"Đã thay bóng đèn {traces.name[-8:]}", photos=photos),
            ),
            (E.CONFIRM, Actor.citizen(reflection.id), EventInput(rating=4, comment=traces.comment)),
        ]
        if end == "rejected":
            steps = [(E.REJECT, COORDINATOR, EventInput(reason="trùng lặp"))]
        stop = {"received": 0, "in_progress": 3, "processed": 4, "confirmed": 5, "rejected": 1}[end]
        for event, actor, data in steps[:stop]:
            apply_event(session, reflection.id, event, actor, data)
    return Case(
        code=reflection.tracking_code,
        citizen_key=submitted.citizen_key,
        traces=traces,
        report_photo=sha_of(report),
        result_photos=[sha_of(p) for p in photos] if stop >= 4 else [],
    )


def sha_of(photo: Photo) -> str:
    return stored_sha(photo.content)


def feed(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    """Every item of the feed with these filters, across all pages."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = params | ({"cursor": cursor} if cursor else {})
        response = client.get(FEED, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def since(start: datetime) -> dict[str, str]:
    return {"processed_from": start.isoformat(), "limit": "200"}


# --- What is published ---------------------------------------------------------------------


def test_only_processed_and_confirmed_appear(
    client: TestClient, session: Session, place: Place
) -> None:
    start = clock.now()
    cases = {
        end: make_case(session, place, end)
        for end in ("received", "in_progress", "processed", "confirmed", "rejected")
    }
    listed = {item["tracking_code"]: item for item in feed(client, **since(start))}
    assert {cases["processed"].code, cases["confirmed"].code} <= set(listed)
    for end in ("received", "in_progress", "rejected"):
        assert cases[end].code not in listed
        assert client.get(f"{FEED}/{cases[end].code}").status_code == 404

    confirmed = client.get(f"{FEED}/{cases['confirmed'].code}").json()
    assert confirmed == listed[cases["confirmed"].code]
    assert confirmed["state"] == "confirmed"
    assert confirmed["category"]["code"] == "street_lighting"
    assert confirmed["category"]["name_vi"] == "Chiếu sáng công cộng"
    assert confirmed["ward"]["code"] == WARD and "Phú Xuân" in confirmed["ward"]["name"]
    assert confirmed["handling_unit"]["code"] == WARD_COMMITTEE
    assert confirmed["result_text"].startswith("Đã thay bóng đèn")
    assert confirmed["rating"] == 4
    for name in ("submitted_at", "processed_at", "confirmed_at"):
        assert datetime.fromisoformat(confirmed[name]).utcoffset() == timedelta(0)
    assert confirmed["submitted_at"] <= confirmed["processed_at"] <= confirmed["confirmed_at"]
    processed = listed[cases["processed"].code]
    assert processed["state"] == "processed" and processed["confirmed_at"] is None
    assert processed["rating"] is None
    assert (processed["summary"], processed["latitude"]) == (None, None)
    assert set(processed) == {
        "tracking_code",
        "state",
        "category",
        "ward",
        "handling_unit",
        "submitted_at",
        "processed_at",
        "confirmed_at",
        "result_text",
        "rating",
        "result_photos",
        "summary",  # null: nobody published what the citizen wrote
        "latitude",
        "longitude",
    }


def test_sent_back_leaves_the_feed_until_processed_again(
    client: TestClient, session: Session, place: Place
) -> None:
    case = make_case(session, place, "processed")
    reflection = session.exec(select(Reflection).where(Reflection.tracking_code == case.code)).one()
    assert reflection.id is not None
    first = client.get(f"{FEED}/{case.code}").json()
    [photo] = first["result_photos"]

    apply_event(session, reflection.id, E.SEND_BACK, COORDINATOR, EventInput(reason="chưa xong"))
    assert client.get(f"{FEED}/{case.code}").status_code == 404
    assert client.get(photo).status_code == 404

    handler = Actor(Role.HANDLER, handling_unit_ids=frozenset({place.unit_id}))
    apply_event(session, reflection.id, E.PROCESS, handler, EventInput(result="Đã làm lại"))
    again = client.get(f"{FEED}/{case.code}").json()
    assert again["result_text"] == "Đã làm lại"
    assert again["processed_at"] > first["processed_at"]


def test_no_personal_data_in_any_public_body(
    client: TestClient, session: Session, place: Place
) -> None:
    start = clock.now()
    cases = [make_case(session, place, end) for end in ("processed", "confirmed")]
    bodies = [
        client.get(FEED, params=since(start)).text,
        client.get(FEED, params={"limit": 200}).text,
    ]
    for case in cases:
        bodies.append(client.get(f"{FEED}/{case.code}").text)
        for fmt in ("json", "xml"):
            bodies.append(client.get(f"{OPEN311}/requests/{case.code}.{fmt}").text)
            bodies.append(
                client.get(
                    f"{OPEN311}/requests.{fmt}", params={"service_request_id": case.code}
                ).text
            )
            bodies.append(client.get(f"{OPEN311}/requests.{fmt}", params={"status": "closed"}).text)
    for case in cases:
        assert any(case.code in body for body in bodies)
        secrets = [
            *case.traces.strings(),
            case.citizen_key,
            hash_secret(case.citizen_key),
            case.report_photo,
        ]
        for body in bodies:
            for secret in secrets:
                assert secret not in body


# --- Paging and filters --------------------------------------------------------------------


def test_newest_result_first_in_keyset_pages(
    client: TestClient, session: Session, place: Place
) -> None:
    day = datetime(2025, 11, 3, 2, 0, tzinfo=UTC)  # a day of the two-tier map no test uses
    at = [day, day + timedelta(hours=1), day + timedelta(hours=1), day + timedelta(hours=2)]
    codes = [make_case(session, place, at=when, result_photos=0).code for when in at]
    window = {
        "processed_from": day.isoformat(),
        "processed_to": (day + timedelta(days=1)).isoformat(),
    }

    first = client.get(FEED, params=window | {"limit": 3}).json()
    assert len(first["items"]) == 3 and first["next_cursor"]
    second = client.get(FEED, params=window | {"limit": 3, "cursor": first["next_cursor"]}).json()
    assert second["next_cursor"] is None
    order = [item["tracking_code"] for item in first["items"] + second["items"]]
    # Newest first; the two of the same instant by id, newest first too.
    assert order == [codes[3], codes[2], codes[1], codes[0]]
    assert first["items"][0]["processed_at"].startswith("2025-11-03T04:00")

    assert [i["tracking_code"] for i in feed(client, **window, limit=1)] == order


def test_filters_by_category_ward_and_dates(
    client: TestClient, session: Session, place: Place
) -> None:
    day = datetime(2025, 9, 8, 3, 0, tzinfo=UTC)  # a day of the two-tier map no test uses
    lighting = make_case(session, place, at=day, result_photos=0).code
    order = make_case(
        session,
        place,
        at=day + timedelta(days=1),
        category_id=place.urban_order_id,
        result_photos=0,
    ).code
    elsewhere = make_case(
        session, place, at=day + timedelta(days=2), ward_id=place.other_ward_id, result_photos=0
    ).code
    window = {
        "processed_from": day.isoformat(),
        "processed_to": (day + timedelta(days=3)).isoformat(),
    }

    def codes(**params: Any) -> list[str]:
        return [item["tracking_code"] for item in feed(client, **(window | params))]

    assert codes() == [elsewhere, order, lighting]
    assert codes(category="street_lighting") == [elsewhere, lighting]
    assert codes(category="urban_order") == [order]
    assert codes(ward=WARD) == [order, lighting]
    assert codes(ward=place.other_ward_code) == [elsewhere]
    assert codes(ward=place.parent_code) == [elsewhere, order, lighting]  # everything under it
    assert codes(ward=WARD, category="urban_order") == [order]
    assert codes(processed_to=(day + timedelta(days=1)).isoformat()) == [lighting]
    assert codes(processed_from=(day + timedelta(hours=12)).isoformat()) == [elsewhere, order]
    assert codes(category="no_such") == [] and codes(ward="no.such") == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"processed_from": "2026-01-01T00:00:00"}, "processed_from"),
        ({"processed_to": "not a date"}, "processed_to"),
        ({"processed_from": "9999-12-31T23:00:00-05:00"}, "processed_from"),
        ({"processed_to": "0001-01-01T00:00:00+05:00"}, "processed_to"),
        ({"cursor": "nonsense"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
    ],
)
def test_bad_parameters_are_problems(
    client: TestClient, params: dict[str, Any], field: str
) -> None:
    response = client.get(FEED, params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in {e["field"] for e in response.json()["errors"]}


# --- Photos ----------------------------------------------------------------------------------


def test_result_photos_are_public_and_report_photos_are_not(
    client: TestClient, session: Session, place: Place
) -> None:
    case = make_case(session, place, "confirmed", result_photos=2)
    # Absolute URLs start with REFLECTIONS_PUBLIC_URL, whatever Host the request named.
    item = client.get(f"{FEED}/{case.code}", headers={"Host": "evil.example"}).json()
    public = get_settings().public_url.rstrip("/")
    assert item["result_photos"] == [
        f"{public}{FEED}/{case.code}/photos/{sha}" for sha in case.result_photos
    ]
    for url, sha in zip(item["result_photos"], case.result_photos, strict=True):
        response = client.get(url.removeprefix(public))  # no credentials
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/png"
        assert response.content.startswith(b"\x89PNG") and sha in url

    report = client.get(f"{FEED}/{case.code}/photos/{case.report_photo}")
    assert report.status_code == 404
    assert report.headers["content-type"] == "application/problem+json"
    other = make_case(session, place, "confirmed")
    crossed = client.get(f"{FEED}/{other.code}/photos/{case.result_photos[0]}")
    assert crossed.status_code == 404  # a photo is public only under its own reflection

    unpublished = make_case(session, place, "in_progress")
    assert (
        client.get(f"{FEED}/{unpublished.code}/photos/{unpublished.report_photo}").status_code
        == 404
    )


def test_a_citizens_read_lists_every_photo_in_order_with_one_statement(
    client: TestClient, session: Session, place: Place
) -> None:
    """The reporter reads their processed reflection: their photo, then the unit's two, in the
    order attached, and the unit's apart; the reflection and its photos come in one statement
    (issue 18)."""
    case = make_case(session, place, "processed", result_photos=2)
    sent: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(" ".join(statement.split()))

    event.listen(Engine, "before_cursor_execute", note)  # whichever engine the app holds
    try:
        read = client.get(f"/api/v1/reflections/{case.code}", headers=as_citizen(case.citizen_key))
    finally:
        event.remove(Engine, "before_cursor_execute", note)
    assert read.status_code == 200, read.text
    assert read.json()["photos"] == [case.report_photo, *case.result_photos]
    assert read.json()["result_photos"] == case.result_photos
    photo_reads = [s for s in sent if "attachments" in s]
    assert len(photo_reads) == 1 and "FROM reflections" in photo_reads[0], sent
    received = make_case(session, place, "received", result_photos=0)
    fresh = client.get(
        f"/api/v1/reflections/{received.code}", headers=as_citizen(received.citizen_key)
    )
    assert fresh.json()["photos"] == [received.report_photo]
    assert fresh.json()["result_photos"] == []


# --- Open311 ---------------------------------------------------------------------------------


def test_open311_get_shows_results_as_the_feed_does(
    client: TestClient, session: Session, place: Place
) -> None:
    with_photo = make_case(session, place, "processed", result_photos=1)
    without = make_case(session, place, "confirmed", result_photos=0)
    still_open = make_case(session, place, "in_progress")
    item = client.get(f"{FEED}/{with_photo.code}").json()

    [one] = client.get(f"{OPEN311}/requests/{with_photo.code}.json").json()
    assert one["status"] == "closed"
    assert one["status_notes"] == item["result_text"]
    assert one["media_url"] == item["result_photos"][0]
    assert client.get(one["media_url"]).status_code == 200
    assert one["address_id"] == WARD and "Phú Xuân" in one["address"]
    assert (one["lat"], one["long"]) == (None, None)
    assert one["description"] == "Chiếu sáng công cộng"  # the category, not the citizen's text
    assert one["agency_responsible"] == item["handling_unit"]["name"]

    [two] = client.get(f"{OPEN311}/requests/{without.code}.json").json()
    assert two["status"] == "closed" and two["media_url"] is None

    [root] = [ET.fromstring(client.get(f"{OPEN311}/requests/{with_photo.code}.xml").content)]
    [request] = list(root)
    assert request.findtext("status") == "closed"
    assert request.findtext("media_url") == item["result_photos"][0]

    closed = {
        r["service_request_id"]
        for r in client.get(f"{OPEN311}/requests.json", params={"status": "closed"}).json()
    }
    opened = {
        r["service_request_id"]
        for r in client.get(f"{OPEN311}/requests.json", params={"status": "open"}).json()
    }
    assert {with_photo.code, without.code} <= closed
    assert still_open.code in opened and not {with_photo.code, without.code} & opened

    [in_progress] = client.get(f"{OPEN311}/requests/{still_open.code}.json").json()
    assert in_progress["status"] == "open" and in_progress["media_url"] is None
