"""Messages per second through the outbox dispatcher, against raw sends of the same messages.

    .venv/bin/python bench/notify.py [--emails 2000] [--sms 200] [--batch-size 100] [--rounds 4]
                                     [--database sqlite|postgresql] [--rate-limited]

Run on demand, not in CI. The dispatcher claims rows, reloads and renders them, sends, and
records each outcome, all in the database; this shows what that costs over the bare protocol
loop, measured in the same run on the same peers, so the ratio is the outbox's overhead.

Email: N outbox rows ("received", Vietnamese) in a fresh migrated database (an SQLite file in a
temporary folder, or a scratch PostgreSQL database reached through BENCH_POSTGRES_ADMIN_URL,
created and dropped) are drained by ``dispatch_async`` in batches through ``SmtpChannel`` (one
connection per dispatch call, kept across its chunks) to an aiosmtpd server on 127.0.0.1 (a
thread here). Baseline: the same N messages, rendered and built in the loop, sent with aiosmtplib
over ONE connection. SMS: M rows through ``TwilioChannel`` (a batch per worker-thread call) to
Stoplight Prism serving Twilio's OpenAPI description; baseline: a plain twilio
``Client.messages.create`` loop through ``BaseUrlHttpClient`` on the calling thread. Both sides
send one message after another.

The messages are split into --rounds rounds; each round the dispatcher drains its share and the
raw loop sends the same share, the two taking turns to go first, so a change of load on a busy
machine falls on both sides alike. The ratio is of the totals; the rounds' own ratios are printed
beside it to show the spread.

The channels are measured unwrapped (no rate limit); --rate-limited wraps the dispatcher's
channels with ``notifications.ratelimit`` at the settings' email_per_second / sms_per_second
(20/s and 5/s by default: use small --emails / --sms) and checks the rate stays under it.
It fails loudly unless every row ends ``sent`` and the server received exactly the emails of each
step (dispatcher or raw loop, each round), and warns when a dispatch call claimed more rows than
--batch-size. The load average is printed: compare runs made at a similar load only (the client
and the SMTP server share this process).
"""

import argparse
import asyncio
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

import aiosmtplib
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select
from twilio.rest import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.databases

from notifications import (
    Channel,
    ChannelName,
    Message,
    MessageKind,
    SmtpChannel,
    SmtpConfig,
    TwilioChannel,
    TwilioConfig,
    render,
    sms_text,
)
from notifications.ratelimit import rate_limited
from notifications.sms import BaseUrlHttpClient
from notifications.smtp import build_email
from reflections.messaging.dispatcher import dispatch_async
from reflections.messaging.quiet_hours import QuietHours
from reflections.models import OutboxMessage, OutboxStatus
from reflections.platform import clock, migrate
from reflections.platform.db import get_engine
from reflections.platform.settings import get_settings
from tests.databases import scratch_postgres

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
HOST = "127.0.0.1"
FROM_ADDRESS = "Phan anh hien truong <no-reply@hue.example>"
SMS_TO = "+84905123456"
LANGUAGE = "vi"
PRISM = ROOT / "node_modules" / ".bin" / "prism"
TWILIO_SPEC = ROOT.parent / "shared" / "twilio" / "twilio_api_v2010.json"
TWILIO = TwilioConfig(
    account_sid="AC" + "0123456789abcdef" * 2,
    auth_token="bench-token",
    status_callback_url="https://reflections.example/twilio/status",
    from_number="+15005550006",
)
WARMUP = 20
PRISM_WARMUP = 400  # Prism (node) answers 1.5-2x faster after a few hundred requests


class CountingHandler:
    """aiosmtpd handler that accepts every message and counts it."""

    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: SmtpSession, envelope: Envelope
    ) -> str:
        self.received += 1
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@contextmanager
def fresh_database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/notify.db"
        return
    admin_url = os.environ.get("BENCH_POSTGRES_ADMIN_URL", POSTGRES_ADMIN)
    with scratch_postgres(admin_url, "reflections_bench") as url:
        yield url


