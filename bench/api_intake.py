"""Intake through HTTP: submits and state reads, against one bare insert in the same app.

    .venv/bin/python bench/api_intake.py [--seconds 20] [--concurrency 16] [--workers 1]
        [--rounds 3]

Run on demand, not in CI. It creates a fresh PostgreSQL database (reflections_bench_<random>,
through BENCH_POSTGRES_ADMIN_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/postgres),
migrates and seeds it, and starts the API under uvicorn (--workers processes) on 127.0.0.1 at
a free port. Then, for --seconds each (in --rounds slices, the phases taken in turn, so that
the machine's other work weighs on each alike), httpx keeps --concurrency requests in flight:

(a) the mix, one submit to three reads: ``POST /api/v1/reflections`` (a Vietnamese description,
    an address, ward 46.W19768 and a contact phone) and ``GET /api/v1/reflections/{code}`` of
    a reflection submitted earlier, with the ``X-Citizen-Key`` its submit returned;
(b) the keyed mix: the same, each submit with an ``Idempotency-Key`` of its own (what a retrying
    client or the web form sends: the key's row is written with the reflection);
(c) submit only: nothing but ``POST /api/v1/reflections`` (unkeyed);
(d) the baseline: ``POST /bench/bare-insert``, which inserts one row with plain SQL.

The baseline endpoint lives only in a wrapper module the bench writes into a temporary folder
(``bench_app.py``: ``runtime.asgi.create_app()`` plus that one route, on a ``bench_bare`` table the
bench creates), so it passes through the same middleware, error handlers, thread pool and
connection pool as the product's routes, and the product never carries bench code. It is the
first route tried (the product's intake routes come after ten others): appended last, it paid
for trying every other route first, a third of its CPU.

Printed per phase and per request kind: requests, throughput (req/s), p50 and p99 latency (ms)
and errors (non-2xx answers, plus requests that got no answer), the server's CPU time per
request in each phase (its processes' user + system time from /proc: steadier than the wall
figures on a loaded machine) and the client's (this process), then the ratios of the mix's and
of submit-only's throughput to the baseline's (what the product's intake costs over a bare
round trip), the same two by the server's CPU per request (the ratio the server alone allows:
the client, on the same cores, spends more CPU per request than the bare insert does, so the
baseline's throughput is the client's), and the keyed mix's throughput to the mix's (what
remembering answers costs).

Bounded: --seconds at most 120 per phase, --max-requests per phase, a 10 s timeout per request,
60 s for the server to come up. Only loopback is used. The server is stopped and the database
dropped (WITH (FORCE)) at the end, also on error or Ctrl-C. The client runs in this process on
the same machine as the server, so on a small machine both share the cores.
"""

import argparse
import asyncio
import itertools
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.databases

from reflections.platform import migrate
from reflections.platform.db import get_engine
from reflections.seed.loader import seed
from tests.databases import scratch_postgres

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
HOST = "127.0.0.1"
WARD = "46.W19768"
READS_PER_SUBMIT = 3
MAX_SECONDS = 120.0
REQUEST_TIMEOUT_S = 10.0
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0

BENCH_APP = '''\
"""The product app plus one bench-only route; written by bench/api_intake.py, never shipped."""

from pydantic import BaseModel, Field
from sqlalchemy import text

from runtime.asgi import create_app
from reflections.platform.db import get_engine

app = create_app()


class Bare(BaseModel):
    note: str = Field(max_length=200)


@app.post("/bench/bare-insert", status_code=201)
def bare_insert(body: Bare) -> dict[str, int]:
    with get_engine().begin() as connection:
        row_id = connection.execute(
            text("INSERT INTO bench_bare (note) VALUES (:note) RETURNING id"), {"note": body.note}
        ).scalar_one()
    return {"id": row_id}


# Tried first, as a bare endpoint would be: routes are tried in order, and appended last this
# one paid for trying the product's 150-odd routes before it (the product's intake routes come
# after only ten others).
app.router.routes.insert(0, app.router.routes.pop())
'''

