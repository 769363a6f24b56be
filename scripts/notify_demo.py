"""The notifications demo with real peers: an aiosmtpd SMTP server and Stoplight Prism serving
Twilio's contract. Runs the lifecycle tour on a fresh SQLite database under var/notify-demo/
and delivers every message; emails land in var/notify-demo/mail/, SMS are shown as sent.

    make demo-notify            # or: .venv/bin/python scripts/notify_demo.py
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO.parent / "shared" / "twilio" / "twilio_api_v2010.json"
PRISM = REPO / "node_modules" / ".bin" / "prism"
OUT = REPO / "var" / "notify-demo"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Mailbox:
    """Saves each message as an .eml file and prints who got what."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.count = folder, 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.count += 1
        (self.folder / f"{self.count:03d}.eml").write_bytes(envelope.content)
        mail = message_from_bytes(envelope.content, policy=policy.default)
        print(f"  email to {', '.join(envelope.rcpt_tos)}: {mail['Subject']}")
        return "250 OK"


def start_prism(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(PRISM), "mock", str(SPEC), "-p", str(port), "-h", "127.0.0.1"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while b"is listening" not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            sys.exit("Prism did not start:\n" + log.read_text(errors="replace")[-2000:])
        time.sleep(0.2)
    return process, f"http://127.0.0.1:{port}"


def main() -> None:
    if not (SPEC.is_file() and PRISM.exists()):
        sys.exit(f"needs {SPEC} and Prism (make install runs npm ci)")
    shutil.rmtree(OUT, ignore_errors=True)
    (OUT / "mail").mkdir(parents=True)
    mailbox = Mailbox(OUT / "mail")
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    prism, prism_url = start_prism(OUT / "prism.log")
    env = {
        **os.environ,
        "REFLECTIONS_DATABASE_URL": f"sqlite:///{OUT / 'reflections.db'}",
        "REFLECTIONS_DEMO_PASSWORD": os.environ.get("REFLECTIONS_DEMO_PASSWORD", "demo-password"),
        "REFLECTIONS_SMTP_HOST": "127.0.0.1",
        "REFLECTIONS_SMTP_PORT": str(smtp.port),
        "REFLECTIONS_TWILIO_ACCOUNT_SID": "AC" + "0123456789abcdef" * 2,
        "REFLECTIONS_TWILIO_AUTH_TOKEN": "demo-token",
        "REFLECTIONS_TWILIO_FROM_NUMBER": "+15005550006",
        "REFLECTIONS_TWILIO_BASE_URL": prism_url,
        "REFLECTIONS_QUIET_HOURS_START": "00:00",  # a demo at night shows the SMS too
        "REFLECTIONS_QUIET_HOURS_END": "00:00",
    }
    reflections = str(BIN / "reflections")
    try:
        for args in (["db", "upgrade"], ["seed"], ["demo", "--count", "0", "--tour", "--deliver"]):
            subprocess.run([reflections, *args], env=env, check=True)
        subprocess.run(
            [reflections, "outbox", "list", "--status", "sent", "--limit", "100"],
            env=env,
            check=True,
        )
    finally:
        os.killpg(prism.pid, signal.SIGTERM)
        smtp.stop()
    print(f"{mailbox.count} emails in {OUT / 'mail'}; Prism's log: {OUT / 'prism.log'}")


if __name__ == "__main__":
    main()
