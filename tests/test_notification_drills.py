"""Fault drills for the notification outbox (DESIGN.md §6), against real peers where they run.

What a citizen would notice is asserted: whether the message arrives, how often, when the
outbox tries again, and what an operator sees on the row.

Other tests share the database and leave pending rows; every dispatch here claims those too,
so assertions look at this module's rows only (and the fakes below fault only its recipients).
Every ``now`` is a daytime instant a little after the rows were written: quiet hours hold SMS
at night, and rows older than a day become dead letters.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from notifications import (
    Channel,
    ConsoleChannel,
    SmtpChannel,
    SmtpConfig,
    TwilioChannel,
    TwilioConfig,
)
from notifications.smtp import message_id
from reflections.actors import Actor
from reflections.lifecycle.intake import Submission, submit
from reflections.messaging.dispatcher import DispatchReport, backoff, dispatch
from reflections.messaging.quiet_hours import QuietHours
from reflections.models import OutboxMessage, OutboxStatus, Reflection
from reflections.models.enums import Channel as ContactChannel
from reflections.models.enums import Language
from reflections.platform import clock
from reflections.platform.settings import get_settings
from tests.peers import Prism, free_port

REPO = Path(__file__).parents[1]
BIG = 100_000  # one dispatch reaches every due row, whatever other tests left behind
ACCOUNT = "AC" + "0123456789abcdef" * 2
FROM = "noreply@hue.example"


@pytest.fixture(scope="module", autouse=True)
def _prism_starts_early(prism_process: Prism | None) -> None:
    """Prism takes seconds to read Twilio's spec: start it before the test database is made
    (the SMS drills wait for it through ``prism_url``; the email drill does not need it)."""


def _tag() -> str:
    return uuid.uuid4().hex[:8]


def _phone() -> str:
    """A Vietnamese mobile number of this test's own, so the fakes can fault only it."""
    return "+8490" + "".join(random.choices("0123456789", k=7))


def _daytime(instant: datetime | None = None) -> datetime:
    """``instant`` (default: now), or the end of the quiet hours it falls in."""
    return QuietHours.from_settings().release(instant or clock.now())


def _submit(
    session: Session, channel: ContactChannel, email: str | None = None, phone: str | None = None
) -> Reflection:
    return submit(
        session,
        Submission(
            description="Đèn đường hỏng trước số 12 Trần Hưng Đạo",
            address="12 Trần Hưng Đạo, Huế",
            reporter_name="Dân",
            reporter_email=email,
            reporter_phone=phone,
            channels=(channel,),
            language=Language.EN,
        ),
        Actor.citizen(),
    ).reflection


def _rows(session: Session, *reflections: Reflection) -> list[OutboxMessage]:
    session.expire_all()
    ids = [reflection.id for reflection in reflections]
    return list(
        session.exec(
            select(OutboxMessage)
            .where(col(OutboxMessage.reflection_id).in_(ids))
            .order_by(col(OutboxMessage.id))
        ).all()
    )


def _ids(report: DispatchReport) -> set[int]:
    """Every row this dispatch claimed, whatever became of it."""
    return {
        row_id
        for bucket in (
            report.sent,
            report.failed_permanent,
            report.retried,
            report.dead,
            report.skipped,
            report.held,
        )
        for row_id in bucket
    }


# --- Twilio: a fault-injecting proxy in front of Prism ---------------------------------------

HANG_SECONDS = 5.0  # longer than the client's timeout in the drill
_HOP_BY_HOP = {
    "accept-encoding",
    "connection",
    "content-length",
    "host",
    "keep-alive",
    "proxy-connection",
    "te",
    "transfer-encoding",
    "upgrade",
}


@dataclass(frozen=True)
class Seen:
    """One request the proxy got, and what it did with it."""

    mode: str  # "pass" (forwarded to Prism), "503", "hang" or "21211"
    to: str | None
    key: str | None  # the I-Twilio-Idempotency-Token header: the outbox row's key
    status: int | None  # what the client was answered; None when it was left hanging


