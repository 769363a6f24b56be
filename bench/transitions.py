"""Lifecycles per second through the domain service, against plain SQL writing the same rows
and against a BPMN engine (SpiffWorkflow) running the same lifecycle.

    python bench/transitions.py [--lifecycles 300] [--rounds 2] [--databases sqlite,postgresql]

Each lifecycle is submit → classify → assign → accept → process → confirm: six transitions,
each its own transaction, on a fresh migrated and seeded database. The baseline writes the same
rows (one reflection insert, five updates, six history inserts, six commits) with plain SQL and
no state machine, and the three step records (classify ended by assign, accept by accept,
process by process) the service writes for reports, in the same run, so the ratio is what the
service's checks, chain and deadlines cost. The peer runs ``bench/lifecycle.bpmn`` (a start
event and five user tasks) in SpiffWorkflow: per step it completes the ready user task, runs
the engine, serialises the workflow to JSON and stores it (one UPDATE of the workflow row, one
history row, one commit), in the same database.

The three runs alternate for ``--rounds`` rounds and the best round of each is printed, so a
busy machine (others' tests) weighs on all three alike.
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

from reflections.actors import Actor
from reflections.lifecycle.service import EventInput, apply_event
from reflections.models.enums import Priority, Role
from reflections.platform import migrate
from reflections.platform.db import get_engine
from reflections.seed.loader import seed
from tests.databases import scratch_postgres
from tests.lifecycle_helpers import COORDINATOR, E, new_reflection, refs

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
    """Each event with the data and actor a caller would send (built once: the loop measures
    the service, not the building of its arguments)."""
    with Session(engine, expire_on_commit=False) as session:
        r = refs(session)
        data = {
            E.CLASSIFY: EventInput(
                category_id=r.category_id,
                priority=Priority.NORMAL,
                administrative_unit_id=r.administrative_unit_id,
            ),
            E.ASSIGN: EventInput(handling_unit_id=r.unit_id),
            E.ACCEPT: EventInput(),
            E.PROCESS: EventInput(result="Đã thay bóng đèn"),
            E.CONFIRM: EventInput(rating=5, comment="Cảm ơn"),
        }
        handler = Actor(Role.HANDLER, handling_unit_ids=frozenset({r.unit_id}))
        staff = {E.CLASSIFY: COORDINATOR, E.ASSIGN: COORDINATOR, E.ACCEPT: handler}
        staff[E.PROCESS] = handler
        for _ in range(lifecycles):
            reflection = new_reflection(session)
            assert reflection.id is not None
            citizen = Actor.citizen(reflection.id)
            for event in STEPS:
                actor = staff.get(event, citizen)
                reflection = apply_event(session, reflection.id, event, actor, data[event])


# The step each event ends (it starts the next), as the service records it.
ENDED_STEP = {E.ASSIGN: "classify", E.ACCEPT: "accept", E.PROCESS: "process"}


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
    insert_step = text(
        "INSERT INTO step_records (reflection_id, step, started_at, ended_at, due_at,"
        " working_seconds, on_time, ended_by) VALUES (:rid, :step, :now, :now, :now, 0, true, :by)"
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
                if event in ENDED_STEP:
                    connection.execute(
                        insert_step,
                        {"rid": rid, "step": ENDED_STEP[event], "now": now, "by": event.value},
                    )
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


_BPMN = Path(__file__).with_name("lifecycle.bpmn")


def spiff_workflow(engine: Engine, lifecycles: int) -> None:
    """The lifecycle in SpiffWorkflow, persisted as a BPMN engine's users persist it."""
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.bpmn.parser import BpmnParser
    from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
    from SpiffWorkflow.util.task import TaskState

    parser = BpmnParser()
    parser.add_bpmn_file(str(_BPMN))
    spec = parser.get_spec("reflection_lifecycle")  # parsed once, as a server would
    serializer = BpmnWorkflowSerializer()
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE IF NOT EXISTS spiff_workflows (id INTEGER PRIMARY KEY,"
                " state TEXT NOT NULL, version INTEGER NOT NULL)"
            )
        )
        connection.execute(
            text(
                "CREATE TABLE IF NOT EXISTS spiff_history (workflow_id INTEGER NOT NULL,"
                " seq INTEGER NOT NULL, task TEXT NOT NULL, occurred_at TIMESTAMP NOT NULL,"
                " PRIMARY KEY (workflow_id, seq))"
            )
        )
        next_id = connection.execute(
            text("SELECT coalesce(max(id), 0) + 1 FROM spiff_workflows")
        ).scalar_one()
    history = text(
        "INSERT INTO spiff_history (workflow_id, seq, task, occurred_at) VALUES (:id, :seq,"
        " :task, :now)"
    )
    for workflow_id in range(next_id, next_id + lifecycles):
        workflow = BpmnWorkflow(spec)
        workflow.do_engine_steps()
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO spiff_workflows (id, state, version) VALUES (:id, :state, 1)"),
                {"id": workflow_id, "state": serializer.serialize_json(workflow)},
            )
            connection.execute(history, {"id": workflow_id, "seq": 1, "task": "submit", "now": now})
        for seq in range(2, TRANSITIONS_PER_LIFECYCLE + 1):
            with engine.begin() as connection:
                state = connection.execute(
                    text("SELECT state FROM spiff_workflows WHERE id = :id"), {"id": workflow_id}
                ).scalar_one()
                workflow = serializer.deserialize_json(state)
                task = workflow.get_next_task(state=TaskState.READY, manual=True)
                task.run()
                workflow.do_engine_steps()
                connection.execute(
                    text(
                        "UPDATE spiff_workflows SET state = :state, version = :seq"
                        " WHERE id = :id AND version = :prev"
                    ),
                    {
                        "state": serializer.serialize_json(workflow),
                        "seq": seq,
                        "id": workflow_id,
                        "prev": seq - 1,
                    },
                )
                connection.execute(
                    history,
                    {"id": workflow_id, "seq": seq, "task": task.task_spec.name, "now": now},
                )
        assert workflow.completed