@contextmanager
def smtp_server() -> Iterator[tuple[CountingHandler, int]]:
    handler, port = CountingHandler(), free_port()
    controller = Controller(handler, hostname=HOST, port=port, server_hostname="localhost")
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@contextmanager
def prism() -> Iterator[str]:
    """Prism mocking Twilio at 127.0.0.1:<free port>; its base URL, then its group is killed."""
    if not TWILIO_SPEC.is_file() or not PRISM.exists():
        raise RuntimeError(f"need {TWILIO_SPEC} and {PRISM} (`make install`), or pass --sms 0")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="reflections-prism-") as folder:
        log = Path(folder, "prism.log")
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(PRISM), "mock", str(TWILIO_SPEC), "-p", str(port), "-h", HOST],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own group: node and its children stop together
            )
        try:
            deadline = time.monotonic() + 60
            while b"is listening" not in log.read_bytes():
                if process.poll() is not None or time.monotonic() > deadline:
                    tail = log.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"Prism did not start:\n{tail}")
                time.sleep(0.1)
            yield f"http://{HOST}:{port}"
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


# --- the messages: the same content for the dispatcher and the baselines --------------------


def context(number: int) -> dict[str, str]:
    code = f"HUE-{number:06d}"
    return {"tracking_code": code, "link_url": f"http://127.0.0.1:8000/r/{code}"}


def recipient(channel: ChannelName, number: int) -> str:
    return SMS_TO if channel == "sms" else f"citizen{number}@example.org"


def key(channel: ChannelName, number: int) -> str:
    return f"bench-{channel}-{number}"


def message(channel: ChannelName, number: int) -> Message:
    """What ``reflections.messaging.dispatcher._message`` makes of an ``insert_rows`` row."""
    rendered = render(MessageKind.RECEIVED, LANGUAGE, context(number))
    sms = channel == "sms"
    return Message(
        channel=channel,
        recipient=recipient(channel, number),
        language=rendered.language,
        text=rendered.sms if sms else rendered.text,
        idempotency_key=key(channel, number),
        subject="" if sms else rendered.subject,
        html=None if sms else rendered.html,
    )


def insert_rows(engine: Engine, channel: ChannelName, numbers: range, now: datetime) -> None:
    with Session(engine) as session:
        session.add_all(
            OutboxMessage(
                reflection_id=None,
                kind=MessageKind.RECEIVED.value,
                channel=channel,
                recipient=recipient(channel, number),
                language=LANGUAGE,
                context=context(number),
                status=OutboxStatus.PENDING,
                next_attempt_at=now,
                created_at=now,
                idempotency_key=key(channel, number),
                urgent=channel == "sms",  # never held by quiet hours
            )
            for number in numbers
        )
        session.commit()


# --- the measured loops ---------------------------------------------------------------------


async def drain(
    engine: Engine, now: datetime, channels: Mapping[str, Channel], batch_size: int
) -> tuple[float, list[int]]:
    """Dispatch until a call claims nothing; the seconds it took and the rows each call claimed."""
    claims: list[int] = []
    with Session(engine) as session:
        started = time.perf_counter()
        while claimed := (await dispatch_async(session, now, channels, batch_size)).claimed:
            claims.append(claimed)
        return time.perf_counter() - started, claims


def verify_sent(engine: Engine, channel: ChannelName, expected: int) -> None:
    with Session(engine) as session:
        rows = session.exec(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.channel == channel)
            .group_by(col(OutboxMessage.status))
        ).all()
        error = session.exec(
            select(OutboxMessage.last_error).where(
                OutboxMessage.channel == channel, col(OutboxMessage.last_error).is_not(None)
            )
        ).first()
    counts = {str(status): int(count) for status, count in rows}
    if counts != {OutboxStatus.SENT.value: expected}:
        raise RuntimeError(f"{channel} rows by status: {counts} (a last_error: {error})")


async def raw_smtp(port: int, numbers: range) -> float:
    client = aiosmtplib.SMTP(hostname=HOST, port=port, timeout=30)
    started = time.perf_counter()
    await client.connect()
    try:
        for number in numbers:
            await client.send_message(build_email(message("email", number), FROM_ADDRESS))
    finally:
        await client.quit()
    return time.perf_counter() - started


