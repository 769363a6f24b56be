"""Submitting is anonymous: limits per address and per contact, SMS only to allowed countries,
a daily cap for contacts nobody proved, and a stop link in the first message (issue 13)."""

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from limits import parse
from limits.storage import storage_from_string
from pydantic import ValidationError
from sqlmodel import Session, col, select

from api.rate_limits import DatabaseStorage, limiter
from reflections.messaging.contact_limits import Standing, standing
from reflections.messaging.contact_proofs import is_proven, mark_proven
from reflections.models import OutboxMessage, OutboxStatus, Reporter
from reflections.organisation.auth import create_api_key
from reflections.platform import clock
from reflections.platform.settings import Settings
from tests.abuse_helpers import (
    Limits,
    body,
    client_from,
    counts,
    new_email,
    new_ip,
    new_phone,
    switch_limits,
)
from tests.servers import running
from tests.web.pages import csrf, text_of

SUBMIT = "/api/v1/reflections"


@pytest.fixture
def limits_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[Limits]:
    yield from switch_limits(monkeypatch)


@pytest.fixture
def browser(app: FastAPI) -> TestClient:
    return client_from(app, new_ip())


@pytest.fixture
def api_key(session: Session) -> str:
    _, key = create_api_key(session, f"abuse-test-{uuid.uuid4().hex[:8]}")
    return key


def test_one_address_gets_its_hourly_submissions_then_429(
    app: FastAPI, session: Session, limits_on: Limits
) -> None:
    limits_on(submissions_per_ip="3/hour;10/day", submissions_per_contact="100/hour")
    client = client_from(app, new_ip())
    for _ in range(3):
        assert client.post(SUBMIT, json=body(new_phone())).status_code == 201
    victim = new_phone()
    refused = client.post(SUBMIT, json=body(victim))
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    assert refused.json()["code"] == "too_many_submissions"
    assert counts(session, victim) == (0, 0)  # no reflection, no message
    # Another address is not held back by this one.
    assert client_from(app, new_ip()).post(SUBMIT, json=body(new_phone())).status_code == 201


def test_a_spoofed_forwarded_for_is_ignored_unless_from_a_trusted_proxy(
    app: FastAPI, limits_on: Limits
) -> None:
    attacker = new_ip()
    limits_on(submissions_per_ip="2/hour", submissions_per_contact="100/hour")
    client = client_from(app, attacker)
    answers = [
        client.post(SUBMIT, json=body(new_phone()), headers={"X-Forwarded-For": new_ip()})
        for _ in range(4)
    ]
    assert [a.status_code for a in answers] == [201, 201, 429, 429]

    # Behind our own proxy, its X-Forwarded-For names the client: each has its own count.
    proxy = new_ip()
    limits_on(submissions_per_ip="2/hour", trusted_proxies=f'["{proxy}"]')
    behind = client_from(app, proxy)
    clients = [new_ip() for _ in range(3)]
    for address in clients:
        for _ in range(2):  # the client's address, appended last by our proxy
            sent = behind.post(
                SUBMIT,
                json=body(new_phone()),
                headers={"X-Forwarded-For": f"203.0.113.9, {address}"},
            )
            assert sent.status_code == 201
    third = behind.post(SUBMIT, json=body(new_phone()), headers={"X-Forwarded-For": clients[0]})
    assert third.status_code == 429


def test_one_contact_is_limited_across_addresses_channels_and_spellings(
    app: FastAPI, session: Session, limits_on: Limits, api_key: str
) -> None:
    limits_on(submissions_per_ip="100/hour", submissions_per_contact="2/hour;5/day")
    victim = new_phone()
    national = "0" + victim[3:6] + " " + victim[6:9] + " " + victim[9:]  # 090x xxx xxx
    assert client_from(app, new_ip()).post(SUBMIT, json=body(victim)).status_code == 201
    assert client_from(app, new_ip()).post(SUBMIT, json=body(national)).status_code == 201
    before = counts(session, victim)
    refused = client_from(app, new_ip()).post(SUBMIT, json=body(national))
    assert refused.status_code == 429 and refused.json()["code"] == "too_many_for_contact"
    # Open311 clients count against the same contact, refused in Open311's own format.
    open311 = client_from(app, new_ip()).post(
        "/open311/v2/requests.json",
        data={
            "api_key": api_key,
            "service_code": "urban_order",
            "address_string": "3 Hùng Vương",
            "phone": national,
        },
    )
    assert open311.status_code == 429 and "Retry-After" in open311.headers
    assert open311.json()[0]["code"] == 429
    assert counts(session, victim) == before


