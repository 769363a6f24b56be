"""The deadline sweep on PostgreSQL: its cost follows the due cases, not the open ones.

    .venv/bin/python bench/sla_sweep.py [--sizes 10000,100000,1000000] [--due-share 0.01]
                                        [--overhead-cases 500] [--rounds 3]

Run on demand, not in CI. A scratch PostgreSQL database (BENCH_POSTGRES_ADMIN_URL, by default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres; created, then dropped, also on Ctrl-C)
is migrated and seeded, and open reflections are generated in SQL (INSERT ... SELECT from
generate_series, never through the ORM), growing to each size in turn: every one received
(waiting to be classified) on a ward of today's map, with its submit history row and its
classify step started; ``--due-share`` of them (1%) have their next sweep mark in the past and
an overdue step, the rest a mark days ahead. At each size, measured on warm caches:

- the due-work query: the sweep's claim (``SELECT id ... WHERE next_sla_at <= now ORDER BY
  next_sla_at LIMIT 200 FOR UPDATE SKIP LOCKED``, rolled back), median of 25 runs; beside
  it, a count of the open cases (the scan a sweep without the index would need);
- a full sweep: ``reflections.lifecycle.sla.drain`` as ``reflections sla sweep`` runs it, until
  nothing is due: each due case is reminded and escalated once (two lifecycle events, each a
  history row and its outbox messages, through the one service), in batches of 200.

Then the orchestration: the same amount of work (``--overhead-cases`` due cases, fresh ones)
done by ``drain`` called directly and by one run of the ``sla-sweep`` Prefect flow under
Prefect's real engine (a temporary local server, started beforehand and not timed; one warm-up
run with nothing due first), alternately ``--rounds`` times each; the medians are compared.
Compare runs at a similar load only: on a shared machine the figures drift by tens of percent.
"""

import argparse
import asyncio
import logging
import os
import signal
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import psycopg
from sqlalchemy.engine import make_url
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.databases

from reflections.lifecycle import sla
from reflections.platform import migrate
from reflections.platform.db import get_engine, reset_engines
from reflections.platform.settings import get_settings
from reflections.seed import loader
from tests.databases import scratch_postgres

POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BATCH = 200
QUERY_RUNS = 25
RESIDUES = 100  # each measurement makes due the fresh cases whose id % 100 is its own residue

# Received, classify step started ten working days ago (long overdue once its mark is due),
# next sweep mark days ahead until a measurement makes its group due.
GENERATE = """
INSERT INTO reflections (
    id, tracking_code, secret_hash, description, address, submitted_via,
    administrative_unit_id, state, escalation_level, extension_pending, reopen_count, version,
    created_at, updated_at, step_started_at, step_allowance_minutes, step_around_the_clock,
    step_reminded, step_escalations, classify_due_at, next_sla_at
)
SELECT g, 'S-' || lpad(g::text, 8, '0'), md5(g::text), 'Rác thải tồn đọng nhiều ngày',
    'Huế', 'app', wards[1 + g %% cardinality(wards)], 'received', 0, false, 0, 1,
    %(started)s, %(started)s, %(started)s, 240, false, false, 0,
    %(started)s + interval '6 hours', %(now)s + (1 + g %% 9) * interval '1 day'
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g,
    (SELECT array_agg(id ORDER BY id) AS wards FROM administrative_units
     WHERE level = 'commune' AND valid_to IS NULL) AS w
"""
SUBMITS = """
INSERT INTO history_events (reflection_id, seq, event, to_state, actor_role, payload,
    occurred_at, hash)
SELECT g, 1, 'submit', 'received', 'citizen', '{"submitted_via": "app"}', %(started)s,
    md5(g::text) || md5('s' || g)
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
"""
MAKE_DUE = """
UPDATE reflections SET next_sla_at = %(due)s
WHERE id %% %(residues)s = ANY(%(chosen)s) AND id <= %(upto)s AND state = 'received'
    AND NOT step_reminded
"""
CLAIM = (
    "SELECT id FROM reflections WHERE next_sla_at <= %(now)s ORDER BY next_sla_at"
    " LIMIT 200 FOR UPDATE SKIP LOCKED"
)
OPEN_SCAN = "SELECT count(*) FROM reflections WHERE state IN ('received', 'classified', 'assigned')"


def psycopg_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def timed(label: str) -> Any:
    started = time.perf_counter()
    yield
    print(f"  {label:50} {time.perf_counter() - started:7.1f} s", flush=True)


def prepare(url: str) -> None:
    migrate.upgrade(url)
    fast_hash = mock.patch.object(loader, "hash_password", return_value="not-a-hash")  # speed
    with fast_hash, Session(get_engine(url)) as session:
        loader.seed(session, demo_password="unused")
    get_engine(url).dispose()


