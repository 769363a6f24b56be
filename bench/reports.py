"""The monthly report over a million reflections and the export of their histories, on PostgreSQL.

    .venv/bin/python bench/reports.py [--reflections 1000000] [--batch-size 2000] [--no-sql-year]

Run on demand, not in CI. A scratch PostgreSQL database (BENCH_POSTGRES_ADMIN_URL, by default
postgresql+psycopg://postgres@127.0.0.1:5432/postgres; created, then dropped, also on Ctrl-C)
is migrated and seeded, and N reflections received over the twelve months of 2025 (local
time) are generated in SQL (INSERT ... SELECT from generate_series, never through the ORM):
realistic lifecycles (about 5% rejected, a few stuck open, the last month's partly still
open; returns to the coordinator, extension requests granted or denied, escalations, reopens,
citizens' ratings or auto-confirmation), one history row per event (about 6.8 per reflection)
and the step records the lifecycle service would write (classify, accept, process; working
time and on-time against the default allowances). Hash columns hold placeholders (md5-based,
64 hex characters, chained by position, not by content): this measures reporting and
exporting, not chain verification (bench/audit_verify.py does that). While loading, the
secondary indexes are dropped and rebuilt afterwards and foreign-key triggers are off
(session_replication_role = replica, when allowed); then VACUUM ANALYZE, as autovacuum would
have done in a live database.

Measured, each in a fresh spawned Python process so that its peak memory is its own:

- ``reflections.oversight.reports.build_report``: June 2025 with the four groupings (the monthly
  report), the twelve months grouped by month, and the twelve months with all four. Baseline:
  bare ``SELECT count(*)`` over the same rows (the cohort's reflections, their history rows
  and their step records), which the report has to read at least once.
- The dashboard's four reports over its six months (July to December 2025), exact and as
  summarised (``as_summarised``, its stated lag), before and after an event changes December.
- ``reflections.oversight.exports.export_histories`` as CSV (and JSON lines for one month),
  consumed and UTF-8 encoded as the API sends it: one month, then everything. Baseline: psycopg's
  ``COPY (the same SELECT) TO STDOUT (FORMAT csv)`` of the same rows, read to the end.

Each figure comes from an untraced run (wall time, ru_maxrss) and a second run under
tracemalloc (peak of Python allocations; tracemalloc slows the run down, so its time is not
used). Memory is shown as the peak RSS (ru_maxrss) and its growth over the RSS measured just
before the operation (imports, engine and connection already there). Flat memory shows as
the same peak for one month and for twelve. Before measuring, every table is read once so that
baseline and measured runs find the same warm caches. Compare runs at a similar load only.
"""

import argparse
import gc
import multiprocessing
import os
import queue
import resource
import signal
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from unittest import mock

import psycopg
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.databases

from reflections.oversight import exports, report_summary
from reflections.oversight.exports import ExportFormat
from reflections.oversight.report_types import ALL_GROUPS, GroupBy, Month, ReportQuery
from reflections.oversight.reports import build_report
from reflections.platform import migrate
from reflections.platform.db import get_engine
from reflections.platform.settings import get_settings
from reflections.seed import loader
from tests.databases import scratch_postgres

POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
YEAR_START = "2025-01-01 00:00:00+07"  # local midnight, Asia/Ho_Chi_Minh
ONE_MONTH = Month(2025, 6)
NOW = datetime(2026, 2, 1, tzinfo=UTC)  # "as of" for open overdue: after every generated event
EVERYTHING = exports.days(date(2024, 12, 1), date(2026, 12, 1))
JUNE = exports.days(date(2025, 6, 1), date(2025, 7, 1))
TABLES = ("reflections", "history_events", "step_records")

# --- the data, in SQL -----------------------------------------------------------------------