def test_the_web_form_says_429_in_the_readers_language(
    app: FastAPI, session: Session, limits_on: Limits
) -> None:
    limits_on(submissions_per_ip="1/hour", submissions_per_contact="100/hour")
    browser = client_from(app, new_ip())
    form = {
        "description": "Ổ gà lớn giữa đường Trần Hưng Đạo",
        "address": "Trần Hưng Đạo, Huế",
        "phone": new_phone(),
        "language": "vi",
    }
    assert (
        browser.post("/submit", data={"csrf": csrf(browser, "/submit"), **form}).status_code == 303
    )
    victim = new_phone()
    page = browser.post("/submit", data={"csrf": csrf(browser, "/submit"), **form, "phone": victim})
    assert page.status_code == 429 and int(page.headers["Retry-After"]) > 0
    assert "Đã có quá nhiều phản ánh gửi từ kết nối này" in text_of(page)
    assert "Ổ gà lớn giữa đường Trần Hưng Đạo" in page.text  # the text typed is kept
    browser.get("/language/en")
    page = browser.post("/submit", data={"csrf": csrf(browser, "/submit"), **form, "phone": victim})
    assert "Too many reports were sent from this connection" in text_of(page)
    assert counts(session, victim) == (0, 0)


def test_sms_only_to_numbers_of_allowed_countries(
    client: TestClient, session: Session, limits_on: Limits
) -> None:
    american = "+1 202 555 0143"
    refused = client.post(SUBMIT, json=body(american))
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert error["field"] == "contact.phone" and "VN" in error["reason"]
    assert counts(session, "+12025550143") == (0, 0)
    limits_on(sms_allowed_regions='["VN", "US"]')
    assert client.post(SUBMIT, json=body(american)).status_code == 201


def test_the_web_form_names_the_allowed_countries(browser: TestClient) -> None:
    form = {
        "description": "Cây đổ chắn đường",
        "address": "Lê Lợi, Huế",
        "phone": "+44 7911 123456",
    }
    page = browser.post("/submit", data={"csrf": csrf(browser, "/submit"), **form})
    assert page.status_code == 422
    assert "Chúng tôi chỉ gửi tin nhắn đến số điện thoại thuộc: VN" in text_of(page)


def _messages(session: Session, address: str) -> list[OutboxMessage]:
    session.expire_all()
    query = select(OutboxMessage).where(col(OutboxMessage.recipient) == address)
    return list(session.exec(query.order_by(col(OutboxMessage.id))).all())


def test_an_unproven_contact_gets_a_few_messages_a_day_and_the_rest_are_held(
    client: TestClient, session: Session, limits_on: Limits
) -> None:
    limits_on(unproven_contact_messages_per_day=2, submissions_per_contact="100/hour")
    email = new_email()
    for _ in range(3):
        assert client.post(SUBMIT, json=body(email=email)).status_code == 201
    statuses = [m.status for m in _messages(session, email)]
    assert statuses == [OutboxStatus.PENDING, OutboxStatus.PENDING, OutboxStatus.HELD]
    held = _messages(session, email)[-1]
    assert held.last_error and "not yet proven" in held.last_error

    # Proven by a one-time code (issue 16 calls this): every update again.
    assert not is_proven(session, "email", email)
    mark_proven(session, "email", email, clock.now())
    mark_proven(session, "email", email, clock.now())  # twice is once
    session.commit()
    assert is_proven(session, "email", email)
    assert client.post(SUBMIT, json=body(email=email)).status_code == 201
    assert _messages(session, email)[-1].status is OutboxStatus.PENDING


def test_the_first_message_carries_a_stop_link_that_works_without_a_key(
    client: TestClient, browser: TestClient, session: Session
) -> None:
    phone = new_phone()
    client.post(SUBMIT, json=body(phone))
    client.post(SUBMIT, json=body(phone))
    first, second = _messages(session, phone)
    assert "stop_url" not in second.context
    link = first.context["stop_url"]
    assert link.startswith("http") and phone not in link
    path = "/stop/" + link.rsplit("/stop/", 1)[1]

    page = browser.get(path)
    assert page.status_code == 200 and "Ngừng mọi tin nhắn" in text_of(page)
    assert phone not in page.text  # the number, partly hidden
    assert counts(session, phone) == (2, 2)  # opening the link stops nothing by itself
    done = browser.post(path, data={"csrf": csrf(browser, path)})
    assert done.status_code == 200 and "data-stopped" in done.text

    # Nothing more to that number, for its reflections and for new ones.
    session.expire_all()
    assert all(
        r.opted_out for r in session.exec(select(Reporter).where(Reporter.phone_e164 == phone))
    )
    client.post(SUBMIT, json=body(phone))
    assert counts(session, phone) == (3, 2)

    # A forged or altered link is refused and stops nothing.
    other = new_phone()
    client.post(SUBMIT, json=body(other))
    token = path.rsplit("/", 1)[1]
    forged = token.split(".")[0][:-2] + "AA." + token.split(".")[1]
    assert browser.get(f"/stop/{forged}").status_code == 404
    assert (
        browser.post(f"/stop/{forged}", data={"csrf": csrf(browser, "/submit")}).status_code == 404
    )