def grow(url: str, first: int, last: int, now: datetime) -> None:
    """Reflections ``first``..``last`` and their submit rows, then statistics."""
    params = {"first": first, "last": last, "now": now, "started": now - timedelta(days=14)}
    with psycopg.connect(psycopg_url(url), autocommit=True) as connection:
        connection.execute("SET synchronous_commit = off")
        with timed(f"reflections {first:,}–{last:,} generated"):
            connection.execute(GENERATE, params)
            connection.execute(SUBMITS, params)
            connection.execute(
                "SELECT setval(pg_get_serial_sequence('reflections', 'id'), max(id))"
                " FROM reflections"
            )
        with timed("VACUUM ANALYZE"):
            connection.execute("VACUUM ANALYZE reflections")
            connection.execute("VACUUM ANALYZE history_events")


def make_due(url: str, residues: list[int], now: datetime, upto: int) -> int:
    """Give the fresh cases with these residues (and ids up to ``upto``) a sweep mark a minute
    ago: spread evenly over the table. How many they are."""
    with psycopg.connect(psycopg_url(url), autocommit=True) as connection:
        cursor = connection.execute(
            MAKE_DUE,
            {
                "due": now - timedelta(minutes=1),
                "residues": RESIDUES,
                "chosen": residues,
                "upto": upto,
            },
        )
        connection.execute("ANALYZE reflections")
        return cursor.rowcount


def query_times(url: str, now: datetime) -> tuple[float, float]:
    """Median milliseconds of the claim query and of a count of the open cases."""
    claims, scans = [], []
    with psycopg.connect(psycopg_url(url)) as connection:
        for _ in range(QUERY_RUNS):
            started = time.perf_counter()
            connection.execute(CLAIM, {"now": now}).fetchall()
            claims.append(time.perf_counter() - started)
            connection.rollback()
            started = time.perf_counter()
            connection.execute(OPEN_SCAN).fetchone()
            scans.append(time.perf_counter() - started)
            connection.rollback()
    return statistics.median(claims) * 1000, statistics.median(scans) * 1000


def direct_drain(url: str, now: datetime) -> tuple[float, sla.DrainReport]:
    seconds, _cpu, report = direct_drain_cpu(url, now)
    return seconds, report


def direct_drain_cpu(url: str, now: datetime) -> tuple[float, float, sla.DrainReport]:
    """The wall seconds, this process's CPU seconds (the database server's not included: the
    steadier figure on a loaded machine) and what the drain did."""
    with Session(get_engine(url), expire_on_commit=False) as session:
        started, cpu = time.perf_counter(), time.process_time()
        report = sla.drain(session, now, BATCH)
        return time.perf_counter() - started, time.process_time() - cpu, report


def flow_run(max_batches: int) -> tuple[float, dict[str, Any]]:
    from flows.sla import sla_sweep

    started = time.perf_counter()
    result = asyncio.run(sla_sweep(batch_size=BATCH, max_batches=max_batches))
    return time.perf_counter() - started, result


@contextmanager
def prefect_server() -> Any:
    """Prefect's real engine against a temporary local server (what the tests use)."""
    from prefect.settings import PREFECT_HOME, PREFECT_SERVER_ANALYTICS_ENABLED, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with tempfile.TemporaryDirectory() as home:
        settings = {PREFECT_HOME: home, PREFECT_SERVER_ANALYTICS_ENABLED: False}
        with temporary_settings(updates=settings), prefect_test_harness(server_startup_timeout=120):
            yield


def quiet_console() -> None:
    """Flow runs' log lines still go to the Prefect server (part of the cost measured), not
    to this terminal (Prefect sets its handlers up on the first run)."""
    from prefect.logging.handlers import PrefectConsoleHandler

    for handler in logging.getLogger().handlers:
        if isinstance(handler, PrefectConsoleHandler):
            handler.setLevel(logging.WARNING)


def bench(sizes: list[int], due_share: float, overhead_cases: int, rounds: int) -> None:
    admin_url = os.environ.get("BENCH_POSTGRES_ADMIN_URL", POSTGRES_ADMIN)
    with scratch_postgres(admin_url, "reflections_bench") as url:
        os.environ["REFLECTIONS_DATABASE_URL"] = url
        get_settings.cache_clear()
        reset_engines()
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(f"PostgreSQL scratch database {make_url(url).database}, load average {load}")
        prepare(url)
        table: list[tuple[int, int, float, float, float, int, float]] = []
        loaded, residue = 0, 0
        share = max(1, round(RESIDUES * due_share))
        for size in sizes:
            now = datetime.now(UTC)
            grow(url, loaded + 1, size, now)
            loaded = size
            due = make_due(url, list(range(residue, residue + share)), now, size)
            residue += share
            claim_ms, scan_ms = query_times(url, now)
            with timed(f"full sweep of {due:,} due among {size:,} open"):
                seconds, cpu, report = direct_drain_cpu(url, now)
            events = len(report.reminders) + len(report.escalations)
            assert report.complete and events == 2 * due, (events, due)
            table.append((size, due, claim_ms, scan_ms, seconds, events, cpu))
        print_table(table)
        bench_orchestration(url, overhead_cases, residue, loaded, rounds)