# One row per reflection: its random draws, then its fate and timeline. Ranks: 0 rejected,
# 1 received, 2 classified, 3 assigned (awaiting acceptance), 4 in progress, 5 processed,
# 6 confirmed. Durations are exponential (seconds); working time is wall time x 0.3 except
# for emergencies (around the clock); allowances are DESIGN.md §5's defaults in working
# seconds, a granted extension adding three working days to the process step.
PLAN = """
CREATE UNLOGGED TABLE bench_plan AS
WITH refs AS (
    SELECT
        (SELECT array_agg(id ORDER BY id) FROM categories) AS cats,
        (SELECT array_agg(id ORDER BY id) FROM administrative_units WHERE level = 'commune')
            AS areas,
        (SELECT array_agg(id ORDER BY id) FROM handling_units WHERE active) AS units,
        (SELECT array_agg(id ORDER BY id) FROM users WHERE role = 'coordinator') AS coordinators,
        (SELECT array_agg(id ORDER BY id) FROM users WHERE role = 'handler') AS handlers
),
draws AS (
    SELECT
        g AS id,
        %(start)s::timestamptz + ((g - 1) * 365 / %(n)s) * interval '1 day'
            + interval '6 hours' + random() * interval '16 hours' AS created_at,
        random() AS fate, random() AS r_stage, random() AS r_ret, random() AS r_ext,
        random() AS r_esc, random() AS r_reo, random() AS r_auto, random() AS r_rating,
        random() AS r_prio, random() AS r_via,
        -ln(1 - random()) AS e_cls, -ln(1 - random()) AS e_acc, -ln(1 - random()) AS e_proc,
        -ln(1 - random()) AS e_conf, -ln(1 - random()) AS e_ret, -ln(1 - random()) AS e_proc2,
        cats[1 + floor(random() * cardinality(cats))::int] AS category_id,
        areas[1 + floor(random() * cardinality(areas))::int] AS area_id,
        units[1 + floor(random() * cardinality(units))::int] AS unit1,
        units[1 + floor(random() * cardinality(units))::int] AS unit2,
        coordinators[1 + floor(random() * cardinality(coordinators))::int] AS coordinator,
        handlers[1 + floor(random() * cardinality(handlers))::int] AS handler
    FROM generate_series(1, %(n)s) AS g, refs
),
fates AS (
    SELECT d.*,
        CASE
            WHEN fate < 0.05 THEN 0
            WHEN created_at >= %(start)s::timestamptz + interval '335 days' AND fate < 0.45
                THEN 1 + floor(r_stage * 5)::int
            WHEN fate < 0.054 THEN 1 + floor(r_stage * 4)::int
            ELSE 6
        END AS rank,
        CASE WHEN r_prio < 0.05 THEN 'emergency' WHEN r_prio < 0.9 THEN 'normal'
            ELSE 'complex' END AS priority,
        CASE WHEN r_via < 0.7 THEN 'app' WHEN r_via < 0.9 THEN 'web' WHEN r_via < 0.97
            THEN 'hotline' ELSE 'open311' END AS via
    FROM draws AS d
),
flags AS (
    SELECT f.*,
        (rank >= 3 AND r_ret < 0.08)::int AS ret,
        (rank >= 4 AND r_ext < 0.12)::int AS ext,
        r_ext < 0.09 AS granted,
        CASE WHEN rank < 4 THEN 0 WHEN r_esc < 0.04 THEN 2 WHEN r_esc < 0.12 THEN 1 ELSE 0 END
            AS esc,
        (rank = 6 AND r_reo < 0.03)::int AS reo,
        rank = 6 AND r_auto < 0.10 AS auto,
        CASE WHEN r_rating < 0.74 THEN 5 WHEN r_rating < 0.91 THEN 4 WHEN r_rating < 0.96 THEN 3
            WHEN r_rating < 0.98 THEN 2 ELSE 1 END AS rating,
        CASE WHEN priority = 'emergency' THEN 1.0 ELSE 0.3 END AS factor,
        CASE WHEN priority = 'emergency' THEN 3600 ELSE 14400 END AS allow_cls,
        CASE WHEN priority = 'emergency' THEN 3600 ELSE 28800 END AS allow_acc,
        CASE WHEN priority = 'emergency' THEN 14400 WHEN priority = 'complex' THEN 432000
            ELSE 144000 END + CASE WHEN rank >= 4 AND r_ext < 0.09 THEN 86400 ELSE 0 END
            AS allow_proc,
        CASE WHEN priority = 'emergency' THEN 1200 ELSE 21600 END * e_cls AS s_cls,
        CASE WHEN priority = 'emergency' THEN 1800 ELSE 72000 END * e_acc AS s_acc,
        CASE WHEN priority = 'emergency' THEN 10800 WHEN priority = 'complex' THEN 1296000
            ELSE 432000 END * e_proc AS s_proc
    FROM fates AS f
),
times AS (
    SELECT x.*,
        created_at + s_cls * interval '1 second' AS t_cls,
        created_at + s_cls * interval '1 second' + interval '15 minutes' AS t_asg,
        created_at + (s_cls + 900 + 10800 * e_ret) * interval '1 second' AS t_ret,
        created_at + (s_cls + 900 + 10800 * e_ret + 1800) * interval '1 second' AS t_asg2
    FROM flags AS x
),
acceptance AS (
    SELECT t.*,
        CASE WHEN ret = 1 THEN t_asg2 ELSE t_asg END AS t_acc0,
        CASE WHEN ret = 1 THEN t_asg2 ELSE t_asg END + s_acc * interval '1 second' AS t_acc,
        CASE WHEN ret = 1 THEN unit2 ELSE unit1 END AS unit
    FROM times AS t
)
SELECT a.*,
    t_acc + s_proc * interval '1 second' AS t_proc,
    t_acc + s_proc * interval '1 second' + interval '1 day' AS t_reo,
    t_acc + (s_proc * 1.5 + 86400 * (1 + e_proc2)) * interval '1 second' AS t_proc2,
    CASE WHEN reo = 1 THEN t_acc + (s_proc * 1.5 + 86400 * (1 + e_proc2)) * interval '1 second'
        ELSE t_acc + s_proc * interval '1 second' END AS t_last
FROM acceptance AS a
"""

