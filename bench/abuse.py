"""Abuse of the public edge, before and after its limits (issue 13).

    .venv/bin/python bench/abuse.py [--submissions 200] [--logins 200]

Run on demand, not in CI. It migrates and seeds a scratch SQLite database in a temporary
folder and starts the API under uvicorn on 127.0.0.1 (a free port) several times, each with
fresh in-memory counters:

1. submissions: N anonymous ``POST /api/v1/reflections`` naming one victim's phone, sent
   (a) from one address, (b) with 20 spoofed ``X-Forwarded-For`` values, (c) the same behind a
   trusted proxy (``REFLECTIONS_TRUSTED_PROXIES`` names 127.0.0.1, so the 20 values count as
   20 clients), and (d) from one address naming a different phone each time; each with the
   limits off (the build before them, measured in the same run) and on (the defaults). Printed:
   accepted (201), refused (429), and the victim's outbox rows: queued to be sent, and held.
2. log-ins: N wrong passwords for one seeded user from one address, as fast as answered:
   how many were tried (the password checked) before the first 429, and how the rest were
   answered; then the right password from another address (its answer and time: locked or
   not), and after the lock is lifted. With the limits off, the median time of a wrong
   password for a known and for an unknown username (the timing oracle).

Bounded: at most 1,000 requests per phase, a 10 s timeout each, 60 s for a server to come up;
loopback only. The servers are stopped and the folder removed at the end.
"""

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from sqlmodel import Session, col, func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.servers

from reflections.models import OutboxMessage, OutboxStatus
from reflections.organisation import login_throttle
from reflections.platform import migrate
from reflections.platform.db import get_engine
from reflections.platform.settings import get_settings
from reflections.seed.loader import seed
from tests.servers import running

DEMO_PASSWORD = "bench-demo-password-long-enough"
USER = "auditor"
TRUSTED = {"REFLECTIONS_TRUSTED_PROXIES": '["127.0.0.1"]'}


def body(phone: str) -> dict[str, object]:
    return {
        "description": "Rác thải tồn đọng trước số 3 Hùng Vương",
        "address": "3 Hùng Vương, Phú Xuân, Huế",
        "contact": {"phone": phone},
    }


def outbox(url: str, phone: str) -> tuple[int, int]:
    with Session(get_engine(url)) as session:
        rows = session.exec(
            select(OutboxMessage.status, func.count())
            .where(col(OutboxMessage.recipient) == phone)
            .group_by(col(OutboxMessage.status))
        ).all()
    counts = dict(rows)
    return counts.get(OutboxStatus.PENDING, 0), counts.get(OutboxStatus.HELD, 0)


def submissions(base: str, n: int, phones: list[str], forwarded: list[str] | None) -> Counter[int]:
    answers: Counter[int] = Counter()
    with httpx.Client(base_url=base, timeout=10) as client:
        for i in range(n):
            headers = {"X-Forwarded-For": forwarded[i % len(forwarded)]} if forwarded else {}
            sent = client.post(
                "/api/v1/reflections", json=body(phones[i % len(phones)]), headers=headers
            )
            answers[sent.status_code] += 1
    return answers


def submission_phases(folder: Path, url: str, n: int) -> None:
    spoofed = [f"198.51.100.{i}" for i in range(1, 21)]
    print(f"\n1. {n} anonymous submissions naming one victim's phone")
    print(f"{'phase':<44} {'limits':<7} {'201':>5} {'429':>5} {'queued':>7} {'held':>5}")
    number = iter(range(10**6))
    for limits in ("off", "on"):
        phases = [
            ("(a) one address", None, {}),
            ("(b) 20 spoofed X-Forwarded-For", spoofed, {}),
            (
                "(c) the same, proxy trusted",
                spoofed,
                {"REFLECTIONS_TRUSTED_PROXIES": '["127.0.0.1"]'},
            ),
            ("(d) one address, a new phone each time", None, {}),
        ]
        for name, forwarded, extra in phases:
            env = {
                "REFLECTIONS_DATABASE_URL": url,
                "REFLECTIONS_ABUSE_LIMITS": "true" if limits == "on" else "false",
            }
            victim = f"+8490{next(number):07d}"
            phones = (
                [victim]
                if not name.startswith("(d)")
                else [f"+8491{next(number):07d}" for _ in range(n)]
            )
            with running(folder / f"{limits}-{name[1]}.log", env | extra) as server:
                answers = submissions(server.url, n, phones, forwarded)
            queued, held = outbox(url, victim)
            shown = f"{queued:>7} {held:>5}" if len(phones) == 1 else f"{'-':>7} {'-':>5}"
            print(f"{name:<44} {limits:<7} {answers[201]:>5} {answers[429]:>5} {shown}")


