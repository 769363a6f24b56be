"""Tamper evidence (DESIGN.md §7): every kind of tampering is detected and named.

Each tampering test gets a database of its own (migrated, seeded, three reflections built
through the real service): tampering with the session's shared database would break the
others' chains, and anchors cover every reflection in a database.

Tampering is done as someone with direct database access would, past the application (see
:func:`tamper`). On PostgreSQL that takes switching the append-only triggers off, which only a
superuser can do; :func:`test_postgresql_refuses_to_change_or_remove_audit_rows` shows that
anyone else, the application included, is refused.
"""

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from flows.audit import audit_anchor
from reflections.cli import app as cli
from reflections.lifecycle import history
from reflections.models import AuditAnchor, HistoryEvent, Reflection, User
from reflections.models.enums import LifecycleEvent, LifecycleState, Role
from reflections.organisation.auth import issue_token
from reflections.oversight import anchors, audit
from reflections.oversight.findings import Problem, ProblemKind, VerifyReport
from reflections.platform import clock, migrate
from reflections.platform.db import get_engine, reset_engines
from reflections.platform.settings import get_settings
from reflections.seed import loader
from tests.api_helpers import as_user, submit
from tests.conftest import new_database
from tests.lifecycle_helpers import fire, reflection_at, refs

E = LifecycleEvent
BUILT = {"confirmed": 6, "in_progress": 4, "rejected": 2}  # reflection -> history rows
ROWS = sum(BUILT.values())


@dataclass(frozen=True)
class World:
    """A database of its own with one reflection per state of ``BUILT``."""

    url: str
    codes: dict[str, str]
    ids: dict[str, int]

    def session(self) -> Session:
        return Session(get_engine(self.url), expire_on_commit=False)

    def verify(self) -> VerifyReport:
        with self.session() as session:
            return audit.verify(session)

    def anchor(self) -> AuditAnchor:
        """Anchor every row written so far (as of the settle margin from now)."""
        with self.session() as session:
            anchored = anchors.anchor(session, clock.now() + anchors.SETTLE)
        assert anchored is not None
        return anchored

    def row(self, name: str, seq: int) -> HistoryEvent:
        with self.session() as session:
            return session.exec(
                select(HistoryEvent).where(
                    HistoryEvent.reflection_id == self.ids[name], HistoryEvent.seq == seq
                )
            ).one()


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    for url in new_database(tmp_path):
        migrate.upgrade(url)
        with (
            pytest.MonkeyPatch.context() as patch,
            Session(get_engine(url), expire_on_commit=False) as session,
        ):
            patch.setattr(loader, "hash_password", lambda password: "not-a-hash")  # speed
            loader.seed(session, demo_password="unused")
            r = refs(session)
            built = {state: reflection_at(session, state, r) for state in BUILT}
        ids = {state: reflection.id for state, reflection in built.items()}
        assert all(ids.values())
        try:
            yield World(
                url,
                {state: reflection.tracking_code for state, reflection in built.items()},
                {state: reflection_id for state, reflection_id in ids.items() if reflection_id},
            )
        finally:
            get_engine(url).dispose()


@pytest.fixture
def configured(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The settings pointed at the world's database: what the CLI, the flow and the API read."""
    monkeypatch.setenv("REFLECTIONS_DATABASE_URL", world.url)
    get_settings.cache_clear()
    reset_engines()
    yield world
    monkeypatch.undo()
    get_settings.cache_clear()
    reset_engines()


def tamper(url: str, *statements: str, **params: Any) -> None:
    """Run ``statements`` as someone with direct access to the database would.

    PostgreSQL: the append-only triggers refuse UPDATE and DELETE on the history, whoever
    asks. A superuser (the tests connect as ``postgres``) can switch triggers off for a
    transaction with ``session_replication_role = replica``, which also switches off foreign
    keys (triggers too): what a DBA covering their tracks would do. SQLite has no such guard
    and enforces foreign keys only on connections that ask (the product's do; this one not).
    A connection of its own, so the setting never reaches the product's pool.
    """
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text("SET LOCAL session_replication_role = replica"))
            for statement in statements:
                connection.execute(text(statement), params)
    finally:
        engine.dispose()


def _json_param(url: str, name: str) -> str:
    return f"CAST(:{name} AS JSON)" if url.startswith("postgresql") else f":{name}"