DESCRIPTIONS = [
    "Đèn đường hỏng trước số 12 Lê Lợi, cả đoạn tối om",
    "Rác thải tồn đọng nhiều ngày ở kiệt 34 Phan Đình Phùng",
    "Ổ gà lớn giữa đường Hùng Vương gây nguy hiểm cho xe máy",
    "Nước ngập sâu sau mưa ở đường Bà Triệu",
    "Công trình xây dựng lấn chiếm vỉa hè đường Trần Hưng Đạo",
    "Quán karaoke gây ồn sau 23 giờ ở phường Phú Hội",
]

REFLECTIONS = """
INSERT INTO reflections (
    id, tracking_code, secret_hash, description, address, submitted_via, administrative_unit_id,
    category_id, priority, handling_unit_id, state, assignment_stage, escalation_level,
    extension_pending, reopen_count, classify_due_at, accept_due_at, process_due_at,
    confirm_due_at, result_text, rating, rating_comment, rejection_reason, version, created_at,
    updated_at, step_around_the_clock, step_reminded, step_escalations
)
SELECT
    id, 'B-' || lpad(id::text, 8, '0'), md5(id::text), (%(descriptions)s::text[])[1 + id %% 6],
    'Phường ' || area_id, via, CASE WHEN rank >= 2 THEN area_id END,
    CASE WHEN rank >= 2 THEN category_id END, CASE WHEN rank >= 2 THEN priority END,
    CASE WHEN rank >= 3 THEN unit END,
    (ARRAY['rejected', 'received', 'classified', 'assigned', 'assigned', 'processed',
           'confirmed'])[rank + 1],
    CASE rank WHEN 3 THEN 'awaiting_acceptance' WHEN 4 THEN 'in_progress' END,
    esc, false, reo,
    CASE WHEN rank IN (1, 2) THEN created_at + allow_cls / factor * interval '1 second' END,
    CASE WHEN rank = 3 THEN t_acc0 + allow_acc / factor * interval '1 second' END,
    CASE WHEN rank = 4 THEN t_acc + allow_proc / factor * interval '1 second' END,
    CASE WHEN rank = 5 THEN t_last + interval '7 days' END,
    CASE WHEN rank >= 5 THEN 'Đã xử lý xong, mời người dân kiểm tra' END,
    CASE WHEN rank = 6 AND NOT auto THEN rating END,
    CASE WHEN rank = 6 AND NOT auto THEN 'Cảm ơn' END,
    CASE WHEN rank = 0 THEN 'Trùng lặp với phản ánh đã có' END,
    -- version: the number of history rows (the last seq)
    CASE rank WHEN 0 THEN 2 WHEN 1 THEN 1 WHEN 2 THEN 2 WHEN 3 THEN 3 + 2 * ret
        WHEN 4 THEN 4 + 2 * ret + 2 * ext + esc WHEN 5 THEN 5 + 2 * ret + 2 * ext + esc
        ELSE 6 + 2 * ret + 2 * ext + esc + 2 * reo END,
    created_at,
    CASE rank WHEN 0 THEN t_cls WHEN 1 THEN created_at WHEN 2 THEN t_cls
        WHEN 3 THEN t_acc0 WHEN 4 THEN t_acc WHEN 5 THEN t_last
        ELSE t_last + CASE WHEN auto THEN interval '7 days'
            ELSE 172800 * e_conf * interval '1 second' END END,
    priority = 'emergency', false, 0
FROM bench_plan
"""