def test_database_counters_need_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    """On SQLite a request holds the one write lock from its first write: counters written on a
    connection of their own would wait for it. The setting is refused at start, by name."""
    monkeypatch.setenv("REFLECTIONS_DATABASE_URL", "sqlite:///var/refused.db")
    monkeypatch.setenv("REFLECTIONS_RATE_LIMIT_STORAGE", "database://")
    with pytest.raises(ValidationError, match="RATE_LIMIT_STORAGE=database:// needs PostgreSQL"):
        Settings()


@pytest.mark.postgres
def test_database_counters_are_shared_by_two_api_processes(
    tmp_path: Path, session: Session, database_url: str
) -> None:
    DatabaseStorage().reset()
    env = {
        "REFLECTIONS_ABUSE_LIMITS": "true",
        "REFLECTIONS_RATE_LIMIT_STORAGE": "database://",
        "REFLECTIONS_SUBMISSIONS_PER_CONTACT": "3/hour",
        "REFLECTIONS_SUBMISSIONS_PER_IP": "100/hour",
    }
    victim = new_phone()
    with running(tmp_path / "a.log", env) as first, running(tmp_path / "b.log", env) as second:
        answers = [
            httpx.post(server.url + SUBMIT, json=body(victim), timeout=30).status_code
            for server in (first, second, first, second, first)
        ]
    assert answers == [201, 201, 201, 429, 429]
    assert counts(session, victim)[0] == 3


def _redis_running() -> bool:
    try:
        return bool(storage_from_string(REDIS).check())
    except Exception:
        return False


REDIS = "redis://127.0.0.1:6379"
NO_REDIS = pytest.mark.skipif(not _redis_running(), reason="no Redis on 127.0.0.1:6379")


@pytest.mark.parametrize(
    "storage",
    [
        "memory://",
        pytest.param("database://", marks=pytest.mark.postgres),
        pytest.param(REDIS, marks=NO_REDIS),
    ],
)
def test_a_refused_try_counts_nothing(storage: str, app: FastAPI, limits_on: Limits) -> None:
    limits_on(rate_limit_storage=storage, submissions_per_ip="2/hour;3/day")
    ip = new_ip()
    client = client_from(app, ip)
    answers = [client.post(SUBMIT, json=body(new_phone())).status_code for _ in range(4)]
    assert answers == [201, 201, 429, 429]
    day = limiter().get_window_stats(parse("3/day"), "submit-ip", ip)
    assert day.remaining == 1  # the refused tries did not spend the day's allowance


def _sent(session: Session, phone: str, status: OutboxStatus, at: datetime) -> None:
    session.add(
        OutboxMessage(
            kind="received",
            channel="sms",
            recipient=phone,
            language="vi",
            status=status,
            next_attempt_at=at,
            created_at=at,
            idempotency_key=f"standing-{uuid.uuid4()}",
        )
    )


def test_the_daily_cap_counts_the_last_days_messages_up_to_the_cap(
    session: Session, limits_on: Limits
) -> None:
    """The day's messages are counted only as far as the cap (issue 18): the decision stays the
    same on each side of it, and held or older messages never count."""
    limits_on(unproven_contact_messages_per_day=3)
    phone, now = new_phone(), clock.now()
    for _ in range(5):
        _sent(session, phone, OutboxStatus.HELD, now - timedelta(hours=1))
        _sent(session, phone, OutboxStatus.SENT, now - timedelta(days=2))
    for _ in range(2):
        _sent(session, phone, OutboxStatus.SENT, now - timedelta(hours=2))
    session.commit()
    assert standing(session, "sms", phone, now) == Standing(stopped=False, new=False, held=False)

    _sent(session, phone, OutboxStatus.PENDING, now - timedelta(minutes=1))
    session.commit()
    assert standing(session, "sms", phone, now).held
    for _ in range(20):  # far past the cap: still held
        _sent(session, phone, OutboxStatus.SENT, now - timedelta(minutes=1))
    session.commit()
    assert standing(session, "sms", phone, now).held
    assert not standing(session, "sms", phone, now + timedelta(days=1, hours=1)).held

    limits_on(unproven_contact_messages_per_day=0)  # nothing may go to an unproven contact
    assert standing(session, "sms", new_phone(), now).held
