"""Two API processes behind Debian's nginx answer any request the same way: nothing a request
needs lives in one process. Staff tokens are signed with the JWT secret from settings, page
sessions are cookies holding those tokens, Idempotency-Key answers are rows in the database,
photos are in the shared bucket (moto_server; each replica has an empty photos folder of its
own). When one replica is killed, nginx sends the next requests to the other."""

import hashlib
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import nginx
from tests.s3_peer import S3Server, moto_server
from tests.servers import Server, start
from tests.test_api_errors import PNG

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
                env = s3.settings("s3://photos/replicas") | {
                    "REFLECTIONS_DATABASE_URL": database_url,
                    "REFLECTIONS_ATTACHMENTS_DIR": str(folder / name / "attachments"),
                }
                replicas.append(start(folder / f"{name}.log", env))
            with nginx.balancing([r.url for r in replicas], folder / "nginx") as balancer:
                yield balancer, replicas, s3
        finally:
            for replica in replicas:
                replica.stop()


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


def test_a_photo_sent_to_one_replica_is_served_by_the_other(
    cluster: tuple[nginx.Balancer, list[Server], S3Server],
) -> None:
    _, (a, b), _ = cluster
    photo = PNG + uuid.uuid4().bytes
    sha = hashlib.sha256(photo).hexdigest()
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
        assert served.content == photo


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
