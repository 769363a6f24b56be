"""The cluster drill: the whole deployment on one machine, a mixed load, a replica and a worker
killed midway and brought back, then every answer accounted for.

    .venv/bin/python bench/cluster.py [--seconds 150] [--users 6] [--max-requests 4000]

Run on demand (needs PostgreSQL, nginx: `make nginx`, Prism: `make install`), not in CI. Started,
each on 127.0.0.1 at a free port and stopped at the end (also on error or Ctrl-C): two scratch
PostgreSQL databases (the service's, migrated and seeded, and the Prefect server's; both dropped
WITH (FORCE)), the Prefect server on PostgreSQL, the process pool with prefect.yaml's
deployments and the crash automation (flows/crashes.py), two workers, moto_server (the photo
bucket), two API replicas behind nginx, an SMTP peer counting each Message-ID and Prism for
Twilio. Before the load, ``--due`` reflections are submitted and their classify step is dated
ten days back, so the every-minute sweep reminds and escalates them during the drill.

The load: ``--users`` virtual citizens-and-clerks, each carrying reflections through nginx from
submission (multipart, one photo, an Idempotency-Key) through classify, assign, accept and
process to the citizen's confirmation, as fast as answers come. A request without an answer or
with a 502/503 is retried once with the same key. At a third of ``--seconds`` replica A is
killed (kill -9) and so is worker 1 with the flow runs it started (as when its machine dies);
at two thirds both come back. After the load, the drill waits (at most ``--settle`` seconds)
for the outbox to drain and the sweep to finish, then prints the table.
"""

import argparse
import asyncio
import hashlib
import os
import secrets
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cluster_stack as stack  # bench/ is on the path when run as a script
from cluster_report import report
from notify import TWILIO, prism

from reflections.platform import migrate
from reflections.platform.db import get_engine
from reflections.seed.loader import seed
from tests import nginx
from tests.databases import scratch_postgres
from tests.s3_peer import moto_server
from tests.servers import JWT_SECRET, Server, start
from tests.test_api_errors import PNG

POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PASSWORD = "demo-password"
WARD, UNIT = "46.W19768", "UBND.46.W19768"
HEARTBEAT = 30