def timed(
    run: Callable[[Engine, int], None], engine: Engine, lifecycles: int
) -> tuple[float, float]:
    """Wall seconds, and this process's CPU seconds (the database server's not included)."""
    started, cpu = time.perf_counter(), time.process_time()
    run(engine, lifecycles)
    return time.perf_counter() - started, time.process_time() - cpu


RUNS: dict[str, Callable[[Engine, int], None]] = {
    "service": through_service,
    "spiff": spiff_workflow,
    "baseline": plain_sql,
}


def bench(kind: str, lifecycles: int, rounds: int, only: list[str]) -> None:
    runs = {name: run for name, run in RUNS.items() if name in only}
    with fresh_database(kind) as url:
        os.environ["REFLECTIONS_DATABASE_URL"] = url
        migrate.upgrade(url)
        engine = get_engine(url)
        with Session(engine) as session:
            seed(session, demo_password="bench-password")
        if kind == "sqlite":
            with engine.connect() as connection:
                journal = connection.execute(text("PRAGMA journal_mode")).scalar_one()
                sync = connection.execute(text("PRAGMA synchronous")).scalar_one()
            print(f"{kind:10} journal_mode={journal} synchronous={sync} (2: FULL)")
        for run in runs.values():
            run(engine, 10)  # warm up caches and the connection pool
        best = dict.fromkeys(runs, float("inf"))
        cpu = dict.fromkeys(runs, float("inf"))
        for _ in range(rounds):
            for name, run in runs.items():
                wall, used = timed(run, engine, lifecycles)
                best[name], cpu[name] = min(best[name], wall), min(cpu[name], used)
        engine.dispose()
    transitions = lifecycles * TRANSITIONS_PER_LIFECYCLE
    for name, seconds in best.items():
        print(
            f"{kind:10} {name:9}: {lifecycles / seconds:8.1f} lifecycles/s "
            f"{transitions / seconds:8.1f} transitions/s ({seconds:.2f} s; "
            f"{1000 * cpu[name] / lifecycles:.1f} ms CPU per lifecycle)"
        )
    if len(runs) < len(RUNS):
        return
    service, spiff, baseline = best["service"], best["spiff"], best["baseline"]
    print(
        f"{kind:10} ratio    : service takes {service / baseline:.2f}x the plain-SQL time, "
        f"{service / spiff:.2f}x SpiffWorkflow's"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lifecycles", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; best kept")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument(
        "--only",
        default=",".join(RUNS),
        help="runs to make, of " + ",".join(RUNS) + " (all: with the ratios); one alone, with "
        "two --lifecycles under callgrind, gives its instructions per lifecycle by difference",
    )
    args = parser.parse_args()
    only = [name.strip() for name in args.only.split(",")]
    if unknown := set(only) - set(RUNS):
        parser.error(f"unknown runs: {', '.join(sorted(unknown))}")
    print(
        f"{args.lifecycles} lifecycles of {TRANSITIONS_PER_LIFECYCLE} transitions each, "
        f"best of {args.rounds} rounds, load average {os.getloadavg()[0]:.1f}"
    )
    for kind in args.databases.split(","):
        bench(kind.strip(), args.lifecycles, args.rounds, only)


if __name__ == "__main__":
    main()
