"""Two API processes behind Debian's nginx answer any request the same way: nothing a request
needs lives in one process. Staff tokens are signed with the JWT secret from settings, page
sessions are cookies holding those tokens, Idempotency-Key answers are rows in the database,
photos are in the shared bucket (moto_server; each replica has an empty photos folder of its
own), submission counts are rows of the database (``database://``) and a log-out on one replica
ends the token on the other. When one replica is killed, nginx sends the next requests to the
other."""

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from reflections.lifecycle.photos import clean
from reflections.models.enums import Role
from reflections.organisation.users import create_user
from tests import nginx
from tests.abuse_helpers import new_phone
from tests.images import stored_sha, unique_png
from tests.s3_peer import S3Server, moto_server
from tests.servers import Server, start

pytestmark = pytest.mark.skipif(not nginx.available(), reason="nginx missing: run `make nginx`")


@pytest.fixture(scope="module")
def cluster(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[nginx.Balancer, list[Server], S3Server]]:
    folder = tmp_path_factory.mktemp("replicas")
    with moto_server(folder / "moto.log") as s3:
        s3.create_bucket("photos")
        replicas: list[Server] = []
        try:
            for name in ("a", "b"):
                env = (
                    s3.settings("s3://photos/replicas")
                    | {
                        "REFLECTIONS_DATABASE_URL": database_url,
                        "REFLECTIONS_ATTACHMENTS_DIR": str(folder / name / "attachments"),
                    }
                    | shared_limits(database_url)
                )
                replicas.append(start(folder / f"{name}.log", env))
            with nginx.balancing([r.url for r in replicas], folder / "nginx") as balancer:
                yield balancer, replicas, s3
        finally:
            for replica in replicas:
                replica.stop()


def shared_limits(database_url: str) -> dict[str, str]:
    """On PostgreSQL the limits on, counted in the database both replicas share (the address
    limit high enough for this module, the contact's as in production). Shared counters need
    PostgreSQL (or Redis): on SQLite the limits stay off, as in the rest of the suite."""
    if database_url.startswith("sqlite"):
        return {}
    return {
        "REFLECTIONS_ABUSE_LIMITS": "true",
        "REFLECTIONS_RATE_LIMIT_STORAGE": "database://",
        "REFLECTIONS_SUBMISSIONS_PER_IP": "1000/hour",
        "REFLECTIONS_SUBMISSIONS_PER_CONTACT": "5/hour",
    }


def _upstream(response: httpx.Response) -> str:
    return response.headers["x-upstream"].split(",")[-1].strip()


def test_a_token_from_one_replica_is_honoured_by_both(
    cluster: tuple[nginx.Balancer, list[Server], S3Server],
) -> None:
    balancer, replicas, _ = cluster
    with httpx.Client(base_url=balancer.url, timeout=30) as client:
        login = client.post(
            "/api/v1/auth/token", data={"username": "coordinator", "password": "demo-password"}
        )
        assert login.status_code == 200, login.text
        bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
        answers = [client.get("/api/v1/reflections", headers=bearer) for _ in range(8)]
    assert [a.status_code for a in answers] == [200] * 8
    served_by = {_upstream(a) for a in answers}
    assert served_by == {r.url.removeprefix("http://") for r in replicas}  # both took turns


def test_a_retry_with_the_same_key_on_the_other_replica_is_answered_not_repeated(
    cluster: tuple[nginx.Balancer, list[Server], S3Server],
) -> None:
    _, (a, b), _ = cluster
    key = uuid.uuid4().hex
    body = {"description": f"Ống nước vỡ {key}", "address": "Hùng Vương, Huế"}
    headers = {"Idempotency-Key": key}
    first = httpx.post(f"{a.url}/api/v1/reflections", json=body, headers=headers, timeout=30)
    again = httpx.post(f"{b.url}/api/v1/reflections", json=body, headers=headers, timeout=30)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()  # the same tracking code and citizen key
    assert again.headers["idempotent-replayed"] == "true"