@dataclass
class Load:
    """What the clients saw."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)  # 2xx answers per request kind
    replayed: Counter[str] = field(default_factory=Counter)  # of those, answers replayed
    codes: list[str] = field(default_factory=list)
    photos: list[tuple[str, str, str]] = field(default_factory=list)  # code, key, sha256
    started: float = 0.0
    elapsed: float = 0.0


async def call(
    client: httpx.AsyncClient, load: Load, kind: str, method: str, url: str, **kwargs: object
) -> httpx.Response | None:
    """One request, retried once (same Idempotency-Key) when no answer or a 502/503 came."""
    headers = dict(kwargs.pop("headers", {}) or {})  # type: ignore[call-overload]
    if method == "POST":
        headers.setdefault("Idempotency-Key", secrets.token_hex(16))
    answer: httpx.Response | None = None
    for attempt in (1, 2):
        began = time.perf_counter()
        try:
            got = await client.request(method, url, headers=headers, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as error:
            load.statuses[f"no answer ({type(error).__name__})"] += 1
            answer = None
        else:
            load.latencies.append(time.perf_counter() - began)
            load.statuses[str(got.status_code)] += 1
            answer = got
        if answer is not None and answer.status_code not in (502, 503):
            break
        if attempt == 1:
            load.statuses["retried"] += 1
            await asyncio.sleep(0.5)
    if answer is not None and answer.is_success:
        load.by_kind[kind] += 1
        load.replayed[kind] += answer.headers.get("idempotent-replayed") == "true"
    return answer


async def journey(
    client: httpx.AsyncClient, load: Load, staff: dict[str, dict[str, str]], n: int
) -> None:
    """One reflection carried from a citizen's photo to the citizen's confirmation."""
    photo = PNG + f"{n}-{secrets.token_hex(4)}".encode()
    form = {
        "description": f"Rác thải tồn đọng trên vỉa hè, lần {n}",
        "address": "25 Đinh Tiên Hoàng, Huế",
        "administrative_unit": WARD,
        "contact_email": f"citizen{n}@example.com",
        "contact_phone": "0905 123 456",
    }
    files = [("photos", ("rac.png", photo, "image/png"))]
    sent = await call(
        client, load, "submit", "POST", "/api/v1/reflections/with-photos", data=form, files=files
    )
    if sent is None or sent.status_code != 201:
        return
    code, key = sent.json()["tracking_code"], sent.json()["citizen_key"]
    load.codes.append(code)
    load.photos.append((code, key, hashlib.sha256(photo).hexdigest()))
    base = f"/api/v1/reflections/{code}"
    steps = [
        (
            "classify",
            staff["coordinator"],
            {"category": "urban_order", "priority": "normal", "administrative_unit": WARD},
        ),
        ("assign", staff["coordinator"], {"handling_unit": UNIT}),
        ("accept", staff["handler"], {}),
        ("process", staff["handler"], {"result": "Đã thu gom rác"}),
        ("confirm", {"X-Citizen-Key": key}, {"rating": 5, "comment": "Cảm ơn"}),
    ]
    for action, headers, body in steps:
        answer = await call(
            client, load, action, "POST", f"{base}/{action}", headers=headers, json=body
        )
        if answer is None or not answer.is_success:
            return


async def drive(url: str, users: int, seconds: float, max_requests: int, load: Load) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        staff = {}
        for role, username in (("coordinator", "coordinator"), ("handler", "handler.phuxuan")):
            token = await client.post(
                "/api/v1/auth/token", data={"username": username, "password": PASSWORD}
            )
            token.raise_for_status()
            staff[role] = {"Authorization": f"Bearer {token.json()['access_token']}"}
        load.started = time.monotonic()
        deadline = load.started + seconds
        counter = iter(range(10**9))

        async def user() -> None:
            while time.monotonic() < deadline and sum(load.statuses.values()) < max_requests:
                await journey(client, load, staff, next(counter))

        await asyncio.gather(*(user() for _ in range(users)))
        load.elapsed = time.monotonic() - load.started


def make_due(url: str, gateway: str, count: int) -> list[str]:
    """``count`` reflections whose classify step started ten days ago: due for the sweep."""
    codes = []
    with httpx.Client(base_url=gateway, timeout=30) as client:
        for n in range(count):
            body = {
                "description": f"Đèn đường hỏng lâu ngày {n}",
                "address": "Huế",
                "administrative_unit": WARD,
            }
            answer = client.post("/api/v1/reflections", json=body)
            answer.raise_for_status()
            codes.append(answer.json()["tracking_code"])
    with Session(get_engine(url)) as session:
        session.execute(
            text(
                "UPDATE reflections SET step_started_at = now() - interval '10 days',"
                " classify_due_at = now() - interval '9 days', next_sla_at = now()"
                " WHERE tracking_code = ANY(:codes)"
            ),
            {"codes": codes},
        )
        session.commit()
    return codes


def settings_for(
    url: str, s3_settings: dict[str, str], smtp_port: int, twilio: str
) -> dict[str, str]:
    """What every replica and worker is told (README: Deploying for a province or the nation)."""
    return s3_settings | {
        "REFLECTIONS_DATABASE_URL": url,
        "REFLECTIONS_JWT_SECRET": JWT_SECRET,
        "REFLECTIONS_PUBLIC_URL": "http://127.0.0.1",
        "REFLECTIONS_SMTP_HOST": "127.0.0.1",
        "REFLECTIONS_SMTP_PORT": str(smtp_port),
        "REFLECTIONS_TWILIO_ACCOUNT_SID": TWILIO.account_sid,
        "REFLECTIONS_TWILIO_AUTH_TOKEN": TWILIO.auth_token,
        "REFLECTIONS_TWILIO_FROM_NUMBER": TWILIO.from_number or "",
        "REFLECTIONS_TWILIO_BASE_URL": twilio,
        "REFLECTIONS_QUIET_HOURS_START": "00:00",
        "REFLECTIONS_QUIET_HOURS_END": "00:00",
        "REFLECTIONS_OUTBOX_LEASE_SECONDS": "30",
        "REFLECTIONS_SLA_LEASE_SECONDS": "30",
        "REFLECTIONS_OUTBOX_STUCK_SECONDS": "0",
        # Unthrottled: the drill measures what one dispatcher delivers (a provider's contract
        # sets the real rate; README: sizing).
        "REFLECTIONS_EMAIL_PER_SECOND": "0",
        "REFLECTIONS_SMS_PER_SECOND": "0",
        "REFLECTIONS_DATABASE_POOL_SIZE": "5",
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=150)
    parser.add_argument("--users", type=int, default=6)
    parser.add_argument("--max-requests", type=int, default=4000)
    parser.add_argument("--due", type=int, default=20)
    parser.add_argument("--settle", type=float, default=150)
    args = parser.parse_args()
    seconds = min(args.seconds, 300)  # bounded, whatever is asked
    admin = os.environ.get("BENCH_POSTGRES_ADMIN_URL", POSTGRES_ADMIN)
    with ExitStack() as cleanup, tempfile.TemporaryDirectory(prefix="reflections-cluster-") as tmp:
        folder = Path(tmp)
        url = cleanup.enter_context(scratch_postgres(admin, "reflections_cluster"))
        prefect_db = cleanup.enter_context(scratch_postgres(admin, "reflections_prefect"))
        migrate.upgrade(url)
        with Session(get_engine(url)) as session:
            seed(session, demo_password=PASSWORD)
        s3 = cleanup.enter_context(moto_server(folder / "moto.log"))
        s3.create_bucket("photos")
        smtp, smtp_port = cleanup.enter_context(stack.smtp_peer())
        twilio = cleanup.enter_context(prism())
        settings = settings_for(url, s3.settings("s3://photos/hue"), smtp_port, twilio)
        print("starting the Prefect server on PostgreSQL, the pool and two workers ...", flush=True)
        asyncpg = make_url(prefect_db).set(drivername="postgresql+asyncpg")
        server = cleanup.enter_context(
            stack.prefect_server(asyncpg.render_as_string(hide_password=False), folder)
        )
        stack.deploy(server, folder, HEARTBEAT)
        workers = [stack.worker(f"worker-{i}", server, settings, folder) for i in (1, 2)]
        cleanup.callback(stop_all, workers)
        print("starting two API replicas behind nginx ...", flush=True)
        replicas: list[Server] = []
        cleanup.callback(stop_all, replicas)
        for name in ("a", "b"):
            env = settings | {"REFLECTIONS_ATTACHMENTS_DIR": str(folder / name)}
            replicas.append(start(folder / f"replica-{name}.log", env))
        balancer = cleanup.enter_context(
            nginx.balancing([r.url for r in replicas], folder / "nginx")
        )
        due = make_due(url, balancer.url, args.due)
        print(
            f"{args.due} reflections made due for the sweep; load for {seconds:.0f} s ...",
            flush=True,
        )

        load = Load()
        loop = asyncio.new_event_loop()
        task = loop.create_task(drive(balancer.url, args.users, seconds, args.max_requests, load))
        events, killed = faults(loop, seconds, replicas, workers, server, settings, folder)
        loop.run_until_complete(task)
        loop.close()
        print(
            f"load done; waiting up to {args.settle:.0f} s for the outbox and the sweep ...",
            flush=True,
        )
        report(
            url,
            load,
            smtp,
            server,
            replicas,
            due,
            (events, killed),
            args.settle,
            seconds,
            stop_workers=lambda: stop_all(workers),
        )


def stop_all(processes: "list[Server] | list[stack.Process]") -> None:
    for process in processes:  # the list as it is at the end: restarted ones included
        process.stop()


def faults(
    loop: asyncio.AbstractEventLoop,
    seconds: float,
    replicas: list[Server],
    workers: list[stack.Process],
    server: stack.PrefectServer,
    settings: dict[str, str],
    folder: Path,
) -> tuple[list[str], list[str]]:
    """At a third of the load kill replica A and the worker running the dispatcher (with its
    flow runs, as when its machine dies); at two thirds bring both back. Returns the events and
    the ids of the runs killed."""
    events: list[str] = []
    killed: list[str] = []

    async def schedule() -> None:
        await asyncio.sleep(seconds / 3)
        dispatching = await asyncio.to_thread(stack.running_runs, server, "notification-dispatch")
        runs = [stack.flow_runs_under(w.popen.pid) for w in workers]
        chosen = next((i for i, r in enumerate(runs) if r & dispatching), 0)
        replicas[0].kill()
        workers[chosen].kill_host()
        killed.extend(sorted(runs[chosen]))
        events.append(
            f"{seconds / 3:.0f} s: kill -9 of replica A, and of worker {chosen + 1} with the "
            f"{len(runs[chosen])} flow run(s) it ran (dispatcher among them: "
            f"{bool(runs[chosen] & dispatching)})"
        )
        await asyncio.sleep(seconds / 3)
        port = int(replicas[0].url.rsplit(":", 1)[1])
        env = settings | {"REFLECTIONS_ATTACHMENTS_DIR": str(folder / "a")}
        replicas[0] = await asyncio.to_thread(start, folder / "replica-a.log", env, port=port)
        workers[chosen] = stack.worker(f"worker-{chosen + 1}", server, settings, folder)
        events.append(f"{2 * seconds / 3:.0f} s: replica A and worker {chosen + 1} back")

    loop.create_task(schedule())
    return events, killed


if __name__ == "__main__":
    main()