def client_of(base: str) -> httpx.Client:
    return httpx.Client(base_url=base, timeout=10)


def _log_in(client: httpx.Client, password: str) -> httpx.Response:
    return client.post("/api/v1/auth/token", data={"username": USER, "password": password})


def _until_in(client: httpx.Client) -> tuple[int, float]:
    """The right password, waiting as Retry-After says: tries and seconds until a token."""
    started, tries = time.perf_counter(), 0
    while True:
        tries += 1
        answer = _log_in(client, DEMO_PASSWORD)
        if answer.status_code != 429:
            return tries, time.perf_counter() - started
        time.sleep(int(answer.headers["Retry-After"]))


def log_ins(folder: Path, url: str, n: int) -> None:
    print(f"\n2. {n} wrong log-ins for one user from one address, as fast as answered")
    env = {"REFLECTIONS_DATABASE_URL": url, "REFLECTIONS_ABUSE_LIMITS": "true"}
    with running(folder / "login.log", env) as server, client_of(server.url) as client:
        answers = [_log_in(client, f"guess-{i}").status_code for i in range(n)]
        first = answers.index(429) if 429 in answers else len(answers)
        print(f"   tried (password checked) before the first 429: {first}")
        print(f"   all answers: {dict(Counter(answers))}")
        tries, seconds = _until_in(client)
        print(f"   the right password then: {tries} tries, {seconds:.1f} s until logged in")

    print("\n   an attacker who waits as told (waits capped at 1 s for the bench):")
    fast = env | {"REFLECTIONS_LOGIN_DELAY_MAX_SECONDS": "1"}
    with running(folder / "lockout.log", fast) as server, client_of(server.url) as client:
        checked = 0
        for i in range(n):
            answer = _log_in(client, f"guess-{i}")
            if answer.status_code == 429 and answer.json().get("code") == "login_locked":
                break
            checked += answer.status_code == 401
            if answer.status_code == 429:
                time.sleep(int(answer.headers["Retry-After"]))
        started = time.perf_counter()
        right = _log_in(client, DEMO_PASSWORD)
        took = (time.perf_counter() - started) * 1000
        print(f"   locked after {checked} wrong passwords checked")
        print(
            f"   the right password: {right.status_code} {right.json().get('code')} ({took:.0f} ms)"
        )
        with Session(get_engine(url)) as session:
            for scope, subject in (("username", USER), ("address", "127.0.0.1")):
                login_throttle.lift(session, scope, subject)
            session.commit()
        started = time.perf_counter()
        right = _log_in(client, DEMO_PASSWORD)
        took = (time.perf_counter() - started) * 1000
        print(f"   after an admin lifts the lock: {right.status_code} ({took:.0f} ms)")
    waits = [
        login_throttle.wait_after(f) for f in range(get_settings().login_failures_before_lockout)
    ]
    print(f"   with the default waits (1, 2, 4 ... s) that attacker waits {sum(waits)} s in all")

    env = {"REFLECTIONS_DATABASE_URL": url, "REFLECTIONS_ABUSE_LIMITS": "false"}
    with running(folder / "oracle.log", env) as server, client_of(server.url) as client:
        times: dict[str, list[float]] = {"known": [], "unknown": []}
        for i in range(40):
            kind = "known" if i % 2 else "unknown"
            name = USER if kind == "known" else f"nobody-{i}"
            started = time.perf_counter()
            client.post("/api/v1/auth/token", data={"username": name, "password": "wrong"})
            times[kind].append((time.perf_counter() - started) * 1000)
    known, unknown = statistics.median(times["known"]), statistics.median(times["unknown"])
    print(
        f"\n   a wrong password, limits off, median of 20: known user {known:.0f} ms, "
        f"unknown user {unknown:.0f} ms (ratio {unknown / known:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--logins", type=int, default=200)
    args = parser.parse_args()
    n, logins = min(args.submissions, 1000), min(args.logins, 1000)
    with tempfile.TemporaryDirectory(prefix="bench-abuse-") as temp:
        folder = Path(temp)
        url = f"sqlite:///{folder / 'bench.db'}"
        migrate.upgrade(url)
        with Session(get_engine(url)) as session:
            seed(session, demo_password=DEMO_PASSWORD)
        day = time.strftime("%Y-%m-%d")
        print(f"bench/abuse.py ({day}): scratch SQLite, uvicorn on 127.0.0.1, default limits")
        submission_phases(folder, url, n)
        log_ins(folder, url, logins)


if __name__ == "__main__":
    main()