def _only(report: VerifyReport) -> Problem:
    assert report.problem_count == 1, [str(p) for p in report.problems]
    assert report.first_problem is not None
    return report.first_problem


def test_an_untampered_history_verifies_clean_and_anchors_chain(world: World) -> None:
    report = world.verify()
    assert report.intact, report.summary()
    assert (report.reflections, report.rows, report.anchors) == (3, ROWS, 0)
    assert report.unanchored_rows == ROWS
    assert report.summary() == f"chain intact: 3 reflections, {ROWS} rows, 0 anchors, " + (
        f"{ROWS} rows not yet anchored"
    )

    first = world.anchor()
    assert (first.first_history_id, first.row_count, first.prev_hash) == (1, ROWS, None)
    report = world.verify()
    assert report.summary() == f"chain intact: 3 reflections, {ROWS} rows, 1 anchors"
    assert (report.anchored_rows, report.unanchored_rows) == (ROWS, 0)
    with world.session() as session:
        assert anchors.anchor(session, clock.now() + anchors.SETTLE) is None  # nothing new
        for reflection_id in world.ids.values():
            one = audit.verify_reflection(session, reflection_id)
            assert one.intact and one.reflections == 1 and one.unanchored_rows == 0

    with world.session() as session:  # the lifecycle goes on: a new row, then a new anchor
        in_progress = session.get(Reflection, world.ids["in_progress"])
        assert in_progress is not None
        fire(session, in_progress, E.PROCESS, refs(session))
    report = world.verify()
    assert report.intact and report.unanchored_rows == 1
    second = world.anchor()
    assert second.prev_hash == first.hash
    assert (second.first_history_id, second.last_history_id) == (first.last_history_id + 1,) * 2
    assert second.row_count == 1
    report = world.verify()
    assert report.intact and (report.anchors, report.rows, report.unanchored_rows) == (
        2,
        ROWS + 1,
        0,
    )


def test_anchoring_waits_for_recent_rows_to_settle(world: World) -> None:
    """Only rows that occurred at least SETTLE ago, and only up to the first recent one: a row
    written after it, even one dated earlier (a drill "as of" the past), waits as well."""
    world.anchor()
    with world.session() as session:
        recent = reflection_at(session, "received", refs(session))
        with clock.frozen_at(clock.now() - timedelta(hours=2)):
            backdated = reflection_at(session, "received", refs(session))
        now = clock.now()
        assert anchors.anchor(session, now) is None  # the recent row holds both back
        covered = anchors.anchor(session, now + anchors.SETTLE)
    assert covered is not None and covered.row_count == 2
    with world.session() as session:
        rows = session.exec(
            select(HistoryEvent.reflection_id)
            .where(col(HistoryEvent.id) >= covered.first_history_id)
            .order_by(col(HistoryEvent.id))
        ).all()
    assert rows == [recent.id, backdated.id]
    assert world.verify().intact


@pytest.mark.parametrize("column", ["payload", "reason"])
def test_a_changed_row_no_longer_matches_its_hash(world: World, column: str) -> None:
    world.anchor()
    if column == "payload":
        target = world.row("confirmed", 2)  # classify: category, priority, ward
        payload = json.dumps(target.payload | {"priority": "emergency"})
        tamper(
            world.url,
            f"UPDATE history_events SET payload = {_json_param(world.url, 'p')} WHERE id = :id",
            p=payload,
            id=target.id,
        )
        code, seq = world.codes["confirmed"], 2
    else:
        target = world.row("rejected", 2)
        assert target.reason == "trùng lặp"
        tamper(world.url, "UPDATE history_events SET reason = 'spam' WHERE id = :id", id=target.id)
        code, seq = world.codes["rejected"], 2

    report = world.verify()
    problem = _only(report)  # the row's stored hash is unchanged: the anchor still matches
    assert (problem.kind, problem.tracking_code, problem.seq) == (
        ProblemKind.CONTENT_CHANGED,
        code,
        seq,
    )
    assert str(problem) == (
        f"reflection {code} seq {seq} (history id {target.id}): hash does not match content"
    )
    assert report.summary().startswith(f"chain broken at reflection {code} seq {seq} ")