STREETS = ["Lê Lợi", "Hùng Vương", "Trần Hưng Đạo", "Nguyễn Huệ", "Bà Triệu", "Đống Đa"]
PROBLEMS = [
    "Đèn đường hỏng, cả đoạn tối om từ 7 giờ tối",
    "Rác thải đổ trộm trên vỉa hè, bốc mùi khó chịu",
    "Ổ gà lớn giữa đường, xe máy suýt ngã",
    "Cống thoát nước bị tắc, mưa xuống là ngập",
    "Cây xanh gãy cành, nguy hiểm cho người đi bộ",
]


@dataclass
class Sample:
    kind: str
    status: int  # 0: no answer (timeout, connection error)
    seconds: float


@dataclass
class Phase:
    name: str
    wall_s: float = 0.0
    cpu_s: float = 0.0  # the server's CPU seconds during the phase
    client_cpu_s: float = 0.0  # this process's (the client's) CPU seconds during the phase
    samples: list[Sample] = field(default_factory=list)


@dataclass
class Citizen:
    tracking_code: str
    key: str


# --- the database and the server ------------------------------------------------------------


def prepare(url: str, demo_password: str) -> None:
    """Migrate and seed as the product would, and add the baseline's table."""
    migrate.upgrade(url)
    engine = get_engine(url)
    try:
        with Session(engine) as session:
            seed(session, demo_password=demo_password)
        with engine.begin() as connection:
            connection.execute(
                text(
                    "CREATE TABLE bench_bare (id BIGSERIAL PRIMARY KEY, note TEXT NOT NULL,"
                    " created_at TIMESTAMPTZ NOT NULL DEFAULT now())"
                )
            )
    finally:
        engine.dispose()


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the process ``pid`` and its descendants (the uvicorn
    workers), from /proc; 0 where /proc is not there."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue
    return total


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def server(url: str, workers: int) -> Iterator[tuple[str, int]]:
    """uvicorn on bench_app:app at 127.0.0.1:<free port>; its base URL and process id, then it
    is stopped."""
    with tempfile.TemporaryDirectory(prefix="reflections-bench-") as folder:
        Path(folder, "bench_app.py").write_text(BENCH_APP, encoding="utf-8")
        port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "REFLECTIONS_DATABASE_URL": url,
            "REFLECTIONS_JWT_SECRET": secrets.token_urlsafe(48),
            "REFLECTIONS_ATTACHMENTS_DIR": str(Path(folder, "attachments")),
            # One client address submitting thousands an hour: the abuse limits would refuse all
            # but the first ten (bench/abuse.py measures them).
            "REFLECTIONS_ABUSE_LIMITS": "false",
        }
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "bench_app:app",
            "--app-dir",
            folder,
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        # Its own folder as working directory: no .env of the checkout, no var/ written there.
        process = subprocess.Popen(command, cwd=folder, env=env)
        try:
            base_url = f"http://{HOST}:{port}"
            wait_until_healthy(process, base_url)
            yield base_url, process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_S)


