"""The API as production runs it: uvicorn in a process of its own, on a free loopback port.

For what only a real process shows: signals, its log output, kill -9, several workers.
"""

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.peers import free_port

REPO = Path(__file__).parents[1]
JWT_SECRET = "test-signing-key-that-is-long-enough-for-hs256"


@dataclass
class Server:
    process: "subprocess.Popen[bytes]"
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """kill -9: no shutdown, no answers for requests in flight."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def start(
    log: Path,
    env: dict[str, str] | None = None,
    *,
    port: int | None = None,
    workers: int = 1,
    ready: bool = True,
) -> Server:
    """Start ``uvicorn runtime.asgi:app`` and wait for /healthz (and /readyz if ``ready``)."""
    port = port or free_port()
    command = [sys.executable, "-m", "uvicorn", "runtime.asgi:app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    environment = os.environ | {"REFLECTIONS_JWT_SECRET": JWT_SECRET} | (env or {})
    with log.open("ab") as output:
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO,
            env=environment,
            start_new_session=True,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_for(server, "/readyz" if ready else "/healthz")
    except BaseException:
        server.kill()
        raise
    return server


def wait_for(server: Server, path: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited:\n{server.output()[-3000:]}")
        try:
            with urllib.request.urlopen(server.url + path, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{path} did not answer 200 within {timeout} s:\n{server.output()[-3000:]}")


@contextmanager
def running(log: Path, env: dict[str, str] | None = None, **kwargs: object) -> Iterator[Server]:
    server = start(log, env, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()