def test_a_deleted_row_in_the_middle_is_missing(world: World) -> None:
    anchored = world.anchor()
    target = world.row("confirmed", 3)
    tamper(world.url, "DELETE FROM history_events WHERE id = :id", id=target.id)

    report = world.verify()
    assert report.problem_count == 2
    timeline, anchor = report.problems
    assert (timeline.kind, timeline.tracking_code, timeline.seq) == (
        ProblemKind.ROW_MISSING,
        world.codes["confirmed"],
        3,
    )
    assert timeline.detail == "row missing: seq 3 (the next row is seq 4)"
    assert (anchor.kind, anchor.anchor_id) == (ProblemKind.ANCHOR_DIGEST, anchored.id)
    assert anchor.detail.startswith("anchor digest differs: 1 row fewer than anchored")


def test_a_deleted_last_row_is_missing(world: World) -> None:
    world.anchor()
    target = world.row("confirmed", 6)
    tamper(world.url, "DELETE FROM history_events WHERE id = :id", id=target.id)

    report = world.verify()
    problem = report.first_problem
    assert problem is not None
    assert (problem.kind, problem.tracking_code, problem.seq) == (
        ProblemKind.ROW_MISSING,
        world.codes["confirmed"],
        6,
    )
    assert "the reflection is at version 6, its history ends at seq 5" in problem.detail
    assert [p.kind for p in report.problems] == [ProblemKind.ROW_MISSING, ProblemKind.ANCHOR_DIGEST]


def test_reordered_rows_are_out_of_order(world: World) -> None:
    world.anchor()
    reflection_id = world.ids["confirmed"]
    tamper(  # swap seq 3 (assign) and 4 (accept), through a free value: seq is unique
        world.url,
        "UPDATE history_events SET seq = -1 WHERE reflection_id = :r AND seq = 3",
        "UPDATE history_events SET seq = 3 WHERE reflection_id = :r AND seq = 4",
        "UPDATE history_events SET seq = 4 WHERE reflection_id = :r AND seq = -1",
        r=reflection_id,
    )
    assert world.row("confirmed", 3).event is E.ACCEPT

    problem = _only(world.verify())  # ids and hashes unchanged: the anchor still matches
    assert (problem.kind, problem.tracking_code, problem.seq) == (
        ProblemKind.SEQ_OUT_OF_ORDER,
        world.codes["confirmed"],
        3,
    )
    assert problem.detail == "seq out of order: at seq 3, but chained after the row now at seq 4"


@pytest.mark.parametrize("also_the_reflection", [True, False])
def test_a_deleted_history_is_detected(world: World, also_the_reflection: bool) -> None:
    """A whole reflection gone, its row and history: no timeline is left to show it; the
    anchor that covered its rows does."""
    anchored = world.anchor()
    statements = ["DELETE FROM history_events WHERE reflection_id = :r"]
    if also_the_reflection:
        statements.append("DELETE FROM reflections WHERE id = :r")
    tamper(world.url, *statements, r=world.ids["rejected"])

    report = world.verify()
    anchor = report.problems[-1]
    assert (anchor.kind, anchor.anchor_id) == (ProblemKind.ANCHOR_DIGEST, anchored.id)
    assert str(anchor) == (
        f"anchor {anchored.id} (history ids 1–{ROWS}): anchor digest differs: 2 rows fewer than "
        f"anchored ({ROWS - 2} now, {ROWS} anchored)"
    )
    if also_the_reflection:
        assert report.problems == [anchor]
        assert (report.reflections, report.rows) == (2, ROWS - 2)
    else:
        timeline = report.problems[0]
        assert (timeline.kind, timeline.tracking_code) == (
            ProblemKind.HISTORY_MISSING,
            world.codes["rejected"],
        )
        assert timeline.detail == "history missing entirely (the reflection is at version 2)"
        assert report.problem_count == 2


def _forge(
    world: World, name: str, event: LifecycleEvent, to: LifecycleState, right_hash: bool
) -> HistoryEvent:
    """Append a row to ``name``'s history through the ORM (inserting is allowed)."""
    with world.session() as session:
        reflection = session.get(Reflection, world.ids[name])
        assert reflection is not None and reflection.id is not None
        last = history.timeline(session, reflection.id)[-1]
        row = HistoryEvent(
            reflection_id=reflection.id,
            seq=last.seq + 1,
            event=event,
            from_state=reflection.state,
            from_stage=reflection.assignment_stage,
            to_state=to,
            actor_role=Role.CITIZEN,
            payload={"rating": 5} if event is E.CONFIRM else {},
            reason="giả mạo",
            occurred_at=clock.now(),
        )
        history.append(session, row, last.hash)
        if not right_hash:
            row.hash = "f" * 64
        session.commit()
        return row


