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
    quiet = {
        "REFLECTIONS_JWT_SECRET": JWT_SECRET,
        # The suite's databases hold messages nobody dispatches: not a reason to be unready.
        "REFLECTIONS_OUTBOX_STUCK_SECONDS": "0",
    }
    environment = os.environ | quiet | (env or {})
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


@contextmanager
def forwarding(port: int, target: tuple[str, int]) -> Iterator[None]:
    """A TCP forwarder on ``port`` to ``target`` while the block runs: a database that comes
    back on the address the service was told, as after a restart or a network repair."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", port), reuse_port=False)
    listener.settimeout(0.2)
    stop = threading.Event()

    def pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                end.close()

    def accept() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(target)
            for pair in ((client, upstream), (upstream, client)):
                threading.Thread(target=pump, args=pair, daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)
        listener.close()


@contextmanager
def silent_listener() -> Iterator[int]:
    """A port that takes connections and never says a word: a stalled network or host."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.close()