# Every event a reflection may have had, in order, kept when its condition holds. seq is
# computed from the flags (ret: returned once, ext: an extension decided, esc: escalations,
# reo: reopened once), so rows come out numbered without a window function.
HISTORY = """
INSERT INTO history_events (
    reflection_id, seq, event, from_state, from_stage, to_state, to_stage, actor_user_id,
    actor_role, payload, reason, occurred_at, prev_hash, hash
)
SELECT p.id, e.seq, e.event, e.from_state, e.from_stage, e.to_state, e.to_stage, e.actor,
    e.role, e.payload, e.reason, e.occurred_at,
    CASE WHEN e.seq > 1 THEN md5(p.id || '.' || (e.seq - 1)) || md5((e.seq - 1) || '.' || p.id)
        END,
    md5(p.id || '.' || e.seq) || md5(e.seq || '.' || p.id)
FROM bench_plan AS p
CROSS JOIN LATERAL (VALUES
    (true, 1, 'submit', NULL, NULL, 'received', NULL, NULL::int, 'citizen',
        json_build_object('submitted_via', p.via), NULL, p.created_at),
    (p.rank = 0, 2, 'reject', 'received', NULL, 'rejected', NULL, p.coordinator, 'coordinator',
        '{}'::json, 'Trùng lặp với phản ánh đã có', p.t_cls),
    (p.rank >= 2, 2, 'classify', 'received', NULL, 'classified', NULL, p.coordinator,
        'coordinator', json_build_object('category_id', p.category_id, 'priority', p.priority,
        'administrative_unit_id', p.area_id), NULL, p.t_cls),
    (p.rank >= 3, 3, 'assign', 'classified', NULL, 'assigned', 'awaiting_acceptance',
        p.coordinator, 'coordinator', json_build_object('from_unit_id', NULL,
        'handling_unit_id', p.unit1), NULL, p.t_asg),
    (p.ret = 1, 4, 'return', 'assigned', 'awaiting_acceptance', 'classified', NULL, p.handler,
        'handler', json_build_object('from_unit_id', p.unit1, 'suggested_unit_id', p.unit2),
        'Không đúng thẩm quyền của đơn vị', p.t_ret),
    (p.ret = 1, 5, 'assign', 'classified', NULL, 'assigned', 'awaiting_acceptance',
        p.coordinator, 'coordinator', json_build_object('from_unit_id', NULL,
        'handling_unit_id', p.unit2), NULL, p.t_asg2),
    (p.rank >= 4, 4 + 2 * p.ret, 'accept', 'assigned', 'awaiting_acceptance', 'assigned',
        'in_progress', p.handler, 'handler', '{}'::json, NULL, p.t_acc),
    (p.ext = 1, 5 + 2 * p.ret, 'request_extension', 'assigned', 'in_progress', 'assigned',
        'in_progress', p.handler, 'handler', json_build_object('new_due_at',
        p.t_acc + interval '10 days'), 'Chờ vật tư thay thế', p.t_acc + p.s_proc * 0.3
        * interval '1 second'),
    (p.ext = 1, 6 + 2 * p.ret, CASE WHEN p.granted THEN 'grant_extension'
        ELSE 'deny_extension' END, 'assigned', 'in_progress', 'assigned', 'in_progress',
        p.coordinator, 'coordinator', '{}'::json, CASE WHEN NOT p.granted
        THEN 'Không đủ lý do' END, p.t_acc + p.s_proc * 0.4 * interval '1 second'),
    (p.esc >= 1, 5 + 2 * p.ret + 2 * p.ext, 'escalate', 'assigned', 'in_progress', 'assigned',
        'in_progress', NULL, 'system', json_build_object('escalation_level', 1),
        NULL, p.t_acc + p.s_proc * 0.5 * interval '1 second'),
    (p.esc >= 2, 6 + 2 * p.ret + 2 * p.ext, 'escalate', 'assigned', 'in_progress', 'assigned',
        'in_progress', NULL, 'system', json_build_object('escalation_level', 2),
        NULL, p.t_acc + p.s_proc * 0.7 * interval '1 second'),
    (p.rank >= 5, 5 + 2 * p.ret + 2 * p.ext + p.esc, 'process', 'assigned', 'in_progress',
        'processed', NULL, p.handler, 'handler', json_build_object('result',
        'Đã xử lý xong, mời người dân kiểm tra', 'confirm_due_at', p.t_proc + interval '7 days'),
        NULL, p.t_proc),
    (p.reo = 1, 6 + 2 * p.ret + 2 * p.ext + p.esc, 'reopen', 'processed', NULL, 'assigned',
        'in_progress', NULL, 'citizen', '{}'::json, 'Vẫn chưa khắc phục triệt để', p.t_reo),
    (p.reo = 1, 7 + 2 * p.ret + 2 * p.ext + p.esc, 'process', 'assigned', 'in_progress',
        'processed', NULL, p.handler, 'handler', json_build_object('result',
        'Đã xử lý lại', 'confirm_due_at', p.t_proc2 + interval '7 days'), NULL, p.t_proc2),
    (p.rank = 6, 6 + 2 * p.ret + 2 * p.ext + p.esc + 2 * p.reo, 'confirm', 'processed', NULL,
        'confirmed', NULL, NULL, CASE WHEN p.auto THEN 'system' ELSE 'citizen' END,
        CASE WHEN p.auto THEN '{}'::json ELSE json_build_object('rating', p.rating,
        'comment', 'Cảm ơn') END, NULL, p.t_last + CASE WHEN p.auto THEN interval '7 days'
        ELSE 172800 * p.e_conf * interval '1 second' END)
) AS e(keep, seq, event, from_state, from_stage, to_state, to_stage, actor, role, payload,
       reason, occurred_at)
WHERE e.keep AND p.id %% %(parts)s = %(part)s
"""