def raw_twilio(base_url: str, numbers: range) -> float:
    client = Client(
        TWILIO.account_sid, TWILIO.auth_token, http_client=BaseUrlHttpClient(base_url, 15.0)
    )
    started = time.perf_counter()
    for number in numbers:
        sms = message("sms", number)
        callback = f"{TWILIO.status_callback_url}?{urlencode({'key': sms.idempotency_key})}"
        created = client.messages.create(
            to=sms.recipient,
            from_=TWILIO.from_number,
            body=sms_text(sms.text),
            status_callback=callback,
        )
        if not str(created.sid).startswith("SM"):
            raise RuntimeError(f"Prism answered no message SID: {created.sid!r}")
    return time.perf_counter() - started


def build_only(count: int) -> float:
    """Rendering and building alone (no network): the CPU share of every email."""
    started = time.perf_counter()
    for number in range(count):
        build_email(message("email", number), FROM_ADDRESS)
    return time.perf_counter() - started


# --- the runs and the report ----------------------------------------------------------------


@dataclass
class Side:
    """One side's wall and CPU seconds, summed over the rounds, and each round's wall."""

    wall: float = 0.0
    cpu: float = 0.0
    rounds: list[float] = field(default_factory=list)

    def add(self, wall: float, cpu: float) -> None:
        self.wall += wall
        self.cpu += cpu
        self.rounds.append(wall)


