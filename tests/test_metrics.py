"""/metrics: off unless a token is set, then Prometheus' text format with the request families
and the city's figures read from the database (README "Operations")."""

import shutil
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session, select

from api import metrics
from reflections.models import OutboxMessage, OutboxStatus, Reflection
from reflections.oversight.service_figures import service_figures
from reflections.platform import clock
from tests import servers
from tests.api_helpers import submit
from tests.test_faults import configured

TOKEN = "metrics-token-for-tests"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
FAMILIES = {
    "reflections_http_requests",
    "reflections_http_request_duration_seconds",
    *(f"reflections_{name.removesuffix('_total')}" for name in metrics.CITY_FAMILIES),
}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def metrics_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(metrics, "CITY_CACHE_SECONDS", 0.0)
    with configured(metrics_token=TOKEN):
        yield


def scrape(client: TestClient) -> tuple[set[str], Samples]:
    response = client.get("/metrics", headers=BEARER)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    families = list(text_string_to_metric_families(response.text))
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in families
        for sample in family.samples
    }
    return {family.name for family in families}, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_are_off_unless_a_token_is_set(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 404


def test_metrics_need_the_token(client: TestClient, metrics_on: None) -> None:
    assert client.get("/metrics").status_code == 401
    refused = client.get("/metrics", headers={"Authorization": "Bearer guess"})
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"


def test_every_family_is_exposed_and_moves_with_the_city(
    client: TestClient, metrics_on: None
) -> None:
    names, before = scrape(client)
    assert names >= FAMILIES
    code = submit(client)["tracking_code"]
    assert client.get(f"/api/v1/public/results/{code}").status_code == 404
    _, after = scrape(client)

    posted = {"method": "POST", "route": "/api/v1/reflections", "status": "201"}
    assert value(after, "reflections_http_requests_total", **posted) == (
        value(before, "reflections_http_requests_total", **posted) + 1
    )
    looked = {"method": "GET", "route": "/api/v1/public/results/{tracking_code}", "status": "404"}
    assert value(after, "reflections_http_requests_total", **looked) >= 1
    timed = {"method": "POST", "route": "/api/v1/reflections", "le": "+Inf"}
    assert value(after, "reflections_http_request_duration_seconds_bucket", **timed) >= 1
    for name, labels in [
        ("reflections_transitions_total", {"event": "submit"}),
        ("reflections_open_reflections", {"state": "received", "level": "0"}),
        ("reflections_outbox_depth", {"channel": "sms"}),
        ("reflections_outbox_messages", {"channel": "sms", "outcome": "pending"}),
    ]:
        assert value(after, name, **labels) == value(before, name, **labels) + 1, name
    assert value(after, "reflections_database_up") == 1


def test_the_city_figures(session: Session) -> None:
    """Outbox figures by a channel of this test's own; reflections by deltas."""
    channel = f"t{uuid.uuid4().hex[:8]}"
    now = clock.now()
    rows = [
        (OutboxStatus.PENDING, 0, now - timedelta(minutes=30)),  # due, waiting 30 min
        (OutboxStatus.PENDING, 2, now + timedelta(minutes=5)),  # retrying later
        (OutboxStatus.SENDING, 1, now + timedelta(minutes=4)),  # leased
        (OutboxStatus.SENT, 1, now - timedelta(hours=1)),
        (OutboxStatus.DEAD, 10, now - timedelta(hours=2)),
        (OutboxStatus.FAILED_PERMANENT, 1, now - timedelta(hours=3)),
    ]
    for status, attempts, due in rows:
        session.add(
            OutboxMessage(
                kind="received",
                channel=channel,
                recipient="figures@example.org",
                language="vi",
                status=status,
                attempts=attempts,
                next_attempt_at=due,
                created_at=due,
                idempotency_key=f"figures-{uuid.uuid4().hex}",
            )
        )
    session.commit()
    figures = service_figures(session, now)
    assert {k[1]: n for k, n in figures.outbox_messages.items() if k[0] == channel} == {
        "pending": 1,
        "retrying": 1,
        "sending": 1,
        "sent": 1,
        "dead": 1,
        "failed_permanent": 1,
    }
    assert figures.outbox_depth[channel] == 3
    assert figures.dead_letters[channel] == 2
    assert figures.outbox_oldest_due_seconds[channel] == pytest.approx(1800, abs=1)
    for row in session.exec(select(OutboxMessage).where(OutboxMessage.channel == channel)):
        session.delete(row)  # due messages of no real channel: not for other tests' dispatches
    session.commit()


def test_overdue_escalated_and_sweep_lag(session: Session, client: TestClient) -> None:
    later = clock.now() + timedelta(days=365)
    before = service_figures(session, later)
    code = submit(client)["tracking_code"]
    reflection = session.exec(select(Reflection).where(Reflection.tracking_code == code)).one()
    reflection.escalation_level = 2
    reflection.next_sla_at = datetime(1990, 1, 1, tzinfo=UTC)  # due long before any other
    session.add(reflection)
    session.commit()
    after = service_figures(session, later)
    assert after.overdue == before.overdue + 1  # its classify deadline passed within a year
    assert after.escalated == before.escalated + 1
    assert (
        after.open_reflections[("received", 2)]
        == before.open_reflections.get(("received", 2), 0) + 1
    )
    assert after.sweep_lag_seconds == pytest.approx(
        (later - datetime(1990, 1, 1, tzinfo=UTC)).total_seconds(), abs=1
    )
    reflection.next_sla_at = None
    session.add(reflection)
    session.commit()


def test_a_workers_file_still_being_created_leaves_the_scrape_whole(
    client: TestClient, metrics_on: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """prometheus-client creates a worker's file before sizing it; a scrape in that moment (or
    after the worker died in it) read 0 bytes and failed whole (client_python#1199)."""
    folder = tmp_path / "prometheus"
    folder.mkdir()
    (folder / "counter_4242.db").touch()  # created, not yet sized
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    response = client.get("/metrics", headers=BEARER)
    assert response.status_code == 200, response.text
    assert "reflections_open_reflections" in response.text  # the city families still there


def test_several_workers_are_counted_together(database_url: str, tmp_path: Path) -> None:
    """uvicorn --workers 2 with PROMETHEUS_MULTIPROC_DIR: any worker's scrape sums both."""
    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(folder), "REFLECTIONS_METRICS_TOKEN": TOKEN}

    with servers.running(tmp_path / "api.log", env, workers=2) as server:
        sent = 0
        with ThreadPoolExecutor(8) as pool:  # parallel connections reach both workers
            while not both_served(folder, tmp_path) and sent < 2000:
                answers = pool.map(lambda _: healthz(server.url), range(40))
                sent += sum(1 for status in answers if status == 200)
        assert both_served(folder, tmp_path), "every request went to one worker"
        counts = set()
        for _ in range(6):  # answered by either worker
            request = urllib.request.Request(server.url + "/metrics", headers=BEARER)
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read().decode()
            samples = {
                (s.name, frozenset(s.labels.items())): s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples
            }
            healthz_ok = {"method": "GET", "route": "/healthz", "status": "200"}
            counts.add(value(samples, "reflections_http_requests_total", **healthz_ok))
    assert counts == {float(sent)}


def both_served(folder: Path, tmp_path: Path) -> bool:
    counts = per_worker(folder, tmp_path)
    return len(counts) == 2 and min(counts) > 0


def per_worker(folder: Path, tmp_path: Path) -> list[float]:
    """Each worker's own count of /healthz, from its own counter file alone."""
    found = []
    for file in folder.glob("counter_*.db"):
        if file.stat().st_size == 0:  # a worker creating it (then sizing it): nothing counted yet
            found.append(0.0)
            continue
        alone = tmp_path / f"alone-{file.stem}"
        alone.mkdir(exist_ok=True)
        shutil.copy(file, alone / file.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))  # type: ignore[no-untyped-call]
        text = generate_latest(registry).decode()
        samples = {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }
        healthz_ok = {"method": "GET", "route": "/healthz", "status": "200"}
        found.append(value(samples, "reflections_http_requests_total", **healthz_ok))
    return found


def healthz(base_url: str) -> int:
    with urllib.request.urlopen(base_url + "/healthz", timeout=10) as response:
        return int(response.status)
