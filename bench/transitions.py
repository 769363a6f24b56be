"""Lifecycles per second through the domain service, against plain SQL writing the same rows.

    python bench/transitions.py [--lifecycles 300] [--databases sqlite,postgresql]

Each lifecycle is submit → classify → assign → accept → process → confirm: six transitions,
each its own transaction, on a fresh migrated and seeded database. The baseline writes the same
rows (one reflection insert, five updates, six history inserts, six commits) with plain SQL and
no state machine, in the same run, so the ratio is what the service's checks cost.
"""

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, text
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reflections.platform import migrate
from reflections.platform.db import get_engine
from reflections.seed.loader import seed
from tests.databases import scratch_postgres
from tests.lifecycle_helpers import E, fire, new_reflection, refs

STEPS = [E.CLASSIFY, E.ASSIGN, E.ACCEPT, E.PROCESS, E.CONFIRM]
TRANSITIONS_PER_LIFECYCLE = 1 + len(STEPS)
POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@contextmanager
def fresh_database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    admin_url = os.environ.get("BENCH_POSTGRES_ADMIN_URL", POSTGRES_ADMIN)
    with scratch_postgres(admin_url, "reflections_bench") as url:
        yield url


def through_service(engine: Engine, lifecycles: int) -> None:
    with Session(engine, expire_on_commit=False) as session:
        r = refs(session)
        for _ in range(lifecycles):
            reflection = new_reflection(session)
            for event in STEPS:
                reflection = fire(session, reflection, event, r)


def plain_sql(engine: Engine, lifecycles: int) -> None:
    """The same rows, written directly: what a naive CRUD implementation would cost."""
    now = datetime.now(UTC).replace(tzinfo=None)
    states = [
        ("classified", None),
        ("assigned", "awaiting_acceptance"),
        ("assigned", "in_progress"),
        ("processed", None),
        ("confirmed", None),
    ]
    insert_history = text(
        "INSERT INTO history_events (reflection_id, seq, event, to_state, to_stage, actor_role,"
        " payload, occurred_at, hash) VALUES (:rid, :seq, :event, :state, :stage, 'coordinator',"
        " '{}', :now, 'x')"
    )
    for _ in range(lifecycles):
        with engine.begin() as connection:
            rid = connection.execute(
                text(
                    "INSERT INTO reflections (tracking_code, secret_hash, description, address,"
                    " submitted_via, state, escalation_level, extension_pending, reopen_count,"
                    " version, created_at, updated_at) VALUES (:code, 'h', 'Đèn đường hỏng',"
                    " '12 Lê Lợi', 'app', 'received', 0, false, 0, 1, :now, :now) RETURNING id"
                ),
                {"code": uuid.uuid4().hex[:16], "now": now},
            ).scalar_one()
            connection.execute(
                insert_history,
                {
                    "rid": rid,
                    "seq": 1,
                    "event": "submit",
                    "state": "received",
                    "stage": None,
                    "now": now,
                },
            )
        for seq, ((state, stage), event) in enumerate(zip(states, STEPS, strict=True), start=2):
            with engine.begin() as connection:
                connection.execute(
                    text(
                        "UPDATE reflections SET state = :state, assignment_stage = :stage,"
                        " version = :seq, updated_at = :now WHERE id = :rid AND version = :prev"
                    ),
                    {
                        "state": state,
                        "stage": stage,
                        "seq": seq,
                        "now": now,
                        "rid": rid,
                        "prev": seq - 1,
                    },
                )
                connection.execute(
                    insert_history,
                    {
                        "rid": rid,
                        "seq": seq,
                        "event": event.value,
                        "state": state,
                        "stage": stage,
                        "now": now,
                    },
                )


def timed(run: Callable[[Engine, int], None], engine: Engine, lifecycles: int) -> float:
    started = time.perf_counter()
    run(engine, lifecycles)
    return time.perf_counter() - started


def bench(kind: str, lifecycles: int) -> None:
    with fresh_database(kind) as url:
        os.environ["REFLECTIONS_DATABASE_URL"] = url
        migrate.upgrade(url)
        engine = get_engine(url)
        with Session(engine) as session:
            seed(session, demo_password="bench-password")
        through_service(engine, 10)  # warm up caches and the connection pool
        plain_sql(engine, 10)
        service_s = timed(through_service, engine, lifecycles)
        baseline_s = timed(plain_sql, engine, lifecycles)
        engine.dispose()
    transitions = lifecycles * TRANSITIONS_PER_LIFECYCLE
    print(
        f"{kind:10} service : {lifecycles / service_s:8.1f} lifecycles/s "
        f"{transitions / service_s:8.1f} transitions/s ({service_s:.2f} s)"
    )
    print(
        f"{kind:10} baseline: {lifecycles / baseline_s:8.1f} lifecycles/s "
        f"{transitions / baseline_s:8.1f} transitions/s ({baseline_s:.2f} s)"
    )
    print(f"{kind:10} ratio   : service takes {service_s / baseline_s:.2f}x the plain-SQL time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lifecycles", type=int, default=300)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    print(f"{args.lifecycles} lifecycles of {TRANSITIONS_PER_LIFECYCLE} transitions each")
    for kind in args.databases.split(","):
        bench(kind.strip(), args.lifecycles)


if __name__ == "__main__":
    main()