def split(count: int, rounds: int) -> list[range]:
    """``range(count)`` in ``rounds`` consecutive parts (none empty)."""
    rounds = max(1, min(rounds, count))
    edges = [count * part // rounds for part in range(rounds + 1)]
    return [range(edges[part], edges[part + 1]) for part in range(rounds)]


def measure(
    label: ChannelName,
    engine: Engine,
    now: datetime,
    channel: Channel,
    count: int,
    args: argparse.Namespace,
    limit: float,
    raw: Callable[[range], float],
    received: Callable[[], int] | None = None,
) -> tuple[Side, Side, list[int]]:
    """The dispatcher and the raw loop, round by round, taking turns to go first;
    ``received`` counts what the peer took, checked after each step."""
    dispatcher, baseline, claims = Side(), Side(), []
    for part, numbers in enumerate(split(count, args.rounds)):
        insert_rows(engine, label, numbers, now)

        def dispatched(numbers: range = numbers) -> None:
            cpu = time.process_time()
            wall, claimed = asyncio.run(drain(engine, now, {label: channel}, args.batch_size))
            dispatcher.add(wall, time.process_time() - cpu)
            claims.extend(claimed)
            if limit > 0:  # the bucket holds max(limit, 1) tokens, then refills at `limit`/s
                allowed = max(limit, 1.0) + limit * wall
                if len(numbers) > allowed * 1.01:
                    raise RuntimeError(f"{label}: {len(numbers)} sent in {wall:.2f} s > {limit}/s")

        def sent_raw(numbers: range = numbers) -> None:
            cpu = time.process_time()
            wall = raw(numbers)
            baseline.add(wall, time.process_time() - cpu)

        for step in (dispatched, sent_raw) if part % 2 == 0 else (sent_raw, dispatched):
            before = received() if received else 0
            step()
            if received and received() - before != len(numbers):
                got = received() - before
                raise RuntimeError(f"{step.__name__}: the server got {got} of {len(numbers)}")
    verify_sent(engine, label, count)
    return dispatcher, baseline, claims


def report(
    label: str,
    count: int,
    dispatcher: Side,
    baseline: Side,
    claims: list[int],
    batch_size: int,
    limit: float,
) -> None:
    """CPU: this process's, the steadier figure on a loaded machine (the SMTP server thread's
    share is in both sides)."""
    dispatcher_rate, raw_rate = count / dispatcher.wall, count / baseline.wall
    print(
        f"{label:5} dispatcher: {dispatcher_rate:8.1f} msg/s ({count} in {dispatcher.wall:.2f} s, "
        f"{len(claims)} claims of at most {max(claims)}; "
        f"CPU {dispatcher.cpu / count * 1000:.2f} ms/msg)"
    )
    print(
        f"{label:5} raw       : {raw_rate:8.1f} msg/s ({count} in {baseline.wall:.2f} s; "
        f"CPU {baseline.cpu / count * 1000:.2f} ms/msg)"
    )
    per_round = [raw / mine for mine, raw in zip(dispatcher.rounds, baseline.rounds, strict=True)]
    print(
        f"{label:5} ratio     : dispatcher/raw = {dispatcher_rate / raw_rate:.3f} "
        f"(rounds {min(per_round):.2f}-{max(per_round):.2f} over {len(per_round)}; "
        f"CPU raw/dispatcher {baseline.cpu / dispatcher.cpu:.3f})"
    )
    if max(claims) > batch_size:
        print(f"{label:5} WARNING   : a claim took {max(claims)} rows, over the batch size")
    if limit > 0:
        print(f"{label:5} limit     : {limit:g}/s held in every round")


def bench_email(engine: Engine, now: datetime, args: argparse.Namespace, limit: float) -> None:
    count = args.emails
    with smtp_server() as (handler, port):
        channel = rate_limited(
            SmtpChannel(SmtpConfig(HOST, port, from_address=FROM_ADDRESS)), limit
        )
        asyncio.run(raw_smtp(port, range(WARMUP)))  # the server, the templates, aiosmtplib

        def raw(numbers: range) -> float:
            return asyncio.run(raw_smtp(port, numbers))

        def received() -> int:
            return handler.received

        dispatcher, baseline, claims = measure(
            "email", engine, now, channel, count, args, limit, raw, received
        )
    report("email", count, dispatcher, baseline, claims, args.batch_size, limit)
    build_s = build_only(count)
    print(f"email build     : {build_s / count * 1000:.2f} ms/msg rendering and building")


def bench_sms(engine: Engine, now: datetime, args: argparse.Namespace, limit: float) -> None:
    count = args.sms
    with prism() as base_url:
        channel = rate_limited(TwilioChannel(replace(TWILIO, base_url=base_url)), limit)
        raw_twilio(
            base_url, range(PRISM_WARMUP)
        )  # or whichever side runs first meets a colder Prism

        def raw(numbers: range) -> float:
            return raw_twilio(base_url, numbers)

        dispatcher, baseline, claims = measure("sms", engine, now, channel, count, args, limit, raw)
    report("sms", count, dispatcher, baseline, claims, args.batch_size, limit)


def bench(args: argparse.Namespace) -> None:
    with fresh_database(args.database) as url:
        os.environ["REFLECTIONS_DATABASE_URL"] = url  # before the settings are first read
        get_settings.cache_clear()
        settings = get_settings()
        migrate.upgrade(url)
        engine = get_engine(url)
        now = QuietHours.from_settings().release(clock.now())  # daytime: nothing is held
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(
            f"{args.database}, batches of {args.batch_size}, chunks of "
            f"{settings.outbox_chunk_size}, {args.rounds} rounds, as of {now:%Y-%m-%d %H:%M} UTC, "
            f"rate limits {'on' if args.rate_limited else 'off'}, load average {load}"
        )
        try:
            asyncio.run(drain(engine, now, {}, args.batch_size))  # the pool, the first queries
            if args.emails:
                limit = settings.email_per_second if args.rate_limited else 0.0
                bench_email(engine, now, args, limit)
            if args.sms:
                limit = settings.sms_per_second if args.rate_limited else 0.0
                bench_sms(engine, now, args, limit)
        finally:
            engine.dispose()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (with the SMTP server thread): {peak_mib:.0f} MiB")


def _stop(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds like Ctrl-C: Prism stops, the database goes


def main() -> None:
    signal.signal(signal.SIGTERM, _stop)
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--emails", type=int, default=2000, help="0 skips email")
    parser.add_argument("--sms", type=int, default=200, help="0 skips SMS (and Prism)")
    parser.add_argument("--batch-size", type=int, default=100, help="rows per dispatch")
    parser.add_argument(
        "--rounds", type=int, default=4, help="turns of dispatcher and raw loop (1: one each)"
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--rate-limited", action="store_true", help="wrap the channels at the settings' limits"
    )
    args = parser.parse_args()
    if not 0 <= args.emails <= 100_000 or not 0 <= args.sms <= 10_000:
        parser.error("--emails must be in [0, 100000] and --sms in [0, 10000]")
    if not 1 <= args.batch_size <= 10_000:
        parser.error("--batch-size must be in [1, 10000]")
    if not 1 <= args.rounds <= 100:
        parser.error("--rounds must be in [1, 100]")
    bench(args)


if __name__ == "__main__":
    main()