# The finished steps, as reflections.lifecycle.step_records records them: classify ends at
# assign (or reject) and restarts at a return; accept ends at accept or return; process at process.
STEPS = """
INSERT INTO step_records (
    reflection_id, step, started_at, ended_at, due_at, working_seconds, on_time,
    handling_unit_id, ended_by
)
SELECT p.id, s.step, s.started, s.ended,
    s.started + s.allowance / p.factor * interval '1 second',
    floor(extract(epoch FROM s.ended - s.started) * p.factor)::int,
    extract(epoch FROM s.ended - s.started) * p.factor <= s.allowance, s.unit, s.ended_by
FROM bench_plan AS p
CROSS JOIN LATERAL (VALUES
    (p.rank = 0, 'classify', p.created_at, p.t_cls, p.allow_cls, NULL::int, 'reject'),
    (p.rank >= 3, 'classify', p.created_at, p.t_asg, p.allow_cls, NULL, 'assign'),
    (p.ret = 1, 'accept', p.t_asg, p.t_ret, p.allow_acc, p.unit1, 'return'),
    (p.ret = 1, 'classify', p.t_ret, p.t_asg2, p.allow_cls, NULL, 'assign'),
    (p.rank >= 4, 'accept', p.t_acc0, p.t_acc, p.allow_acc, p.unit, 'accept'),
    (p.rank >= 5, 'process', p.t_acc, p.t_proc, p.allow_proc, p.unit, 'process'),
    (p.reo = 1, 'process', p.t_reo, p.t_proc2, p.allow_proc, p.unit, 'process')
) AS s(keep, step, started, ended, allowance, unit, ended_by)
WHERE s.keep AND p.id %% %(parts)s = %(part)s
"""


def psycopg_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def timed(label: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    print(f"  {label:44} {time.perf_counter() - started:7.1f} s", flush=True)


def prepare(url: str) -> None:
    migrate.upgrade(url)
    fast_hash = mock.patch.object(loader, "hash_password", return_value="not-a-hash")  # speed
    with fast_hash, Session(get_engine(url)) as session:
        loader.seed(session, demo_password="unused")
    get_engine(url).dispose()


Statement = tuple[str | sql.Composed, dict[str, Any] | None]


def connect(url: str) -> psycopg.Connection[Any]:
    """An autocommit connection set for bulk loading: foreign-key triggers off (replica)."""
    connection = psycopg.connect(psycopg_url(url), autocommit=True)
    connection.execute("SET synchronous_commit = off")
    connection.execute("SET maintenance_work_mem = '512MB'")
    connection.execute("SET work_mem = '256MB'")
    # Not a superuser: foreign keys are checked while loading, which is slower.
    with suppress(psycopg.errors.InsufficientPrivilege):
        connection.execute("SET session_replication_role = replica")
    return connection


def parallel(url: str, label: str, statements: list[Statement], workers: int) -> None:
    """Run the statements on ``workers`` connections at once; Ctrl-C cancels them."""
    connections: queue.Queue[psycopg.Connection[Any]] = queue.Queue()
    opened = [connect(url) for _ in range(min(workers, len(statements)))]
    for connection in opened:
        connections.put(connection)

    def run(statement: Statement) -> None:
        connection = connections.get()
        try:
            connection.execute(*statement)
        finally:
            connections.put(connection)

    try:
        with timed(label), ThreadPoolExecutor(len(opened)) as pool:
            try:
                list(pool.map(run, statements))
            except BaseException:
                for connection in opened:
                    connection.cancel_safe()
                raise
    finally:
        for connection in opened:
            connection.close()


def load(url: str, reflections: int, workers: int) -> dict[str, int]:
    """Generate the data with ``workers`` connections; the row count of each table."""
    with connect(url) as connection:
        indexes = connection.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)"
            " AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            (list(TABLES),),
        ).fetchall()
        # Unique keys too, but the reflections' primary key (foreign keys need it).
        keys = connection.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
            " FROM pg_constraint WHERE conrelid::regclass::text = ANY(%s) AND contype IN"
            " ('p', 'u') AND NOT (conrelid = 'reflections'::regclass AND contype = 'p')",
            (list(TABLES),),
        ).fetchall()
        for _table, name, _definition in indexes:
            connection.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        for table, name, _definition in keys:
            connection.execute(
                sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                    sql.Identifier(table), sql.Identifier(name)
                )
            )
        connection.execute("SELECT setseed(0.2019)")
        with timed(f"plan of {reflections:,} reflections"):
            connection.execute(PLAN, {"start": YEAR_START, "n": reflections})
    parts = [{"parts": workers, "part": part} for part in range(workers)]
    inserts: list[Statement] = [(REFLECTIONS, {"descriptions": DESCRIPTIONS})]
    inserts += [(HISTORY, part) for part in parts] + [(STEPS, part) for part in parts]
    parallel(url, "reflections, history rows, step records", inserts, workers)
    rebuild: list[Statement] = [(definition, None) for _, _, definition in indexes]
    rebuild += [
        (
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                sql.Identifier(table), sql.Identifier(name), sql.SQL(definition)
            ),
            None,
        )
        for table, name, definition in keys
    ]
    parallel(url, f"{len(rebuild)} indexes and keys rebuilt", rebuild, workers)
    with connect(url) as connection:
        connection.execute("DROP TABLE bench_plan")
        for table in TABLES:
            connection.execute(
                sql.SQL("SELECT setval(pg_get_serial_sequence({}, 'id'), max(id)) FROM {}").format(
                    sql.Literal(table), sql.Identifier(table)
                )
            )
    vacuum: list[Statement] = [
        (sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(table)), None) for table in TABLES
    ]
    parallel(url, "VACUUM ANALYZE", vacuum, workers)
    counts: dict[str, int] = {}
    with connect(url) as connection:
        for table in TABLES:  # also reads each table once: warm caches for every measurement
            row = connection.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            ).fetchone()
            counts[table] = int(row[0]) if row else 0
    return counts


