"""Instructions per request of bench/api_intake.py's three kinds, the app called in process
(issue 18): the wall clock and the CPU of a server that shares two cores with its client and
PostgreSQL move with the load; instruction counts do not.

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/intake.out \\
        .venv/bin/python bench/intake_instructions.py [SOURCE] --kind read|submit|bare \\
        [--requests 200]
    callgrind_annotate /tmp/intake.out.1 | grep TOTALS     # divided by --requests

Like bench/api_intake.py, it migrates and seeds a scratch PostgreSQL database and builds the
product's app with the bare insert beside it (that bench's ``BENCH_APP``), with the abuse limits
off. Inside the app's lifespan it submits 50 reflections, sends 200 requests of the kind to warm
up, freezes what exists (``gc.freeze``: a full collection over the setup's objects would
otherwise land in some counts and not others), then counts ``--requests`` requests sent one at a
time straight to the ASGI app (no HTTP client, no socket): the middleware, the routing, the
thread pool, the database's round trips and the answer, as a server process spends them.
It prints the process's CPU time per request too (needs cc and valgrind's headers, as
bench/callgrind_timed.py does). SOURCE is the checkout
measured (this one by default; ``git archive`` another commit into a folder to compare).
"""

import argparse
import asyncio
import gc
import importlib.util
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

POSTGRES_ADMIN = os.environ.get(
    "BENCH_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
WARM_UP = 200
SUBMITTED_FIRST = 50


def _module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def call(
    app: Callable[..., Awaitable[None]],
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """One request to the ASGI app, as uvicorn would hand it over; its status and body."""
    raw = b"" if body is None else json.dumps(body).encode()
    sent = [(b"host", b"bench"), (b"content-type", b"application/json")]
    sent += [(b"content-length", str(len(raw)).encode())]
    sent += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": sent,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    delivered = False
    answer: dict[str, Any] = {"status": 0, "body": b""}

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return answer["status"], answer["body"]


async def measure(
    app: Any, submission: Callable[[int], dict[str, Any]], requests: Any, kind: str, count: int
) -> float:
    """CPU seconds per counted request (under valgrind, its instructions are counted too)."""
    citizens: list[tuple[str, str]] = []

    async def one(number: int, kind: str) -> None:
        if kind == "submit":
            status, body = await call(app, "POST", "/api/v1/reflections", submission(number))
            answer = json.loads(body)
            citizens.append((answer["tracking_code"], answer["citizen_key"]))
            expected = 201
        elif kind == "read":
            code, key = citizens[number % len(citizens)]
            path = f"/api/v1/reflections/{code}"
            status, body = await call(app, "GET", path, headers={"X-Citizen-Key": key})
            expected = 200
        else:
            note = {"note": f"bench {number}"}
            status, body = await call(app, "POST", "/bench/bare-insert", note)
            expected = 201
        assert status == expected, (status, body[:300])

    async with app.router.lifespan_context(app):
        assert not app.state.readiness.waiting, app.state.readiness.reason
        for number in range(SUBMITTED_FIRST):
            await one(number, "submit")
        for number in range(WARM_UP):
            await one(number, kind)
        gc.collect()
        gc.freeze()
        started = time.process_time()
        requests.start()  # no-ops unless run under valgrind
        for number in range(count):
            await one(number, kind)
        requests.stop()
        return (time.process_time() - started) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", default=str(Path(__file__).resolve().parents[1]))
    parser.add_argument("--kind", choices=["read", "submit", "bare"], required=True)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    checkout = Path(args.source).resolve()
    sys.path.insert(0, str(checkout))
    here = Path(__file__).resolve().parent
    counter = _module(here / "callgrind_timed.py", "callgrind_timed")
    intake = _module(checkout / "bench/api_intake.py", "api_intake")
    with (
        tempfile.TemporaryDirectory() as folder,
        intake.scratch_postgres(POSTGRES_ADMIN, "reflections_bench") as url,
    ):
        os.environ.update(
            REFLECTIONS_DATABASE_URL=url,
            REFLECTIONS_JWT_SECRET="bench-signing-key-that-is-long-enough-for-hs256",
            REFLECTIONS_ATTACHMENTS_DIR=str(Path(folder, "attachments")),
            REFLECTIONS_ABUSE_LIMITS="false",
        )
        intake.prepare(url, "bench-password")
        Path(folder, "bench_app.py").write_text(intake.BENCH_APP, encoding="utf-8")
        app = _module(Path(folder, "bench_app.py"), "bench_app").app
        requests = counter._requests(Path(folder))
        cpu = asyncio.run(measure(app, intake.submission, requests, args.kind, args.requests))
    print(f"{args.kind}: {args.requests} requests counted, {cpu * 1000:.3f} ms CPU per request")


if __name__ == "__main__":
    main()
