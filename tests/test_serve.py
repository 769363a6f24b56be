"""``reflections serve`` stops cleanly however it was started, its children never outlive it, and
a port left held by an earlier run is named with what to do (README "Operations").

Started here as a script or a service manager would start it: SIGINT ignored (a background job
of a non-interactive shell), in a session of its own, on free ports, in a directory of its own.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from runtime.serve import PREFECT_HOME
from tests.peers import free_port

REFLECTIONS = str(Path(__file__).parents[1] / ".venv" / "bin" / "reflections")


def ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def serving(tmp_path: Path, *arguments: str) -> Iterator[tuple["subprocess.Popen[str]", Path]]:
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [REFLECTIONS, "serve", *arguments],
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            preexec_fn=ignore_sigint,
            start_new_session=True,
        )
    try:
        yield process, log
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for_text(log: Path, text: str, process: "subprocess.Popen[str]", timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"no {text!r} in the output:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)


def servers_of(pid: int) -> set[int]:
    """Its Prefect server and its API (flow runs come and go beside them)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            serving = b"prefect server start" in command or b"runtime.asgi:app" in command
            if int(fields[1]) == pid and serving:
                found.add(int(entry.name))
    return found


def gone(pids: set[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = set()
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                alive.add(pid)
        if not alive:
            return True
        time.sleep(0.2)
    return False


def test_the_api_alone_stops_on_sigint_even_when_started_ignoring_it(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    with serving(tmp_path, "--no-flows", "--port", str(port)) as (process, log):
        wait_for_text(log, "Application startup complete", process, 60)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0


def test_with_flows_sigterm_stops_all_and_sigkill_leaves_no_orphan(
    database_url: str, tmp_path: Path
) -> None:
    ports = ["--port", str(free_port()), "--prefect-port", str(free_port())]
    with serving(tmp_path, *ports) as (process, log):
        wait_for_text(log, "serving audit-anchor/hourly", process, 180)
        children = servers_of(process.pid)
        assert len(children) == 2
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=40)
        assert gone(children, 20), log.read_text()[-2000:]
        assert "Stopping" in log.read_text()
    (tmp_path / "serve.log").rename(tmp_path / "first.log")
    with serving(tmp_path, *ports) as (process, log):  # the same ports: nothing held them
        wait_for_text(log, "serving audit-anchor/hourly", process, 180)
        children = servers_of(process.pid)
        assert len(children) == 2
        process.kill()  # SIGKILL: no chance to stop anything
        process.wait()
        assert gone(children, 20), "a child outlived the launcher"


def test_a_port_held_by_an_earlier_prefect_server_is_named_with_the_fix(
    database_url: str, tmp_path: Path
) -> None:
    prefect_port = free_port()
    stale = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, sys, time; s = socket.create_server(('127.0.0.1', int(sys.argv[1])));"
            " time.sleep(120)",
            str(prefect_port),
            "prefect",
            "server start",
        ],
        env=os.environ | {"PREFECT_HOME": str((tmp_path / PREFECT_HOME).resolve())},
    )
    try:
        time.sleep(0.5)
        started = subprocess.run(
            [REFLECTIONS, "serve", "--port", str(free_port()), "--prefect-port", str(prefect_port)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        stale.kill()
        stale.wait()
    assert started.returncode == 1
    said = " ".join(started.stdout.split())
    assert f"127.0.0.1:{prefect_port} is already in use by a Prefect server" in said
    assert f"(pid {stale.pid}" in said and f"`kill {stale.pid}`" in said