# --- the measured operations (each in a spawned process) ------------------------------------

COHORT_COUNTS = """
SELECT
    (SELECT count(*) FROM reflections AS r WHERE r.created_at >= %(start)s
        AND r.created_at < %(end)s),
    (SELECT count(*) FROM history_events AS h JOIN reflections AS r ON r.id = h.reflection_id
        WHERE r.created_at >= %(start)s AND r.created_at < %(end)s),
    (SELECT count(*) FROM step_records AS s JOIN reflections AS r ON r.id = s.reflection_id
        WHERE r.created_at >= %(start)s AND r.created_at < %(end)s)
"""

COPY_HISTORIES = """
COPY (
    SELECT r.tracking_code, h.seq, h.event, h.from_state, h.from_stage, h.to_state, h.to_stage,
        coalesce(u.username, h.actor_role), h.actor_role, h.reason, h.payload, h.occurred_at,
        h.prev_hash, h.hash
    FROM history_events AS h
    JOIN reflections AS r ON r.id = h.reflection_id
    LEFT JOIN users AS u ON u.id = h.actor_user_id
    WHERE h.occurred_at >= {start} AND h.occurred_at < {end}
    ORDER BY h.occurred_at, h.id
) TO STDOUT (FORMAT csv, HEADER)
"""


def month_bounds(first: Month, last: Month) -> dict[str, datetime]:
    period = exports.days(first.first_day(), last.next().first_day())
    return {"start": period.start, "end": period.end}


def op_counts(url: str, params: dict[str, Any]) -> dict[str, Any]:
    with psycopg.connect(psycopg_url(url)) as connection:
        row = connection.execute(COHORT_COUNTS, month_bounds(*params["months"])).fetchone()
    assert row is not None
    return {"rows": sum(row), "detail": f"{row[0]:,} + {row[1]:,} + {row[2]:,}"}


def op_report(url: str, params: dict[str, Any]) -> dict[str, Any]:
    first, last = params["months"]
    query = ReportQuery(first, last, params["group_by"])
    with Session(get_engine(url)) as session:
        report = build_report(session, query, NOW, use_summaries=params.get("summaries", False))
    return {"rows": len(report.rows), "detail": f"{report.total.received:,} received"}


DASHBOARD_GROUPS: tuple[tuple[GroupBy, ...], ...] = (
    (),
    (GroupBy.HANDLING_UNIT,),
    (GroupBy.MONTH, GroupBy.CATEGORY),
    (GroupBy.MONTH,),
)
DASHBOARD_MONTHS = (Month(2025, 7), Month(2025, 12))  # six months, as the dashboard opens


def op_dashboard(url: str, params: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's four reports (web/dashboard.py) over its six months, for an auditor."""
    first, last = DASHBOARD_MONTHS
    with Session(get_engine(url)) as session:
        reports = [
            build_report(
                session,
                ReportQuery(first, last, group_by),
                NOW,
                as_summarised=params["as_summarised"],
            )
            for group_by in DASHBOARD_GROUPS
        ]
    lagged = [report.summarised_at for report in reports if report.summarised_at]
    received = reports[0].total.received
    return {
        "rows": sum(len(report.rows) for report in reports),
        "detail": f"{received:,} received"
        + (f", as summarised at {min(lagged):%H:%M:%S} UTC" if lagged else ""),
    }


def op_refresh(url: str, params: dict[str, Any]) -> dict[str, Any]:
    with Session(get_engine(url)) as session:
        months = report_summary.refresh(session)
    return {"rows": len(months), "detail": f"{len(months)} months"}


def op_copy(url: str, params: dict[str, Any]) -> dict[str, Any]:
    period: exports.Period = params["period"]
    statement = sql.SQL(COPY_HISTORIES).format(
        start=sql.Literal(period.start), end=sql.Literal(period.end)
    )
    size = lines = 0
    with (
        psycopg.connect(psycopg_url(url)) as connection,
        connection.cursor() as cursor,
        cursor.copy(statement) as copy,
    ):
        for data in copy:
            size += len(data)
            lines += bytes(data).count(b"\n")
    return {"rows": lines - 1, "bytes": size}


def op_export(url: str, params: dict[str, Any]) -> dict[str, Any]:
    size = lines = 0
    with Session(get_engine(url)) as session:
        chunks = exports.export_histories(
            session, params["period"], params["format"], params["batch_size"]
        )
        for chunk in chunks:
            data = chunk  # what the API and the CLI send
            size += len(data)
            lines += data.count(b"\n")
    header = 1 if params["format"] is ExportFormat.CSV else 0
    return {"rows": lines - header, "bytes": size}


OPERATIONS: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
    "counts": op_counts,
    "report": op_report,
    "refresh": op_refresh,
    "dashboard": op_dashboard,
    "copy": op_copy,
    "export": op_export,
}