def test_forged_rows_are_detected(world: World) -> None:
    world.anchor()
    # A forger who does not know the hash rule.
    naive = _forge(world, "confirmed", E.REOPEN, LifecycleState.ASSIGNED, right_hash=False)
    # One who does, but leaves the reflection's version as it was.
    counted = _forge(world, "rejected", E.REMIND, LifecycleState.REJECTED, right_hash=True)
    # One who also moves the reflection along, on a path the lifecycle does not have.
    impossible = _forge(world, "in_progress", E.CONFIRM, LifecycleState.CONFIRMED, True)
    with world.session() as session:
        reflection = session.get(Reflection, world.ids["in_progress"])
        assert reflection is not None
        reflection.state, reflection.assignment_stage = LifecycleState.CONFIRMED, None
        session.commit()  # the version moves by one, as a real event's would
        assert reflection.version == 5

    report = world.verify()
    found = {p.tracking_code: p for p in report.problems}
    assert report.problem_count == 3, report.summary()
    assert (found[world.codes["confirmed"]].kind, found[world.codes["confirmed"]].seq) == (
        ProblemKind.CONTENT_CHANGED,
        naive.seq,
    )
    assert found[world.codes["rejected"]].kind is ProblemKind.EXTRA_ROW
    assert found[world.codes["rejected"]].history_id == counted.id
    assert found[world.codes["rejected"]].detail == (
        "row not accounted for: the reflection is at version 2, its history has 3 rows"
    )
    assert found[world.codes["in_progress"]].kind is ProblemKind.IMPOSSIBLE_HISTORY
    assert found[world.codes["in_progress"]].detail.startswith(
        "the lifecycle could not have produced this history"
    )
    assert impossible.seq == 5


def test_a_removed_anchor_breaks_the_anchor_chain(world: World) -> None:
    first = world.anchor()
    with world.session() as session:
        reflection_at(session, "received", refs(session))
    second = world.anchor()
    tamper(world.url, "DELETE FROM audit_anchors WHERE id = :id", id=first.id)

    problems = world.verify().problems
    assert [(p.kind, p.anchor_id) for p in problems] == [
        (ProblemKind.ANCHOR_CHAIN, second.id),
        (ProblemKind.ANCHOR_RANGE, second.id),
    ]
    assert problems[1].detail == (
        f"starts at history id {ROWS + 1}, but the previous anchor ended at 0: the range "
        "leaves ids unanchored"
    )


def test_two_anchor_runs_at_once_take_turns(world: World) -> None:
    start = threading.Barrier(2)
    results: list[AuditAnchor | None] = []

    def run() -> None:
        with world.session() as session:
            start.wait()
            results.append(anchors.anchor(session, clock.now() + anchors.SETTLE))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    made = [anchor for anchor in results if anchor is not None]
    assert len(results) == 2 and len(made) == 1
    assert made[0].row_count == ROWS
    report = world.verify()
    assert report.intact and report.anchors == 1


@pytest.mark.postgres
def test_postgresql_refuses_to_change_or_remove_audit_rows(world: World) -> None:
    anchored = world.anchor()
    target = world.row("confirmed", 2)
    attempts = [
        ("UPDATE history_events SET reason = 'x' WHERE id = :id", "history_events", "UPDATE"),
        ("DELETE FROM history_events WHERE id = :id", "history_events", "DELETE"),
        ("TRUNCATE history_events", "history_events", "TRUNCATE"),
        ("UPDATE audit_anchors SET hash = 'x' WHERE id = :anchor", "audit_anchors", "UPDATE"),
        ("DELETE FROM audit_anchors WHERE id = :anchor", "audit_anchors", "DELETE"),
        ("TRUNCATE audit_anchors", "audit_anchors", "TRUNCATE"),
    ]
    engine = get_engine(world.url)  # the product's own connections
    for statement, table, operation in attempts:
        with engine.connect() as connection, pytest.raises(DBAPIError) as refused:
            connection.execute(text(statement), {"id": target.id, "anchor": anchored.id})
        assert f"{table} is append-only: {operation} refused" in str(refused.value)
        assert getattr(refused.value.orig, "sqlstate", None) == "42501"  # insufficient_privilege
    assert world.verify().intact


