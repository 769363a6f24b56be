"""What ``reflections audit verify`` costs: time and memory over a large history table.

    .venv/bin/python bench/audit_verify.py [--rows 1000000] [--database sqlite|postgresql]

Run on demand, not in CI. In a fresh migrated, seeded database (an SQLite file in a temporary
folder, or a scratch PostgreSQL database reached through BENCH_POSTGRES_ADMIN_URL, created and
dropped) one reflection is driven to "confirmed" through the real service (six history rows);
its reflection row and history are then copied, with new ids, tracking codes, instants and
recomputed hashes, until the history holds --rows rows (so every copy replays like the real
one). Then ``anchors.anchor`` covers them all and ``audit.verify`` checks every timeline and the
anchor. Printed: rows, seconds per phase, rows per second of verify, and the process's peak
resident memory before and after verify (the data is written in batches, so the growth during
verify is verify's own; a verify that loaded every row would grow by gigabytes at a million).
"""

import argparse
import os
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

from sqlalchemy import insert, select
from sqlmodel import Session, col

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.*

from reflections.lifecycle import history
from reflections.models import HistoryEvent, Reflection
from reflections.oversight import anchors, audit
from reflections.platform import clock, migrate
from reflections.platform.db import get_engine
from reflections.seed import loader
from tests.databases import scratch_postgres
from tests.lifecycle_helpers import reflection_at, refs

POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BATCH = 2000  # reflections written per transaction


@contextmanager
def fresh_database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/audit.db"
        return
    admin_url = os.environ.get("BENCH_POSTGRES_ADMIN_URL", POSTGRES_ADMIN)
    with scratch_postgres(admin_url, "reflections_bench") as url:
        yield url


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fill(session: Session, rows: int) -> int:
    """Copies of one confirmed reflection until the history holds ``rows`` rows."""
    template = reflection_at(session, "confirmed", refs(session))
    reflection_table = Reflection.__table__  # type: ignore[attr-defined]
    history_table = HistoryEvent.__table__  # type: ignore[attr-defined]
    base = dict(
        session.execute(select(reflection_table).where(reflection_table.c.id == template.id))
        .mappings()
        .one()
    )
    events = list(
        session.execute(
            select(HistoryEvent)
            .where(col(HistoryEvent.reflection_id) == template.id)
            .order_by(col(HistoryEvent.seq))
        ).scalars()
    )
    per_reflection = len(events)
    next_id = int(base["id"]) + 1
    copies = max(0, rows // per_reflection - 1)
    start = clock.now() - timedelta(days=365)
    made = 0
    while made < copies:
        batch = min(BATCH, copies - made)
        reflections: list[dict[str, Any]] = []
        rows_out: list[dict[str, Any]] = []
        for offset in range(batch):
            reflection_id = next_id + made + offset
            at = start + timedelta(seconds=made + offset)
            reflections.append(
                base
                | {
                    "id": reflection_id,
                    "tracking_code": f"B{reflection_id:012d}",
                    "created_at": at,
                    "updated_at": at,
                }
            )
            prev_hash: str | None = None
            for step, event in enumerate(events):
                row = HistoryEvent(
                    reflection_id=reflection_id,
                    seq=event.seq,
                    event=event.event,
                    from_state=event.from_state,
                    from_stage=event.from_stage,
                    to_state=event.to_state,
                    to_stage=event.to_stage,
                    actor_user_id=event.actor_user_id,
                    actor_role=event.actor_role,
                    payload=event.payload,
                    reason=event.reason,
                    occurred_at=at + timedelta(minutes=step),
                )
                row.hash = history.chain_hash(row, prev_hash)
                row.prev_hash, prev_hash = prev_hash, row.hash
                values = {c.name: getattr(row, c.name) for c in history_table.columns}
                values.pop("id")
                rows_out.append(values)
        session.execute(insert(reflection_table), reflections)
        session.execute(insert(history_table), rows_out)
        session.commit()
        made += batch
    return (copies + 1) * per_reflection


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    with fresh_database(args.database) as url:
        migrate.upgrade(url)
        engine = get_engine(url)
        with (
            Session(engine, expire_on_commit=False) as session,
            patch.object(loader, "hash_password", lambda password: "not-a-hash"),  # speed
        ):
            loader.seed(session, demo_password="unused")
            began = time.perf_counter()
            total = fill(session, args.rows)
            took = time.perf_counter() - began
            print(f"{args.database}: {total} history rows written in {took:.1f} s")
        with Session(engine) as session:
            began = time.perf_counter()
            anchored = anchors.anchor(session, clock.now() + timedelta(hours=1))
            assert anchored is not None
            print(f"anchor over {anchored.row_count} rows: {time.perf_counter() - began:.1f} s")
        before = peak_mib()
        with Session(engine) as session:
            began = time.perf_counter()
            report = audit.verify(session)
            took = time.perf_counter() - began
        print(report.summary())
        print(f"verify: {took:.1f} s, {report.rows / took:,.0f} rows/s")
        print(f"peak RSS: {before:.0f} MiB before verify, {peak_mib():.0f} MiB after")
        engine.dispose()
        if not report.intact:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
