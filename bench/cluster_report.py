"""The cluster drill's closing table (bench/cluster.py): what the clients saw, set against what
the database, the SMTP peer, both replicas, the audit chain and the Prefect server hold."""

import hashlib
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
from cluster_stack import run_state
from sqlalchemy import text
from sqlmodel import Session

from reflections.platform.db import get_engine

if TYPE_CHECKING:
    from cluster import Load
    from cluster_stack import CountingSmtp, PrefectServer

    from tests.servers import Server

ACTIONS = ("submit", "classify", "assign", "accept", "process", "confirm")


def rows(url: str, sql: str, **params: Any) -> list[Any]:
    with Session(get_engine(url)) as session:
        return list(session.execute(text(sql), params).all())


def settle(
    url: str, due: list[str], seconds: float, server: "PrefectServer", killed: list[str]
) -> float:
    """Wait until no message is waiting or leased, every due reflection was escalated and every
    killed run has left RUNNING."""
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        if any(run_state(server, run).startswith("RUNNING") for run in killed):
            time.sleep(3)
            continue
        waiting = rows(
            url, "SELECT count(*) FROM outbox_messages WHERE status IN ('pending', 'sending')"
        )[0][0]
        escalated = rows(
            url,
            "SELECT count(DISTINCT r.id) FROM reflections r JOIN history_events"
            " h ON h.reflection_id = r.id AND h.event = 'escalate'"
            " WHERE r.tracking_code = ANY(:due)",
            due=due,
        )[0][0]
        if waiting == 0 and escalated == len(due):
            break
        time.sleep(3)
    return time.monotonic() - began


def prefect_runs(
    server: "PrefectServer",
) -> tuple[dict[str, Counter[str]], dict[str, int]]:
    """Runs by state per deployment, and the most runs of one deployment running at once."""
    with httpx.Client(base_url=server.api_url, timeout=30) as client:
        deployments = client.post("/deployments/filter", json={}).json()
        names = {d["id"]: d["name"] for d in deployments}
        flows = {f["id"]: f["name"] for f in client.post("/flows/filter", json={}).json()}
        for d in deployments:
            names[d["id"]] = f"{flows.get(d['flow_id'], '?')}/{d['name']}"
        runs: list[dict[str, Any]] = []
        while True:
            page = client.post("/flow_runs/filter", json={"limit": 200, "offset": len(runs)})
            runs += page.json()
            if len(page.json()) < 200:
                break
    states: dict[str, Counter[str]] = {}
    spans: dict[str, list[tuple[datetime, datetime]]] = {}
    now = datetime.now().astimezone()
    for run in runs:
        name = names.get(run["deployment_id"], "?")
        states.setdefault(name, Counter())[run["state_type"]] += 1
        if run["start_time"] and run["state_type"] in ("RUNNING", "COMPLETED", "CRASHED", "FAILED"):
            end = datetime.fromisoformat(run["end_time"]) if run["end_time"] else now
            spans.setdefault(name, []).append((datetime.fromisoformat(run["start_time"]), end))
    overlap = {}
    for name, items in spans.items():
        edges = sorted([(s, 1) for s, _ in items] + [(e, -1) for _, e in items])
        level = peak = 0
        for _, step in edges:
            level += step
            peak = max(peak, level)
        overlap[name] = peak
    return states, overlap


def photos_readable(load: "Load", replicas: list["Server"]) -> tuple[int, int]:
    """Every photo the load sent, read through each replica (not nginx) with the citizen's key."""
    clients = [httpx.Client(base_url=r.url, timeout=30) for r in replicas]
    readable = 0
    try:
        for code, key, sha in load.photos:
            path = f"/api/v1/reflections/{code}/photos/{sha}"
            answers = [c.get(path, headers={"X-Citizen-Key": key}) for c in clients]
            readable += all(
                a.status_code == 200 and hashlib.sha256(a.content).hexdigest() == sha
                for a in answers
            )
    finally:
        for client in clients:
            client.close()
    return readable, len(load.photos)


