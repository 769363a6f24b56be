"""The console/file channel: the embedded default that needs no credentials."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

from notifications import ConsoleChannel, Message, OutcomeStatus, select_channels

MAIL = Message(
    channel="email",
    recipient="citizen@example.org",
    language="vi",
    subject="[HUE-1] Đã tiếp nhận",
    text="Mã tra cứu HUE-1.",
    html="<p>Mã tra cứu HUE-1.</p>",
    idempotency_key="k1",
)
SMS = Message(
    channel="sms", recipient="+84912345678", language="vi", text="Mã HUE-1", idempotency_key="k2"
)


def test_readable_text_to_a_stream() -> None:
    stream = io.StringIO()
    outcomes = asyncio.run(ConsoleChannel(stream=stream).send_batch([MAIL, SMS]))
    assert [o.status for o in outcomes] == [OutcomeStatus.SENT] * 2
    assert outcomes[0].provider_id == "console:k1"
    out = stream.getvalue()
    assert "email to citizen@example.org [vi]" in out
    assert "subject: [HUE-1] Đã tiếp nhận" in out
    assert "Mã HUE-1" in out


def test_json_lines_to_a_file(tmp_path: Path) -> None:
    path = tmp_path / "out" / "messages.jsonl"
    channel = ConsoleChannel(path=path, fmt="jsonl")
    asyncio.run(channel.send_batch([MAIL]))
    asyncio.run(channel.send_batch([SMS]))
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [r["idempotency_key"] for r in rows] == ["k1", "k2"]
    assert rows[0]["subject"] == "[HUE-1] Đã tiếp nhận"
    assert rows[0]["html"] == "<p>Mã tra cứu HUE-1.</p>"


def test_unwritable_file_is_transient(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    [outcome] = asyncio.run(ConsoleChannel(path=blocker / "x.jsonl").send_batch([SMS]))
    assert outcome.status is OutcomeStatus.TRANSIENT


def test_unconfigured_channels_fall_back_to_console() -> None:
    console = ConsoleChannel()
    other = ConsoleChannel(fmt="jsonl")
    assert select_channels(None, None, console) == {"email": console, "sms": console}
    assert select_channels(other, None, console)["email"] is other