def _vm_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _child(pipe: Connection, url: str, name: str, params: dict[str, Any], trace: bool) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us
    os.environ["REFLECTIONS_DATABASE_URL"] = url
    get_settings.cache_clear()
    with get_engine(url).connect() as connection:  # the pool's connection, made before
        connection.execute(text("SELECT 1"))
    gc.collect()
    before = _vm_rss_kib()
    if trace:
        tracemalloc.start()
    started, cpu = time.perf_counter(), time.process_time()
    result = OPERATIONS[name](url, params)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    get_engine(url).dispose()
    pipe.send(
        {**result, "seconds": seconds, "cpu": cpu, "peak": peak, "before": before, "maxrss": maxrss}
    )


def measure(url: str, name: str, params: dict[str, Any], trace: bool = False) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, url, name, params, trace))
    process.start()
    sender.close()  # ours: a child that dies without answering then gives EOFError
    try:
        result: dict[str, Any] = receiver.recv()
    except EOFError:
        process.join()
        raise RuntimeError(f"{name} failed in its process (exit {process.exitcode})") from None
    except BaseException:  # Ctrl-C: the child ignores SIGINT, so stop it here
        process.kill()
        raise
    finally:
        process.join()
    return result


def both(url: str, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """The untraced run's time and RSS, with the traced run's Python peak."""
    result = measure(url, name, params)
    result["peak"] = measure(url, name, params, trace=True)["peak"]
    return result


def mib(kib_or_bytes: float, unit: int = 1024) -> str:
    return f"{kib_or_bytes / unit:7.1f} MiB"


def memory(result: dict[str, Any]) -> str:
    growth = result["maxrss"] - result["before"]
    return (
        f"tracemalloc peak {mib(result['peak'], 1024 * 1024)}, "
        f"RSS peak {mib(result['maxrss'])} (+{growth / 1024:.1f} MiB)"
    )


# --- the run --------------------------------------------------------------------------------


def bench_reports(url: str, sql_year: bool = True) -> None:
    """``sql_year``: also time the twelve-month reports by their SQL (minutes at a million)."""
    year = (Month(2025, 1), Month(2025, 12))
    cases = [
        ("June 2025, 4 groupings", (ONE_MONTH, ONE_MONTH), ALL_GROUPS),
        ("12 months by month", year, (GroupBy.MONTH,)),
        ("12 months, 4 groupings", year, ALL_GROUPS),
    ]
    print("\nreport (reflections.oversight.reports.build_report) against count(*) of the same rows")
    results: list[tuple[str, tuple[Month, Month], Any, dict[str, Any] | None]] = []
    for label, months, group_by in cases:
        counted = measure(url, "counts", {"months": months})
        if months == year and not sql_year:
            results.append((label, months, group_by, None))
            print(f"  {label}: SQL not timed (--no-sql-year)")
            continue
        report = both(url, "report", {"months": months, "group_by": group_by})
        results.append((label, months, group_by, report))
        print(f"  {label}: {report['rows']:,} groups, {report['detail']}")
        print(
            f"    report  : {report['seconds']:8.2f} s   {memory(report)}\n"
            f"    count(*): {counted['seconds']:8.2f} s   over {counted['detail']} rows "
            f"(reflections + history + steps)\n"
            f"    ratio   : report takes {report['seconds'] / counted['seconds']:.1f}x "
            f"the bare count"
        )
    refreshed = measure(url, "refresh", {})
    print(
        f"\nreport summaries (reflections.oversight.report_summary): built {refreshed['detail']}"
        f" in {refreshed['seconds']:.1f} s; the same reports from them, against the SQL above"
    )
    for label, months, group_by, sql_report in results:
        params = {"months": months, "group_by": group_by, "summaries": True}
        summary = both(url, "report", params)
        print(
            f"  {label}: {summary['rows']:,} groups, {summary['detail']}\n"
            f"    summaries: {summary['seconds']:8.2f} s   {memory(summary)}"
        )
        if sql_report is None:
            continue
        assert (summary["rows"], summary["detail"]) == (sql_report["rows"], sql_report["detail"])
        print(
            f"    SQL      : {sql_report['seconds']:8.2f} s\n"
            f"    ratio    : {sql_report['seconds'] / summary['seconds']:.1f}x faster"
        )


CHANGE_DECEMBER = """
UPDATE reflections SET version = version + 1
WHERE id = (SELECT id FROM reflections WHERE created_at >= '2025-12-01 00:00:00+07' ORDER BY id
    LIMIT 1)
"""


def bench_dashboard(url: str, rounds: int = 3) -> None:
    """The dashboard's four reports, exact (the API's way: a month changed since its rebuild
    counted from the reflections) against as summarised (its stated lag), alternately, first
    with every month summarised and unchanged, then with December changed by an event."""
    first, last = DASHBOARD_MONTHS
    print(
        f"\ndashboard ({len(DASHBOARD_GROUPS)} reports, {first} to {last}): exact against as "
        "summarised (wall time; the reporting process's CPU, the database server's not included)"
    )

    def run(label: str) -> None:
        for lag in (False, True):
            result = measure(url, "dashboard", {"as_summarised": lag})
            load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
            name = "as summarised" if lag else "exact"
            print(
                f"  {label + ', ' + name:42}: {result['seconds']:6.2f} s, CPU {result['cpu']:.2f} s"
                f"   (load {load}; {result['detail']})"
            )

    run("every month unchanged")
    with psycopg.connect(psycopg_url(url), autocommit=True) as connection:
        connection.execute(CHANGE_DECEMBER)  # one event: December changed since its rebuild
    for round_ in range(1, rounds + 1):
        run(f"December changed, round {round_}")


def bench_exports(url: str, batch_size: int) -> None:
    print(
        f"\nhistory export (reflections.oversight.exports, yield_per={batch_size}) "
        "against psycopg COPY of the same rows"
    )
    cases = [
        ("June 2025", JUNE, ExportFormat.CSV),
        ("June 2025", JUNE, ExportFormat.JSONL),
        ("everything", EVERYTHING, ExportFormat.CSV),
    ]
    copies: dict[str, dict[str, Any]] = {}
    for label, period, export_format in cases:
        params = {"period": period, "format": export_format, "batch_size": batch_size}
        exported = both(url, "export", params)
        if label not in copies:
            copies[label] = measure(url, "copy", {"period": period})
        copied = copies[label]
        if exported["rows"] != copied["rows"]:
            raise RuntimeError(f"{label}: exported {exported['rows']} rows, COPY {copied['rows']}")
        rate, copy_rate = exported["rows"] / exported["seconds"], copied["rows"] / copied["seconds"]
        print(f"  {label} as {export_format.value}: {exported['rows']:,} rows")
        print(
            f"    export: {rate:10,.0f} rows/s ({exported['seconds']:.1f} s, "
            f"{exported['bytes'] / 2**20:,.0f} MiB)   {memory(exported)}\n"
            f"    COPY  : {copy_rate:10,.0f} rows/s ({copied['seconds']:.1f} s, "
            f"{copied['bytes'] / 2**20:,.0f} MiB csv)   RSS peak {mib(copied['maxrss'])}\n"
            f"    ratio : export/COPY = {rate / copy_rate:.2f}"
        )


def bench(
    reflections: int,
    batch_size: int,
    workers: int,
    exports_too: bool = True,
    sql_year: bool = True,
) -> None:
    admin_url = os.environ.get("BENCH_POSTGRES_ADMIN_URL", POSTGRES_ADMIN)
    with scratch_postgres(admin_url, "reflections_bench") as url:
        os.environ["REFLECTIONS_DATABASE_URL"] = url
        get_settings.cache_clear()
        load_average = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(f"PostgreSQL scratch database {make_url(url).database}, load average {load_average}")
        started = time.perf_counter()
        prepare(url)
        counts = load(url, reflections, workers)
        rows = ", ".join(f"{table} {count:,}" for table, count in counts.items())
        print(f"  loaded in {time.perf_counter() - started:.0f} s: {rows}")
        print(f"  ({counts['history_events'] / counts['reflections']:.2f} history rows each)")
        bench_reports(url, sql_year)
        bench_dashboard(url)
        if exports_too:
            bench_exports(url, batch_size)


def _stop(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds like Ctrl-C: the scratch database is dropped


def main() -> None:
    signal.signal(signal.SIGTERM, _stop)
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--reflections", type=int, default=1_000_000)
    parser.add_argument(
        "--batch-size", type=int, default=exports.DEFAULT_BATCH_SIZE, help="rows per fetch"
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 2, help="connections loading at once"
    )
    parser.add_argument(
        "--no-exports", action="store_true", help="reports only (and their summaries)"
    )
    parser.add_argument(
        "--no-sql-year",
        action="store_true",
        help="time the twelve-month reports from the summaries only, not by their SQL",
    )
    args = parser.parse_args()
    if not 1 <= args.workers <= 32:
        parser.error("--workers must be in [1, 32]")
    if not 1_000 <= args.reflections <= 10_000_000:
        parser.error("--reflections must be in [1000, 10000000]")
    if not 1 <= args.batch_size <= 1_000_000:
        parser.error("--batch-size must be in [1, 1000000]")
    bench(
        args.reflections,
        args.batch_size,
        args.workers,
        exports_too=not args.no_exports,
        sql_year=not args.no_sql_year,
    )


if __name__ == "__main__":
    main()