def print_table(table: list[tuple[int, int, float, float, float, int, float]]) -> None:
    print()
    print(
        "| open reflections | due | due-work query | count of open cases | full sweep"
        " | events | per due case | CPU per due case |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size, due, claim_ms, scan_ms, seconds, events, cpu in table:
        print(
            f"| {size:,} | {due:,} | {claim_ms:.2f} ms | {scan_ms:.1f} ms | {seconds:.1f} s"
            f" | {events:,} | {seconds / due * 1000:.1f} ms | {cpu / due * 1000:.1f} ms |"
        )
    first, last = table[0], table[-1]
    print(
        f"\n{last[0] / first[0]:.0f}× the open cases, {last[1] / first[1]:.0f}× the due ones:"
        f" the due-work query {last[2] / first[2]:.1f}×, the count of open cases"
        f" {last[3] / first[3]:.0f}×, the full sweep {last[4] / first[4]:.0f}×"
        f" ({last[4] / last[1] * 1000:.1f} against {first[4] / first[1] * 1000:.1f} ms"
        " per due case)"
    )


def bench_orchestration(url: str, cases: int, residue: int, loaded: int, rounds: int) -> None:
    """The same work called directly and run as one Prefect flow run, alternately, ``rounds``
    times each (the machine's load drifts; medians compare)."""
    upto = min(loaded, cases * RESIDUES)  # ``cases`` ids with one residue below it
    print(
        f"\nOrchestration: {cases:,} due cases swept directly, then by one sla-sweep flow run,"
        f" {rounds} times each, alternately"
    )
    runs: dict[str, list[float]] = {"direct": [], "flow": []}
    with prefect_server():
        flow_run(1)  # warm-up: client, flow registration, nothing due
        quiet_console()
        for _ in range(rounds):
            now = datetime.now(UTC)
            due = make_due(url, [residue], now, upto)
            seconds, direct = direct_drain(url, now)
            assert len(direct.reminders) + len(direct.escalations) == 2 * due
            runs["direct"].append(seconds / due)
            due = make_due(url, [residue + 1], datetime.now(UTC), upto)
            seconds, result = flow_run(max_batches=10_000)
            assert len(result["reminders"]) + len(result["escalations"]) == 2 * due
            runs["flow"].append(seconds / due)
            residue += 2
    print(f"| run | per due case, each round | median | one run of {cases:,} cases |")
    print("|---|---|---:|---:|")
    medians = {}
    for name, label in (("direct", "sla.drain called directly"), ("flow", "sla-sweep flow")):
        medians[name] = statistics.median(runs[name])
        each = ", ".join(f"{value * 1000:.1f}" for value in runs[name])
        print(
            f"| {label} | {each} ms | {medians[name] * 1000:.1f} ms"
            f" | {medians[name] * cases:.1f} s |"
        )
    overhead = (medians["flow"] - medians["direct"]) * cases
    print(
        f"\norchestration overhead: {overhead:+.2f} s per run of {cases:,} due cases"
        f" (flow/direct {medians['flow'] / medians['direct']:.2f}; the flow also announces"
        " each escalation as a Prefect event and logs each action to the server)"
    )


def _stop(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds like Ctrl-C: the scratch database is dropped


def main() -> None:
    signal.signal(signal.SIGTERM, _stop)
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="open reflections")
    parser.add_argument("--due-share", type=float, default=0.01, help="share of them due")
    parser.add_argument("--overhead-cases", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3, help="direct and flow runs, each")
    args = parser.parse_args()
    try:
        sizes = sorted(int(size) for size in args.sizes.split(","))
    except ValueError:
        parser.error("--sizes is a comma-separated list of numbers")
    if not sizes or sizes[0] < 1000 or sizes[-1] > 10_000_000:
        parser.error("--sizes must be in [1000, 10000000]")
    if not 0.0001 <= args.due_share <= 0.1:
        parser.error("--due-share must be in [0.0001, 0.1]")
    if not 100 <= args.overhead_cases <= 20_000:
        parser.error("--overhead-cases must be in [100, 20000]")
    if not 1 <= args.rounds <= 10:
        parser.error("--rounds must be in [1, 10]")
    bench(sizes, args.due_share, args.overhead_cases, args.rounds)


if __name__ == "__main__":
    main()