def audit_verify(url: str) -> str:
    done = subprocess.run(
        [
            os.path.join(os.path.dirname(sys.executable), "reflections"),
            "audit",
            "verify",
            "--no-progress",
        ],
        env=os.environ | {"REFLECTIONS_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    last = (done.stdout.strip().splitlines() or [done.stderr.strip()])[-1]
    return f"exit {done.returncode}: {last}"


def report(
    url: str,
    load: "Load",
    smtp: "CountingSmtp",
    server: "PrefectServer",
    replicas: list["Server"],
    due: list[str],
    faults: tuple[list[str], list[str]],
    settle_seconds: float,
    seconds: float,
    stop_workers: Callable[[], None],
) -> None:
    events, killed = faults
    waited = settle(url, due, settle_seconds, server, killed)
    stop_workers()  # nothing is sent while the figures are read
    answered = len(load.latencies)
    ordered = sorted(load.latencies)
    p50 = statistics.median(ordered) * 1000 if ordered else 0.0
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000 if ordered else 0.0
    codes = sorted(set(load.codes))
    found = rows(url, "SELECT count(*) FROM reflections WHERE tracking_code = ANY(:c)", c=codes)
    history = dict(
        rows(
            url,
            "SELECT h.event, count(*) FROM history_events h JOIN reflections r"
            " ON r.id = h.reflection_id WHERE r.tracking_code = ANY(:c)"
            " GROUP BY h.event",
            c=codes,
        )
    )
    swept = dict(
        rows(
            url,
            "SELECT h.event, count(*) FROM history_events h JOIN reflections r"
            " ON r.id = h.reflection_id WHERE r.tracking_code = ANY(:c)"
            " AND h.event IN ('remind', 'escalate') GROUP BY h.event",
            c=due,
        )
    )
    twice = rows(
        url,
        "SELECT count(*) FROM (SELECT h.reflection_id FROM history_events h"
        " WHERE h.event IN ('remind', 'escalate') GROUP BY h.reflection_id,"
        " h.event, h.from_state, h.payload::text HAVING count(*) > 1) AS d",
    )[0][0]
    outbox = rows(
        url,
        "SELECT channel, status, count(*) FROM outbox_messages"
        " GROUP BY channel, status ORDER BY 1, 2",
    )
    pace = rows(
        url,
        "SELECT count(*), extract(epoch FROM max(sent_at) - min(sent_at)),"
        " (SELECT max(n) FROM (SELECT count(*) AS n FROM outbox_messages WHERE sent_at IS NOT NULL"
        "  GROUP BY floor(extract(epoch FROM sent_at) / 10)) AS b)"
        " FROM outbox_messages WHERE sent_at IS NOT NULL",
    )[0]
    confirmed = load.by_kind["confirm"]
    emails_sent = sum(n for channel, status, n in outbox if channel == "email" and status == "sent")
    repeats = sum(1 for n in smtp.ids.values() if n > 1)
    readable, photos = photos_readable(load, replicas)
    states, overlap = prefect_runs(server)

    table: list[tuple[str, str]] = [
        (
            "load",
            f"{load.elapsed:.0f} s, {answered} answers + {load.statuses.get('retried', 0)} retried",
        ),
        ("answers by status", ", ".join(f"{k}: {v}" for k, v in sorted(load.statuses.items()))),
        (
            "throughput",
            f"{answered / load.elapsed:.1f} req/s over both replicas" if load.elapsed else "-",
        ),
        ("latency p50 / p99", f"{p50:.0f} ms / {p99:.0f} ms"),
        (
            "carried to confirmed",
            f"{confirmed} reflections, {confirmed / load.elapsed:.2f}/s" if load.elapsed else "-",
        ),
        ("reflections", f"{found[0][0]} rows for {len(codes)} tracking codes answered 201"),
    ]
    for action in ACTIONS:
        made = load.by_kind[action] - load.replayed[action]
        table.append(
            (
                f"  {action}",
                f"{load.by_kind[action]} 2xx ({load.replayed[action]} "
                f"replayed) -> {history.get(action, 0)} history rows "
                f"{'ok' if history.get(action, 0) == made else 'MISMATCH'}",
            )
        )
    table += [
        (
            "sweep on due cases",
            f"{len(due)} due: {swept.get('remind', 0)} reminders, "
            f"{swept.get('escalate', 0)} escalations",
        ),
        ("done twice", f"{twice} reminders or escalations repeated"),
        ("outbox", ", ".join(f"{c} {s}: {n}" for c, s, n in outbox)),
        (
            "delivered",
            f"{pace[0]} messages over {float(pace[1] or 0):.0f} s from first to last"
            f" (one dispatcher at a time); busiest 10 s: {(pace[2] or 0) / 10:.1f}/s",
        ),
        (
            "SMTP peer",
            f"{sum(smtp.ids.values())} received, {len(smtp.ids)} Message-IDs, "
            f"{repeats} received twice; {emails_sent} email rows sent",
        ),
        ("photos through both replicas", f"{readable} / {photos} readable from A and B"),
        ("audit verify", audit_verify(url)),
        ("settled after", f"{waited:.0f} s"),
    ]
    for name, counts in sorted(states.items()):
        table.append(
            (
                f"prefect {name}",
                ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
                + f"; at most {overlap.get(name, 0)} at once",
            )
        )
    table += [("fault", event) for event in events]
    table += [("killed run now", run_state(server, run)) for run in killed]
    width = max(len(label) for label, _ in table)
    print(f"\ncluster drill: {seconds:.0f} s of load")
    for label, value in table:
        print(f"{label:<{width}}  {value}")