def test_cli_audit_anchor_and_verify(configured: World) -> None:
    runner = CliRunner()
    at = (clock.now() + anchors.SETTLE).isoformat()
    anchored = runner.invoke(cli, ["audit", "anchor", "--at", at])
    assert anchored.exit_code == 0, anchored.output
    assert anchored.output.startswith(f"anchor 1: history ids 1–{ROWS}, {ROWS} rows, hash ")
    again = runner.invoke(cli, ["audit", "anchor", "--at", at])
    assert again.output.startswith("nothing to anchor")

    clean = runner.invoke(cli, ["audit", "verify"])
    assert clean.exit_code == 0, clean.output
    assert clean.output.strip() == f"chain intact: 3 reflections, {ROWS} rows, 1 anchors"
    # On a terminal (here asked for) a progress bar counts the timelines, on stderr only.
    shown = runner.invoke(cli, ["audit", "verify", "--progress"])
    assert shown.exit_code == 0 and "Checking timelines" in shown.stderr
    assert "3/3" in shown.stderr and "Checking" not in shown.stdout

    target = configured.row("rejected", 2)
    tamper(configured.url, "UPDATE history_events SET reason = 'spam' WHERE id = :id", id=target.id)
    broken = runner.invoke(cli, ["audit", "verify"])
    assert broken.exit_code == 1
    code = configured.codes["rejected"]
    assert broken.output.startswith(
        f"chain broken at reflection {code} seq 2 (history id {target.id}): "
        "hash does not match content; checked 3 reflections"
    )
    one = runner.invoke(cli, ["audit", "verify", "--reflection", code.lower()])
    assert one.exit_code == 1 and "hash does not match content" in one.output
    other = runner.invoke(cli, ["audit", "verify", "--reflection", configured.codes["confirmed"]])
    assert other.exit_code == 0 and other.output.startswith("chain intact: 1 reflections, 6 rows")
    unknown = runner.invoke(cli, ["audit", "verify", "--reflection", "NOPE-NOPE"])
    assert unknown.exit_code == 2


@pytest.mark.usefixtures("prefect_harness")
def test_anchor_flow_anchors_once(configured: World) -> None:
    at = clock.now() + anchors.SETTLE
    first = asyncio.run(audit_anchor(at=at))
    assert (first["anchor_id"], first["first_history_id"], first["row_count"]) == (1, 1, ROWS)
    assert first["at"] == at.isoformat()
    again = asyncio.run(audit_anchor(at=at + timedelta(hours=1)))
    assert again["anchor_id"] is None and again["row_count"] == 0
    with configured.session() as session:
        [stored] = session.exec(select(AuditAnchor)).all()
    assert stored.hash == first["hash"]


# -- the auditors' API ----------------------------------------------------------------------


AUDIT_PATHS = ["/api/v1/audit/verify", "/api/v1/reflections/{code}/timeline"]


@pytest.mark.parametrize("path", AUDIT_PATHS)
@pytest.mark.parametrize("username", ["handler.phuxuan", "coordinator", "supervisor.ioc"])
def test_the_audit_api_refuses_other_roles(client: TestClient, path: str, username: str) -> None:
    code = submit(client)["tracking_code"]
    response = client.get(path.format(code=code), headers=as_user(client, username))
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert "this needs the role admin, auditor" in response.json()["detail"]