def wait_until_healthy(process: subprocess.Popen[bytes], base_url: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    with httpx.Client(base_url=base_url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode} while starting")
            try:
                if client.get("/api/v1/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer /api/v1/health within {STARTUP_TIMEOUT_S} s")


# --- the load ------------------------------------------------------------------------------


def submission(number: int) -> dict[str, Any]:
    street = STREETS[number % len(STREETS)]
    return {
        "description": f"{PROBLEMS[number % len(PROBLEMS)]} (số {number} {street})",
        "address": f"{number % 200 + 1} {street}, Phú Xuân, Huế",
        "administrative_unit": WARD,
        "contact": {"phone": "0905 123 456"},
    }


async def timed(
    client: httpx.AsyncClient, kind: str, method: str, path: str, **kwargs: Any
) -> tuple[Sample, httpx.Response | None]:
    started = time.perf_counter()
    try:
        response = await client.request(method, path, **kwargs)
    except httpx.HTTPError:
        return Sample(kind, 0, time.perf_counter() - started), None
    return Sample(kind, response.status_code, time.perf_counter() - started), response


async def submit(
    client: httpx.AsyncClient, number: int, citizens: list[Citizen], keyed: bool = False
) -> Sample:
    headers = {"Idempotency-Key": secrets.token_urlsafe(18)} if keyed else {}
    sample, response = await timed(
        client, "submit", "POST", "/api/v1/reflections", json=submission(number), headers=headers
    )
    if response is not None and response.status_code == 201:
        body = response.json()
        citizens.append(Citizen(body["tracking_code"], body["citizen_key"]))
    return sample


async def read(client: httpx.AsyncClient, citizen: Citizen) -> Sample:
    sample, _ = await timed(
        client,
        "read",
        "GET",
        f"/api/v1/reflections/{citizen.tracking_code}",
        headers={"X-Citizen-Key": citizen.key},
    )
    return sample


async def bare_insert(client: httpx.AsyncClient, number: int) -> Sample:
    sample, _ = await timed(
        client, "insert", "POST", "/bench/bare-insert", json={"note": f"bench {number}"}
    )
    return sample


async def run_phase(
    name: str,
    base_url: str,
    concurrency: int,
    seconds: float,
    max_requests: int,
    citizens: list[Citizen],
    pid: int,
) -> Phase:
    """Keep ``concurrency`` requests in flight until the time or the request budget runs out."""
    phase = Phase(name)
    tickets = itertools.count()
    rng = random.Random(20261123)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    timeout = httpx.Timeout(REQUEST_TIMEOUT_S)

    async def one(client: httpx.AsyncClient, number: int) -> Sample:
        if name == "baseline":
            return await bare_insert(client, number)
        if name == "submit":
            return await submit(client, number, citizens)
        if number % (READS_PER_SUBMIT + 1) == 0 or not citizens:
            return await submit(client, number, citizens, keyed=name == "keyed")
        return await read(client, rng.choice(citizens))

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout) as client:
        started, cpu = time.perf_counter(), server_cpu_seconds(pid)
        client_cpu = time.process_time()
        deadline = started + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                number = next(tickets)
                if number >= max_requests:
                    return
                phase.samples.append(await one(client, number))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        phase.wall_s = time.perf_counter() - started
        phase.cpu_s = server_cpu_seconds(pid) - cpu
        phase.client_cpu_s = time.process_time() - client_cpu
    return phase


async def drive(
    base_url: str, pid: int, concurrency: int, seconds: float, max_requests: int, rounds: int = 1
) -> list[Phase]:
    """Each phase for ``seconds`` in all, in ``rounds`` slices taken in turn (mix, keyed,
    submit, baseline, mix, ...): a load that changes during the run (the machine's other work)
    then weighs on every phase alike, and the ratios between them hold better."""
    citizens: list[Citizen] = []
    # Warm up both paths (connections, caches), and give the reads reflections to read.
    warm = min(2.0, seconds)
    await run_phase("mix", base_url, concurrency, warm, 4 * concurrency, citizens, pid)
    await run_phase("baseline", base_url, concurrency, warm, concurrency, citizens, pid)
    totals = {name: Phase(name) for name in ("mix", "keyed", "submit", "baseline")}
    for _ in range(rounds):
        for name, total in totals.items():
            budget = max_requests - len(total.samples)
            if budget <= 0:
                continue
            part = await run_phase(
                name, base_url, concurrency, seconds / rounds, budget, citizens, pid
            )
            total.samples += part.samples
            total.wall_s += part.wall_s
            total.cpu_s += part.cpu_s
            total.client_cpu_s += part.client_cpu_s
    return list(totals.values())


