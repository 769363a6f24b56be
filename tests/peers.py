"""Real protocol peers the notification tests talk to (DESIGN.md §6), shared between modules.

The Prism fixtures are session-scoped and imported into conftest.py, so one Prism serves every
test module that asks for it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]
SPEC = REPO.parent / "shared" / "twilio" / "twilio_api_v2010.json"
PRISM = REPO / "node_modules" / ".bin" / "prism"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Prism:
    """A started Prism process, perhaps still reading the spec."""

    process: subprocess.Popen[bytes]
    log: Path
    url: str

    def wait_until_listening(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while b"is listening" not in self.log.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace")[-2000:]
                pytest.fail("Prism did not start:\n" + tail)
            time.sleep(0.1)
        return self.url


def _prism_missing() -> str | None:
    if not SPEC.is_file():
        return f"Twilio's OpenAPI spec is not at {SPEC} (shared/ beside the repo)"
    if not PRISM.exists():
        return "Prism is not installed: run `make install` (it runs `npm ci`)"
    return None


@pytest.fixture(scope="session")
def prism_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prism | None]:
    """Stoplight Prism mocking Twilio's OpenAPI contract, started but not waited for (None
    if it cannot run here): it takes seconds to read the spec, so a module may ask for this
    before its other slow fixtures, to start it meanwhile."""
    if _prism_missing() is not None:
        yield None
        return
    port = free_port()
    log = tmp_path_factory.mktemp("prism") / "prism.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(PRISM), "mock", str(SPEC), "-p", str(port), "-h", "127.0.0.1"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own group, so teardown stops node and children
        )
    try:
        yield Prism(process, log, f"http://127.0.0.1:{port}")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="session")
def prism_url(prism_process: Prism | None) -> str:
    """The base URL of Prism once it listens. It validates each request against Twilio's
    contract (a bad one gets a 422 listing the violations) and answers with its examples."""
    if prism_process is None:
        pytest.skip(_prism_missing() or "Prism cannot run here")
    return prism_process.wait_until_listening()
