"""``reflections serve``: the embedded default on one machine (DESIGN.md §8).

With flows (the default) it starts, in order:

1. a Prefect server on SQLite under ``var/prefect`` (``prefect server start`` as a child
   process, ``PREFECT_HOME=var/prefect``, any ``PREFECT_*DATABASE_CONNECTION_URL`` removed),
   and waits until its ``/api/health`` answers;
2. the API (uvicorn ``runtime.asgi:app``) as a child process, and waits for ``/api/v1/health``;
3. the scheduled flows of ``flows.deployments``, served in this process by a Prefect runner
   (what ``prefect.serve`` does) against that server; each flow run is a child of the runner.

Ctrl-C or SIGTERM stops the runner (which pauses the schedules), then the API, then the server.
Without flows (``--no-flows``) it serves only the API, in this process.

Production does not use this: see ``prefect.yaml`` (Prefect server on PostgreSQL, workers).
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from sqlalchemy.engine import make_url

from reflections.platform.settings import DEFAULT_VAR_DIR, get_settings

PREFECT_HOST = "127.0.0.1"
PREFECT_PORT = 4200
PREFECT_HOME = DEFAULT_VAR_DIR / "prefect"
PREFECT_SERVER_COMMAND = (sys.executable, "-m", "prefect", "server", "start")
# Both names prefect reads for its own database; unset, it uses SQLite under PREFECT_HOME.
_PREFECT_DATABASE_VARIABLES = (
    "PREFECT_API_DATABASE_CONNECTION_URL",
    "PREFECT_SERVER_DATABASE_CONNECTION_URL",
)


_Starter = Callable[[list[str], Path | None], "subprocess.Popen[bytes]"]


class StartupFailed(RuntimeError):
    pass


def run(
    host: str | None = None,
    port: int | None = None,
    *,
    flows: bool = True,
    prefect_port: int = PREFECT_PORT,
    startup_timeout: float = 90.0,
) -> None:
    """Serve the API and, unless ``flows`` is false, Prefect and the scheduled flows."""
    settings = get_settings()
    host = host or settings.api_host
    port = port or settings.api_port
    api_url = f"http://{host}:{port}"
    if not flows:
        import uvicorn

        print(f"Web       {api_url}/  (citizens, staff log-in at /login)", flush=True)
        print(f"API       {api_url}  (docs {api_url}/docs); flows not served", flush=True)
        uvicorn.run("runtime.asgi:app", host=host, port=port)
        return

    _pin_sqlite_path()  # flow runs are child processes; they must open the same file
    prefect_url = f"http://{PREFECT_HOST}:{prefect_port}"
    for where, at_port in ((host, port), (PREFECT_HOST, prefect_port)):
        if not _port_free(where, at_port):
            raise StartupFailed(f"{where}:{at_port} is already in use")
    home = PREFECT_HOME.resolve()
    home.mkdir(parents=True, exist_ok=True)
    for variable in _PREFECT_DATABASE_VARIABLES:
        os.environ.pop(variable, None)
    os.environ |= {
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"{prefect_url}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }

    with _children() as start:
        started = time.monotonic()
        server = start(
            [*PREFECT_SERVER_COMMAND, "--host", PREFECT_HOST, "--port", str(prefect_port)],
            home / "server.log",
        )
        _wait_healthy(f"{prefect_url}/api/health", server, startup_timeout)
        prefect_ready = time.monotonic() - started
        api = start(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "runtime.asgi:app",
                "--host",
                host,
                "--port",
                str(port),
            ],
            None,
        )
        _wait_healthy(f"{api_url}/api/v1/health", api, startup_timeout)
        print(
            f"Prefect   {prefect_url}  (UI; server ready in {prefect_ready:.1f} s, "
            f"log {home / 'server.log'})\n"
            f"Web       {api_url}/  (citizens, staff log-in at /login)\n"
            f"API       {api_url}  (docs {api_url}/docs)\n"
            "Serving the scheduled flows; Ctrl-C stops everything.",
            flush=True,
        )
        _serve_flows(f"{prefect_url}/api")


def _serve_flows(api_url: str) -> None:
    """Serve the scheduled flows until Ctrl-C or SIGTERM (what ``prefect.serve`` does)."""
    import asyncio

    from prefect.runner import Runner
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.deployments import runner_deployments

    class _Runner(Runner):
        def handle_sigterm(self, *args: object, **kwargs: object) -> None:
            # prefect's own handler leaves a coroutine un-awaited; take Ctrl-C's path instead:
            # asyncio cancels the runner, which pauses its schedules on the way out.
            os.kill(os.getpid(), signal.SIGINT)

    # The environment is read when prefect is first imported; someone may have been first.
    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        runner = _Runner(name="reflections", query_seconds=5, pause_on_shutdown=True)
        for deployment in runner_deployments():
            runner.add_deployment(deployment)
            print(f"  serving {deployment.flow_name}/{deployment.name}", flush=True)
        asyncio.run(runner.start())  # Ctrl-C ends here; _children stops the rest


def _pin_sqlite_path() -> None:
    """Make a relative SQLite path absolute, so children in other directories share it."""
    url = make_url(get_settings().database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        absolute = Path(url.database).resolve()
        os.environ["REFLECTIONS_DATABASE_URL"] = url.set(database=str(absolute)).render_as_string(
            hide_password=False
        )
        get_settings.cache_clear()


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _wait_healthy(url: str, process: "subprocess.Popen[bytes]", timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StartupFailed(f"{process.args!r} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise StartupFailed(f"{url} did not answer within {timeout:.0f} s")


def _raise_exit(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextmanager
def _children() -> Iterator[_Starter]:
    """Start child processes; on the way out (normal, Ctrl-C, SIGTERM) stop them, newest first.

    Children get their own process group, so a Ctrl-C reaches only us and we stop them in order
    (the runner pauses its schedules on the server before the server goes).
    """
    processes: list[subprocess.Popen[bytes]] = []
    logs = []

    def start(command: list[str], log: Path | None) -> "subprocess.Popen[bytes]":
        output = None
        if log is not None:
            output = log.open("ab")
            logs.append(output)
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            start_new_session=True,
        )
        processes.append(process)
        return process

    previous = signal.signal(signal.SIGTERM, _raise_exit)
    try:
        yield start
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        for process in reversed(processes):
            _stop(process)
        for output in logs:
            output.close()


def _stop(process: "subprocess.Popen[bytes]", grace: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