@pytest.mark.parametrize("path", AUDIT_PATHS)
def test_the_audit_api_needs_a_staff_token(client: TestClient, path: str) -> None:
    submitted = submit(client)
    url = path.format(code=submitted["tracking_code"])
    for headers in ({}, {"X-Citizen-Key": submitted["citizen_key"]}):
        response = client.get(url, headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"


def test_the_auditor_reads_a_timeline_with_who_when_what_why_and_its_chain(
    client: TestClient,
) -> None:
    code = submit(client, administrative_unit="46.W19768")["tracking_code"]
    coordinator = as_user(client, "coordinator")
    body = {"category": "urban_order", "priority": "normal", "administrative_unit": "46.W19768"}
    classified = client.post(f"/api/v1/reflections/{code}/classify", headers=coordinator, json=body)
    assert classified.status_code == 200, classified.text
    rejected = client.post(
        f"/api/v1/reflections/{code}/reject", headers=coordinator, json={"reason": "trùng lặp"}
    )
    assert rejected.status_code == 200, rejected.text

    for username in ("auditor", "admin"):
        response = client.get(
            f"/api/v1/reflections/{code.lower()}/timeline", headers=as_user(client, username)
        )
        assert response.status_code == 200, response.text
        timeline = response.json()
        assert (timeline["tracking_code"], timeline["state"], timeline["version"]) == (
            code,
            "rejected",
            3,
        )
        submit_row, classify_row, reject_row = timeline["entries"]
        assert (submit_row["event"], submit_row["actor_role"], submit_row["actor"]) == (
            "submit",
            "citizen",
            None,
        )
        assert classify_row["payload"]["priority"] == "normal"
        assert (reject_row["actor"], reject_row["actor_name"]) == ("coordinator", "Trần Thị Mai")
        assert (reject_row["event"], reject_row["reason"]) == ("reject", "trùng lặp")
        assert reject_row["prev_hash"] == classify_row["hash"]
        assert timeline["chain"] == {"intact": True, "problem": None, "rows": 3, "anchored_rows": 0}

    missing = client.get(
        "/api/v1/reflections/NOPE-NOPE/timeline", headers=as_user(client, "auditor")
    )
    assert missing.status_code == 404


def test_the_auditor_verifies_the_whole_history(client: TestClient) -> None:
    """The session's database: every reflection the suite built through the service."""
    submit(client)
    response = client.get("/api/v1/audit/verify", headers=as_user(client, "auditor"))
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["intact"] is True, report["summary"]
    assert report["summary"].startswith(f"chain intact: {report['reflections']} reflections")
    assert report["reflections"] >= 1 and report["rows"] >= report["reflections"]
    assert (report["problem_count"], report["first_problem"], report["problems"]) == (0, None, [])


def test_the_api_names_the_first_broken_link(client: TestClient, configured: World) -> None:
    configured.anchor()
    target = configured.row("confirmed", 4)
    tamper(configured.url, "DELETE FROM history_events WHERE id = :id", id=target.id)
    with configured.session() as session:
        auditor = session.exec(select(User).where(User.username == "auditor")).one()
        headers = {"Authorization": f"Bearer {issue_token(auditor)[0]}"}
    code = configured.codes["confirmed"]

    report = client.get("/api/v1/audit/verify", headers=headers).json()
    assert report["intact"] is False and report["problem_count"] == 2
    assert report["first_problem"] == {
        "kind": "row_missing",
        "detail": "row missing: seq 4 (the next row is seq 5)",
        "where": f"reflection {code} seq 4",
        "tracking_code": code,
        "reflection_id": configured.ids["confirmed"],
        "seq": 4,
        "history_id": None,
        "anchor_id": None,
        "first_history_id": None,
        "last_history_id": None,
    }
    assert report["problems"][1]["kind"] == "anchor_digest"
    assert report["problems"][1]["where"] == f"anchor 1 (history ids 1–{ROWS})"

    timeline = client.get(f"/api/v1/reflections/{code}/timeline", headers=headers).json()
    assert [entry["seq"] for entry in timeline["entries"]] == [1, 2, 3, 5, 6]
    assert timeline["chain"]["intact"] is False
    assert timeline["chain"]["problem"]["kind"] == "row_missing"
    assert (timeline["chain"]["rows"], timeline["chain"]["anchored_rows"]) == (5, 5)


def test_cli_sweep_shows_its_progress(configured: World) -> None:
    """A drill far ahead: every open reflection of this world is due; the bar counts them."""
    at = (clock.now() + timedelta(days=30)).isoformat()
    swept = CliRunner().invoke(cli, ["sla", "sweep", "--at", at, "--progress"])
    assert swept.exit_code == 0, swept.output
    assert "Sweeping due reflections" in swept.stderr and "Sweeping" not in swept.stdout
    assert "reminded" in swept.stdout and "escalated" in swept.stdout