@dataclass
class FaultProxy:
    """Stands between the SMS channel and Prism; requests for ``victims`` get ``mode``.

    A fake, because Prism answers only what Twilio's contract defines for creating a message,
    and that defines no 5xx, no hang and no 400 with code 21211. Every request it lets through
    (``pass``, and every request for another number) goes to Prism unchanged, and Prism still
    checks it against the contract.
    """

    upstream: str
    mode: str = "pass"
    victims: set[str] = field(default_factory=set)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    released: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def for_number(self, number: str) -> list[Seen]:
        with self.lock:
            return [seen for seen in self.seen if seen.to == number]

    def reached_prism(self, key: str) -> list[Seen]:
        with self.lock:
            return [seen for seen in self.seen if seen.key == key and seen.mode == "pass"]

    def per_mode(self) -> Counter[str]:
        with self.lock:
            return Counter(seen.mode for seen in self.seen)


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    proxy: FaultProxy


def _twilio_error(code: int, message: str, status: int) -> bytes:
    more_info = f"https://www.twilio.com/docs/errors/{code}"
    body = {"code": code, "message": message, "more_info": more_info, "status": status}
    return json.dumps(body).encode()


class _ProxyHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        proxy = cast(_ProxyServer, self.server).proxy
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        to = parse_qs(body.decode()).get("To", [None])[0]
        key = self.headers.get("I-Twilio-Idempotency-Token")
        mode = proxy.mode if to in proxy.victims else "pass"
        status: int | None
        if mode == "hang":
            status = None
            with proxy.lock:
                proxy.seen.append(Seen(mode, to, key, status))
            proxy.released.wait(HANG_SECONDS)
            self.close_connection = True
            return
        if mode == "503":
            status, reply = 503, _twilio_error(20503, "Service is unavailable.", 503)
            headers = [("Content-Type", "application/json")]
        elif mode == "21211":
            message = f"The 'To' number {to} is not a valid phone number."
            status, reply = 400, _twilio_error(21211, message, 400)
            headers = [("Content-Type", "application/json")]
        else:
            status, headers, reply = self._forward(proxy.upstream, body)
        with proxy.lock:
            proxy.seen.append(Seen(mode, to, key, status))
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def _forward(self, upstream: str, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        target = urlsplit(upstream)
        connection = http.client.HTTPConnection(target.hostname or "", target.port, timeout=10)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            connection.request(self.command, self.path, body or None, headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()


@pytest.fixture
def proxy(prism_url: str) -> Iterator[FaultProxy]:
    fake = FaultProxy(upstream=prism_url)
    server = _ProxyServer(("127.0.0.1", 0), _ProxyHandler)
    server.proxy = fake
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.released.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _twilio(url: str, timeout: float = 5.0) -> dict[str, Channel]:
    config = TwilioConfig(
        account_sid=ACCOUNT,
        auth_token="test-token",
        status_callback_url="https://reflections.example/twilio/status",
        from_number="+15005550006",
        base_url=url,
        timeout=timeout,
    )
    return {"sms": TwilioChannel(config), "email": ConsoleChannel(stream=StringIO())}


def _one_sms_row(session: Session, phone: str) -> tuple[Reflection, OutboxMessage]:
    reflection = _submit(session, ContactChannel.SMS, phone=phone)
    (row,) = _rows(session, reflection)
    assert (row.kind, row.channel, row.recipient) == ("received", "sms", phone)
    assert row.status is OutboxStatus.PENDING and row.attempts == 0
    return reflection, row


def test_twilio_503_is_retried_with_backoff_and_then_sent_once(
    session: Session, proxy: FaultProxy
) -> None:
    """Twilio answers 503, then recovers.

    The proxy in front of Prism is a fake: Prism answers only what Twilio's contract defines
    for this operation, and it defines no 5xx, no hang and no 400 with code 21211. Requests the
    proxy lets through still go to Prism, which checks them against the contract.
    """
    phone = _phone()
    proxy.victims.add(phone)
    proxy.mode = "503"
    reflection, row = _one_sms_row(session, phone)
    now = _daytime()

    report = dispatch(session, now, _twilio(proxy.url), batch_size=BIG)
    (row,) = _rows(session, reflection)
    assert row.id is not None and row.id in report.retried
    assert row.status is OutboxStatus.PENDING and row.attempts == 1
    assert row.last_error and "503" in row.last_error
    assert row.next_attempt_at == now + backoff(row.id, 1)
    assert [seen.mode for seen in proxy.for_number(phone)] == ["503"]
    assert proxy.reached_prism(row.idempotency_key) == []

    proxy.mode = "pass"
    report = dispatch(session, row.next_attempt_at, _twilio(proxy.url), batch_size=BIG)
    (row,) = _rows(session, reflection)
    assert row.id in report.sent
    assert row.status is OutboxStatus.SENT and row.attempts == 2 and row.last_error is None
    assert row.provider_id and row.provider_id.startswith("SM")  # Prism's answer
    assert [seen.status for seen in proxy.reached_prism(row.idempotency_key)] == [201]

    later = dispatch(session, _daytime(now + timedelta(hours=2)), _twilio(proxy.url), BIG)
    assert row.id not in _ids(later)
    assert len(proxy.reached_prism(row.idempotency_key)) == 1  # one SMS, not two
    assert proxy.per_mode()["503"] == 1


def test_twilio_timeout_is_retried_and_then_sent_once(session: Session, proxy: FaultProxy) -> None:
    """Twilio takes longer than the client waits (the proxy holds the request; see above
    for why it is a fake): transient, retried after the backoff, then sent once."""
    phone = _phone()
    proxy.victims.add(phone)
    proxy.mode = "hang"
    reflection, row = _one_sms_row(session, phone)
    now = _daytime()

    report = dispatch(session, now, _twilio(proxy.url, timeout=1.0), batch_size=BIG)
    (row,) = _rows(session, reflection)
    assert row.id is not None and row.id in report.retried
    assert row.status is OutboxStatus.PENDING and row.attempts == 1
    # A timeout: the client gave up first (a proxy closing the connection reads otherwise).
    assert row.last_error and "timeout" in row.last_error.lower()
    assert row.next_attempt_at == now + backoff(row.id, 1)
    assert [(seen.mode, seen.status) for seen in proxy.for_number(phone)] == [("hang", None)]

    proxy.mode = "pass"
    early = dispatch(session, now + timedelta(seconds=1), _twilio(proxy.url, 1.0), BIG)
    assert row.id not in _ids(early)  # not before its backoff
    report = dispatch(session, row.next_attempt_at, _twilio(proxy.url, timeout=1.0), BIG)
    (row,) = _rows(session, reflection)
    assert row.id in report.sent
    assert row.status is OutboxStatus.SENT and row.attempts == 2
    assert row.provider_id and row.provider_id.startswith("SM")
    dispatch(session, _daytime(now + timedelta(hours=2)), _twilio(proxy.url, 1.0), BIG)
    assert [seen.mode for seen in proxy.for_number(phone)] == ["hang", "pass"]
    assert len(proxy.reached_prism(row.idempotency_key)) == 1


def test_twilio_21211_fails_for_good_after_one_attempt(session: Session, proxy: FaultProxy) -> None:
    """Twilio refuses the number (400, code 21211; a fake answer, see above): the row stops
    at once, visibly, and is never tried again."""
    phone = _phone()
    proxy.victims.add(phone)
    proxy.mode = "21211"
    reflection, row = _one_sms_row(session, phone)
    now = _daytime()

    report = dispatch(session, now, _twilio(proxy.url), batch_size=BIG)
    (row,) = _rows(session, reflection)
    assert row.id is not None and row.id in report.failed_permanent
    assert row.status is OutboxStatus.FAILED_PERMANENT and row.attempts == 1
    assert row.last_error and "21211" in row.last_error
    assert "is not a valid phone number" in row.last_error
    assert row.provider_id is None and row.sent_at is None

    proxy.mode = "pass"  # were it retried now, it would go through
    for later in (now + backoff(row.id, 1), now + timedelta(hours=3)):
        report = dispatch(session, _daytime(later), _twilio(proxy.url), batch_size=BIG)
        assert row.id not in _ids(report)
    (row,) = _rows(session, reflection)
    assert row.status is OutboxStatus.FAILED_PERMANENT and row.attempts == 1
    assert [(seen.mode, seen.status) for seen in proxy.for_number(phone)] == [("21211", 400)]


# --- a dispatcher killed mid-chunk -----------------------------------------------------------

BATCH = 5  # email rows in the drill
STALL_AT = 4  # the relay takes this message of the batch and never answers it


@dataclass
class StallingRelay:
    """An aiosmtpd handler that takes the ``stall_at``-th message for ``watched`` recipients
    and then holds its answer until ``release`` is set (a relay that hung after DATA)."""

    watched: set[str]
    stall_at: int
    received: list[str] = field(default_factory=list)  # Message-IDs, in order
    answered: list[str] = field(default_factory=list)  # those that got their 250
    in_flight: str | None = None
    stalling: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: SmtpSession, envelope: Envelope
    ) -> str:
        if not self.watched & set(envelope.rcpt_tos):
            return "250 OK"  # another test's leftover row
        content = envelope.content
        assert isinstance(content, bytes)
        mail_id = str(message_from_bytes(content, policy=policy.default)["Message-ID"])
        self.received.append(mail_id)
        if len(self.received) == self.stall_at and not self.release.is_set():
            self.in_flight = mail_id
            self.stalling.set()
            while not self.release.is_set():
                await asyncio.sleep(0.01)
        self.answered.append(mail_id)
        return "250 Message accepted"


_DISPATCHER = """
import sys
from datetime import datetime
from io import StringIO

from sqlmodel import Session

from notifications import ConsoleChannel, SmtpChannel, SmtpConfig
from reflections.platform.db import get_engine
from reflections.messaging.dispatcher import dispatch

now, port, sender = datetime.fromisoformat(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
smtp = SmtpConfig(host="127.0.0.1", port=port, from_address=sender, timeout=120)
channels = {"email": SmtpChannel(smtp), "sms": ConsoleChannel(stream=StringIO())}
with Session(get_engine()) as session:
    dispatch(session, now, channels, batch_size=100_000)
"""


@dataclass(frozen=True)
class RowAfter:
    id: int
    mail_id: str  # the Message-ID its email carries
    status: OutboxStatus
    provider_id: str | None


@dataclass(frozen=True)
class KillDrill:
    chunk: int  # the killed dispatcher's outbox_chunk_size
    rows: list[RowAfter]  # after the restart
    received: list[str]  # every Message-ID of the drill's rows the relay took, in order
    answered_before_kill: list[str]
    recorded_before_kill: list[str]  # rows ``sent`` when the dispatcher had died
    in_flight: str
    restart: DispatchReport


def _smtp_channels(port: int) -> dict[str, Channel]:
    config = SmtpConfig(host="127.0.0.1", port=port, from_address=FROM, timeout=10)
    return {"email": SmtpChannel(config), "sms": ConsoleChannel(stream=StringIO())}


def _wait_until_stalling(relay: StallingRelay, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while not relay.stalling.wait(0.05):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            _, err = process.communicate()
            pytest.fail("the dispatcher never reached the stall:\n" + err.decode()[-3000:])


@pytest.fixture(scope="module", params=[1, 2], ids=["chunks-of-1", "chunks-of-2"])
def killed_mid_batch(
    engine: Engine, database_url: str, request: pytest.FixtureRequest
) -> KillDrill:
    """Run a dispatcher in a subprocess on a batch of email rows (its outcomes recorded a
    chunk at a time), SIGKILL it while the relay holds the answer to one message, then
    dispatch in-process once its lease has run out. Other tests' leftover rows go first, so
    where the chunks begin among the drill's rows is not known: the tests assert bounds."""
    chunk = int(request.param)
    tag = _tag()
    emails = [f"drill-{tag}-{n}@example.com" for n in range(BATCH)]
    lease = timedelta(seconds=get_settings().outbox_lease_seconds)
    with Session(engine, expire_on_commit=False) as session:
        reflections = [_submit(session, ContactChannel.EMAIL, email=email) for email in emails]
        rows = _rows(session, *reflections)
        assert [row.recipient for row in rows] == emails
        mail_ids = {row.id: message_id(row.idempotency_key, FROM) for row in rows}
        now = _daytime()
        if _daytime(now + lease) != now + lease:  # the restart too is a daytime instant
            now = _daytime(now + lease)

        relay = StallingRelay(watched=set(emails), stall_at=STALL_AT)
        port = free_port()
        controller = Controller(relay, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", _DISPATCHER, now.isoformat(), str(port), FROM],
                cwd=REPO,
                env={
                    **os.environ,
                    "REFLECTIONS_DATABASE_URL": database_url,
                    "REFLECTIONS_OUTBOX_CHUNK_SIZE": str(chunk),
                },
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            try:
                _wait_until_stalling(relay, process)
                answered_before_kill = list(relay.answered)
                assert len(answered_before_kill) == STALL_AT - 1
            finally:
                process.send_signal(signal.SIGKILL)
                process.communicate()
            assert process.returncode == -signal.SIGKILL

            # The dead dispatcher recorded the chunks it had finished, a prefix of the rows;
            # the rest (its unfinished chunk and those after it) wait out its lease.
            after_kill = [
                (mail_ids[row.id or 0], row.status) for row in _rows(session, *reflections)
            ]
            recorded = [mail_id for mail_id, status in after_kill if status is OutboxStatus.SENT]
            assert [mail_id for mail_id, _ in after_kill[: len(recorded)]] == recorded
            assert {status for _, status in after_kill[len(recorded) :]} == {OutboxStatus.SENDING}
            early = dispatch(session, now + timedelta(seconds=1), _smtp_channels(port), BIG)
            assert not set(mail_ids) & _ids(early)

            relay.release.set()
            restart_at = now + lease + timedelta(seconds=1)
            restart = dispatch(session, restart_at, _smtp_channels(port), batch_size=BIG)
        finally:
            relay.release.set()
            controller.stop()
        after = [
            RowAfter(row.id or 0, mail_ids[row.id], row.status, row.provider_id)
            for row in _rows(session, *reflections)
        ]
    assert relay.in_flight is not None
    return KillDrill(
        chunk,
        after,
        list(relay.received),
        answered_before_kill,
        recorded,
        relay.in_flight,
        restart,
    )


def test_killed_dispatcher_loses_no_message(killed_mid_batch: KillDrill) -> None:
    """Every row of the interrupted batch is delivered after the restart; whatever arrives
    twice carries its row's Message-ID, so the recipient's mail system can drop it."""
    drill = killed_mid_batch
    mine = {row.mail_id for row in drill.rows}
    assert len(mine) == BATCH
    assert all(row.status is OutboxStatus.SENT for row in drill.rows)
    assert all(row.provider_id == row.mail_id for row in drill.rows)
    recorded = {row.id for row in drill.rows if row.mail_id in drill.recorded_before_kill}
    assert {row.id for row in drill.rows} - recorded <= set(drill.restart.sent)
    assert not recorded & set(drill.restart.sent)  # recorded before the kill: not sent again
    assert set(drill.received) <= mine  # nothing but the rows' own Message-IDs
    assert len(set(drill.received)) == len(drill.rows)  # each row arrived
    assert drill.in_flight in mine
    assert Counter(drill.received)[drill.in_flight] == 2  # taken before the kill, and after
    untouched = [row.mail_id for row in drill.rows][STALL_AT:]
    assert all(Counter(drill.received)[mail_id] == 1 for mail_id in untouched)


def test_killed_dispatcher_resends_at_most_its_chunk(killed_mid_batch: KillDrill) -> None:
    """What arrives twice is the chunk the dispatcher died in: the message in flight and the
    answered ones before it in that chunk, never more than ``outbox_chunk_size`` messages;
    with chunks of one, only the message in flight."""
    drill = killed_mid_batch
    twice = [mail_id for mail_id, n in Counter(drill.received).items() if n > 1]
    assert set(drill.recorded_before_kill) <= set(drill.answered_before_kill)
    unrecorded = [m for m in drill.answered_before_kill if m not in drill.recorded_before_kill]
    assert sorted(twice) == sorted([*unrecorded, drill.in_flight])
    assert 1 <= len(twice) <= drill.chunk
    assert len(drill.received) <= len(drill.rows) + drill.chunk
    if drill.chunk == 1:
        assert twice == [drill.in_flight]
        assert drill.recorded_before_kill == drill.answered_before_kill
