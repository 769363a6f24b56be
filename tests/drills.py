"""Fault drills: bursts of citizens' submissions against a real server while something breaks,
then a reconciliation with the database. The suite prints a table of them at the end."""

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import func
from sqlmodel import Session, col, select

from reflections.models import HistoryEvent, OutboxMessage, Reflection
from reflections.platform.db import get_engine

RESULTS: list["Outcome"] = []


@dataclass
class Outcome:
    """One drill's figures, as the table prints them."""

    drill: str
    database: str
    requests: int = 0
    ok: int = 0
    unavailable: int = 0
    errors: int = 0  # 500 and any other 5xx but 503: must be 0
    no_answer: int = 0  # connection refused or dropped: retried with the same key
    replayed: int = 0  # retries answered with the first attempt's answer
    submissions: int = 0
    rows: int = 0
    duplicates: int = 0
    incomplete: int = 0  # rows without their history or their message
    acknowledged_missing: int = 0  # 2xx answers whose reflection is not there


@dataclass
class Burst:
    """``clients`` threads, each submitting ``each`` reflections with a key apiece, retrying a
    submission with the same key (on 503 or no answer) until it is answered 2xx."""

    base_url: str
    clients: int = 6
    each: int = 20
    deadline_seconds: float = 90
    marker: str = field(default_factory=lambda: f"drill-{uuid.uuid4().hex[:10]}")
    answered: dict[str, str] = field(default_factory=dict)  # key -> tracking code
    statuses: Counter[str] = field(default_factory=Counter)
    abandon_first: bool = False  # send, then drop the connection before the answer
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def body(self, client: int, number: int) -> dict[str, Any]:
        return {
            "description": f"{self.marker} người {client} lần {number}: ổ gà sâu giữa đường",
            "address": "Đường Lê Lợi, Huế",
            "contact": {"phone": "0905 111 222"},
        }

    def run(self) -> None:
        threads = [threading.Thread(target=self.client, args=(n,)) for n in range(self.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(self.deadline_seconds + 30)

    def client(self, number: int) -> None:
        give_up = time.monotonic() + self.deadline_seconds
        with httpx.Client(base_url=self.base_url, timeout=30) as http:
            for n in range(self.each):
                key, body = str(uuid.uuid4()), self.body(number, n)
                if self.abandon_first:
                    self.abandon(key, body)
                while time.monotonic() < give_up:
                    if self.attempt(http, key, body):
                        break
                    time.sleep(0.1)

    def attempt(self, http: httpx.Client, key: str, body: dict[str, Any]) -> bool:
        try:
            response = http.post("/api/v1/reflections", json=body, headers={"Idempotency-Key": key})
        except httpx.TransportError:
            self.count("no answer")
            return False
        self.count(str(response.status_code))
        if response.headers.get("idempotent-replayed"):
            self.count("replayed")  # the first attempt had committed; its answer was lost
        if response.is_success:
            with self._lock:
                self.answered[key] = response.json()["tracking_code"]
            return True
        return False

    def abandon(self, key: str, body: dict[str, Any]) -> None:
        """The answer is lost on the way: the client hangs up right after sending."""
        with httpx.Client(base_url=self.base_url, timeout=0.02) as quick:
            try:
                quick.post("/api/v1/reflections", json=body, headers={"Idempotency-Key": key})
                self.count("answered before the hang-up")
            except httpx.TransportError:
                self.count("abandoned")

    def count(self, what: str) -> None:
        with self._lock:
            self.statuses[what] += 1

    def outcome(self, drill: str, database: str, url: str) -> Outcome:
        """Reconcile the answers with the database."""
        statuses = self.statuses
        http = {k: n for k, n in statuses.items() if k.isdigit()}
        result = Outcome(
            drill=drill,
            database=database,
            requests=sum(http.values()) + statuses["no answer"],
            ok=sum(n for k, n in http.items() if k.startswith("2")),
            unavailable=http.get("503", 0),
            errors=sum(n for k, n in http.items() if k.startswith("5") and k != "503"),
            no_answer=statuses["no answer"],
            replayed=statuses["replayed"],
            submissions=self.clients * self.each,
        )
        with Session(get_engine(url)) as session:
            ours = col(Reflection.description).startswith(self.marker)
            rows = session.exec(
                select(Reflection.tracking_code, Reflection.description).where(ours)
            )
            found = rows.all()
            result.rows = len(found)
            result.duplicates = result.rows - len({description for _, description in found})
            histories = select(HistoryEvent.reflection_id).where(HistoryEvent.seq == 1)
            messages = select(OutboxMessage.reflection_id).where(OutboxMessage.kind == "received")
            result.incomplete = session.exec(
                select(func.count())
                .select_from(Reflection)
                .where(ours)
                .where(~col(Reflection.id).in_(histories) | ~col(Reflection.id).in_(messages))
            ).one()
        codes = {code for code, _ in found}
        result.acknowledged_missing = len(set(self.answered.values()) - codes)
        RESULTS.append(result)
        return result


def table(outcomes: list[Outcome]) -> str:
    head = (
        "drill",
        "database",
        "requests",
        "2xx",
        "503",
        "500",
        "no answer",
        "replayed",
        "submissions",
        "rows",
        "duplicates",
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for o in outcomes:
        cells = (
            o.drill,
            o.database,
            o.requests,
            o.ok,
            o.unavailable,
            o.errors,
            o.no_answer,
            o.replayed,
            o.submissions,
            o.rows,
            o.duplicates,
        )
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)