# --- the report ----------------------------------------------------------------------------


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(fraction * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def line(phase: str, kind: str, samples: list[Sample], wall_s: float) -> str:
    latencies = sorted(s.seconds * 1000 for s in samples)
    errors = sum(1 for s in samples if not 200 <= s.status < 300)
    throughput = len(samples) / wall_s if wall_s else 0.0
    return (
        f"{phase:9} {kind:7} {len(samples):9d} {throughput:9.1f} "
        f"{percentile(latencies, 0.50):8.1f} {percentile(latencies, 0.99):8.1f} {errors:7d}"
    )


def report(phases: list[Phase]) -> None:
    print(
        f"{'phase':9} {'kind':7} {'requests':>9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'errors':>7}"
    )
    for phase in phases:
        print(line(phase.name, "all", phase.samples, phase.wall_s))
        kinds = sorted({s.kind for s in phase.samples})
        if len(kinds) > 1:
            for kind in kinds:
                picked = [s for s in phase.samples if s.kind == kind]
                print(line(phase.name, kind, picked, phase.wall_s))
        count = len(phase.samples) or 1
        print(
            f"{phase.name:9} took {phase.wall_s:.1f} s; server CPU {phase.cpu_s:.1f} s, "
            f"{phase.cpu_s / count * 1000:.2f} ms per request; the client's "
            f"{phase.client_cpu_s / count * 1000:.2f} ms per request "
            f"({phase.client_cpu_s / max(phase.wall_s, 1e-9):.0%} of a core)"
        )
    mix, keyed, submit_only, baseline = phases
    for over, under in ((mix, baseline), (submit_only, baseline), (keyed, mix)):
        if over.samples and under.samples and over.wall_s and under.wall_s:
            ratio = (len(over.samples) / over.wall_s) / (len(under.samples) / under.wall_s)
            print(f"{over.name} throughput / {under.name} throughput: {ratio:.3f}")
    for over in (mix, submit_only):
        if over.samples and baseline.samples and over.cpu_s:
            # The same ratio as the server's CPU allows it, whoever else is on the machine.
            cpu = (baseline.cpu_s / len(baseline.samples)) / (over.cpu_s / len(over.samples))
            print(f"{over.name} / {baseline.name} by the server's CPU per request: {cpu:.3f}")
    failed = [s for phase in phases for s in phase.samples if not 200 <= s.status < 300]
    if failed:
        statuses = sorted({s.status for s in failed})
        print(f"non-2xx statuses seen (0 = no answer): {statuses}")


def _stop(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds like Ctrl-C: the server stops, the database goes


def main() -> None:
    signal.signal(signal.SIGTERM, _stop)
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--seconds", type=float, default=20.0, help=f"per phase, at most {MAX_SECONDS:.0f}"
    )
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--max-requests", type=int, default=100_000, help="per phase")
    parser.add_argument(
        "--rounds", type=int, default=3, help="slices per phase, the phases taken in turn"
    )
    args = parser.parse_args()
    if not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be in (0, {MAX_SECONDS:.0f}]")
    if not 1 <= args.concurrency <= 256:
        parser.error("--concurrency must be in [1, 256]")
    if not 1 <= args.workers <= 16:
        parser.error("--workers must be in [1, 16]")
    if not 1 <= args.max_requests <= 1_000_000:
        parser.error("--max-requests must be in [1, 1000000]")
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be in [1, 20]")

    admin_url = os.environ.get("BENCH_POSTGRES_ADMIN_URL", POSTGRES_ADMIN)
    print(
        f"PostgreSQL, uvicorn --workers {args.workers}, concurrency {args.concurrency}, "
        f"{args.seconds:g} s per phase in {args.rounds} rounds, mix {READS_PER_SUBMIT} reads :"
        f" 1 submit; load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])}"
    )
    with scratch_postgres(admin_url, "reflections_bench") as url:
        prepare(url, demo_password=secrets.token_urlsafe(16))
        with server(url, args.workers) as (base_url, pid):
            phases = asyncio.run(
                drive(base_url, pid, args.concurrency, args.seconds, args.max_requests, args.rounds)
            )
    report(phases)
    print(f"load average at the end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")


if __name__ == "__main__":
    main()