@pytest.mark.postgres
def test_submissions_naming_one_contact_are_counted_across_replicas(
    cluster: tuple[nginx.Balancer, list[Server], S3Server],
) -> None:
    _, (a, b), _ = cluster
    phone = new_phone()
    body = {
        "description": "Rác thải ven sông",
        "address": "Hương Sơ, Huế",
        "contact": {"phone": phone},
    }
    answers = [
        httpx.post(f"{replica.url}/api/v1/reflections", json=body, timeout=30)
        for replica in (a, b, a, b, a, b)
    ]
    assert [r.status_code for r in answers] == [201] * 5 + [429]  # five in an hour, wherever
    assert answers[-1].headers["retry-after"].isdigit()


def test_a_log_out_on_one_replica_ends_the_token_on_the_other(
    cluster: tuple[nginx.Balancer, list[Server], S3Server], session: Session
) -> None:
    _, (a, b), _ = cluster
    name, password = f"desk.{uuid.uuid4().hex[:8]}", "river-lantern-citadel-42"
    create_user(session, name, "Hồ Văn Nam", Role.COORDINATOR, password, [], [])  # its own user
    login = httpx.post(
        f"{a.url}/api/v1/auth/token", data={"username": name, "password": password}, timeout=30
    )
    bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert httpx.get(f"{b.url}/api/v1/auth/me", headers=bearer, timeout=30).status_code == 200
    out = httpx.post(f"{b.url}/api/v1/auth/logout", headers=bearer, timeout=30)
    assert out.status_code == 204
    assert httpx.get(f"{a.url}/api/v1/auth/me", headers=bearer, timeout=30).status_code == 401


def test_a_photo_sent_to_one_replica_is_served_by_the_other(
    cluster: tuple[nginx.Balancer, list[Server], S3Server],
) -> None:
    _, (a, b), _ = cluster
    photo = unique_png()
    sha, clean_bytes = stored_sha(photo), clean(photo).content  # stored as re-encoded
    submitted = httpx.post(
        f"{a.url}/api/v1/reflections/with-photos",
        data={"description": "Cây đổ chắn đường", "address": "Lê Duẩn, Huế"},
        files=[("photos", ("cay.png", photo, "image/png"))],
        timeout=30,
    )
    assert submitted.status_code == 201, submitted.text
    code, citizen = submitted.json()["tracking_code"], submitted.json()["citizen_key"]
    for replica in (a, b):
        served = httpx.get(
            f"{replica.url}/api/v1/reflections/{code}/photos/{sha}",
            headers={"X-Citizen-Key": citizen},
            timeout=30,
        )
        assert served.status_code == 200, served.text
        assert served.content == clean_bytes


def test_a_page_session_opened_on_one_replica_continues_on_the_other(
    cluster: tuple[nginx.Balancer, list[Server], S3Server],
) -> None:
    _, (a, b), _ = cluster
    with httpx.Client(base_url=a.url, timeout=30) as on_a:
        form = on_a.get("/login")
        found = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert found, form.text[:500]
        login = on_a.post(
            "/login",
            data={"csrf": found.group(1), "username": "coordinator", "password": "demo-password"},
        )
        assert login.status_code == 303, login.text[:500]
        cookies = dict(on_a.cookies)
    with httpx.Client(base_url=b.url, cookies=cookies, timeout=30) as on_b:
        queue = on_b.get("/console/queue")
    assert queue.status_code == 200  # not sent to the log-in form
    assert "coordinator" in queue.text and "/logout" in queue.text  # who is logged in


def test_when_a_replica_dies_the_other_answers(
    cluster: tuple[nginx.Balancer, list[Server], S3Server], tmp_path: Path
) -> None:
    balancer, (a, b), _ = cluster
    a.kill()  # kill -9: nothing said to nginx
    with httpx.Client(base_url=balancer.url, timeout=30) as client:
        answers = [client.get("/healthz") for _ in range(6)]
        submitted = client.post(
            "/api/v1/reflections", json={"description": "Đèn tắt cả đoạn", "address": "Huế"}
        )
    assert [r.status_code for r in answers] == [200] * 6
    assert {_upstream(r) for r in answers} == {b.url.removeprefix("http://")}
    assert submitted.status_code == 201, submitted.text
