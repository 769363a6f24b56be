"""``reflections serve``: the embedded default on one machine (DESIGN.md §8).

With flows (the default) it starts, in order:

1. a Prefect server on SQLite under ``var/prefect`` (``prefect server start`` as a child
   process, ``PREFECT_HOME=var/prefect``, any ``PREFECT_*DATABASE_CONNECTION_URL`` removed),
   and waits until its ``/api/health`` answers;
2. the API (uvicorn ``runtime.asgi:app``) as a child process, and waits for ``/healthz``
   (it then waits for its database itself, and says so at ``/readyz``);
3. the scheduled flows of ``flows.deployments``, served in this process by a Prefect runner
   (what ``prefect.serve`` does) against that server; each flow run is a child of the runner.

SIGINT (Ctrl-C) and SIGTERM stop it however it was started (in the background, by a script,
under systemd or in a container, where SIGINT may arrive ignored): the runner pauses its
schedules (given 10 s), then the API and the server stop; a second signal does not wait.
Children die with it even if it is killed (:mod:`runtime.processes`). A port still held
by a Prefect server or API an earlier run left behind is named, with the command that frees it.
Without flows (``--no-flows``) it serves only the API, in this process.

Production does not use this: see ``prefect.yaml`` (Prefect server on PostgreSQL, workers).
"""

import asyncio
import json
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
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from reflections.platform.settings import DEFAULT_VAR_DIR, get_settings
from runtime.processes import Child, holder_of, start_child

if TYPE_CHECKING:
    from prefect.runner import Runner

PREFECT_HOST = "127.0.0.1"
PREFECT_PORT = 4200
PREFECT_HOME = DEFAULT_VAR_DIR / "prefect"
PREFECT_SERVER_COMMAND = (sys.executable, "-m", "prefect", "server", "start")
API_COMMAND = (sys.executable, "-m", "uvicorn", "runtime.asgi:app")
# Both names prefect reads for its own database; unset, it uses SQLite under PREFECT_HOME.
_PREFECT_DATABASE_VARIABLES = (
    "PREFECT_API_DATABASE_CONNECTION_URL",
    "PREFECT_SERVER_DATABASE_CONNECTION_URL",
)


_Starter = Callable[..., "subprocess.Popen[bytes]"]


STOP_GRACE_SECONDS = 8.0
RUNNER_STOP_SECONDS = 10.0


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
    home = PREFECT_HOME.resolve()
    for where, at_port in ((host, port), (PREFECT_HOST, prefect_port)):
        if not _port_free(where, at_port):
            raise StartupFailed(busy_port_message(where, at_port, home))
    home.mkdir(parents=True, exist_ok=True)
    _stop_on_signals()
    for variable in _PREFECT_DATABASE_VARIABLES:
        os.environ.pop(variable, None)
    os.environ |= {
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"{prefect_url}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }

    stopped = True  # unless the flow runner hangs on its way out
    with _children() as start:
        started = time.monotonic()
        server = start(
            [*PREFECT_SERVER_COMMAND, "--host", PREFECT_HOST, "--port", str(prefect_port)],
            home / "server.log",
        )
        _wait_healthy(f"{prefect_url}/api/health", server, startup_timeout)
        prefect_ready = time.monotonic() - started
        api = start(
            [*API_COMMAND, "--host", host, "--port", str(port)],
            None,
            os.environ | {"REFLECTIONS_PREFECT_HEALTH_URL": f"{prefect_url}/api/health"},
        )
        _wait_healthy(f"{api_url}/healthz", api, startup_timeout)
        print(
            f"Prefect   {prefect_url}  (UI; server ready in {prefect_ready:.1f} s, "
            f"log {home / 'server.log'})\n"
            f"Web       {api_url}/  (citizens, staff log-in at /login)\n"
            f"API       {api_url}  (docs {api_url}/docs; {_readiness(api_url)})\n"
            "Serving the scheduled flows; Ctrl-C or SIGTERM stops everything.",
            flush=True,
        )
        stopped = _serve_flows(f"{prefect_url}/api")
    if not stopped:  # leave the stuck runner's threads behind; the children are stopped
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _serve_flows(api_url: str) -> bool:
    """Serve the scheduled flows until Ctrl-C or SIGTERM (what ``prefect.serve`` does); false
    if the runner did not finish stopping in time (its server may have gone first)."""
    from prefect.runner import Runner
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.deployments import runner_deployments

    class _Runner(Runner):
        def handle_sigterm(self, *args: object, **kwargs: object) -> None:
            # prefect's own handler leaves a coroutine un-awaited; take Ctrl-C's path instead.
            os.kill(os.getpid(), signal.SIGINT)

    # The environment is read when prefect is first imported; someone may have been first.
    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        runner = _Runner(name="reflections", query_seconds=5, pause_on_shutdown=True)
        for deployment in runner_deployments():
            runner.add_deployment(deployment)
            print(f"  serving {deployment.flow_name}/{deployment.name}", flush=True)
        loop = asyncio.new_event_loop()
        stopped = loop.run_until_complete(_run_until_stopped(runner))
        if stopped:
            loop.close()
        return stopped  # a stuck loop is left as it is: the process ends without it


async def _run_until_stopped(runner: "Runner") -> bool:
    """Run until a signal, then cancel the runner (it pauses its schedules on the way out) and
    give it RUNNER_STOP_SECONDS: a server stopped at the same moment (a signal to the whole
    control group, as systemd sends) must not keep the launcher waiting."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    running = asyncio.ensure_future(runner.start())
    signalled = asyncio.ensure_future(stop.wait())
    await asyncio.wait({running, signalled}, return_when=asyncio.FIRST_COMPLETED)
    print("Stopping…", flush=True)
    running.cancel()
    done, _ = await asyncio.wait({running}, timeout=RUNNER_STOP_SECONDS)
    signalled.cancel()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(signum)
    if not done:
        print(f"the flow runner did not stop within {RUNNER_STOP_SECONDS:.0f} s", flush=True)
    return bool(done)


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


def _readiness(api_url: str) -> str:
    try:
        with urllib.request.urlopen(f"{api_url}/readyz", timeout=5) as response:
            return "ready" if response.status == 200 else "not ready yet"
    except urllib.error.HTTPError as error:
        detail = json.loads(error.read() or b"{}")
        return f"not ready yet: {detail.get('starting') or detail.get('checks')}; see /readyz"
    except (urllib.error.URLError, OSError):
        return "readiness unknown; see /readyz"


def _stop_on_signals() -> None:
    """Ctrl-C's path for both signals, also when SIGINT arrives ignored (a background job)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _as_interrupt)


def _as_interrupt(_signum: int, _frame: FrameType | None) -> None:
    os.kill(os.getpid(), signal.SIGINT)


def busy_port_message(host: str, port: int, prefect_home: Path) -> str:
    """What holds the port, and what to do about it."""
    holder = holder_of(port)
    where = f"{host}:{port} is already in use"
    if holder is None:
        return f"{where}; free it, or choose another port (--port, --prefect-port)"
    ours_home = holder.environment.get("PREFECT_HOME") == str(prefect_home)
    if "prefect" in holder.command and "server start" in holder.command and ours_home:
        return (
            f"{where} by a Prefect server an earlier `reflections serve` left running "
            f"(pid {holder.pid}, PREFECT_HOME={prefect_home}). Stop it with "
            f"`kill {holder.pid}` and start again."
        )
    if "runtime.asgi:app" in holder.command:
        return (
            f"{where} by a Reflections API an earlier `reflections serve` left running "
            f"(pid {holder.pid}). Stop it with `kill {holder.pid}` and start again."
        )
    return (
        f"{where} by another program (pid {holder.pid}: {holder.command[:80]}); stop it, "
        "or choose another port (--port, --prefect-port)"
    )


@contextmanager
def _children() -> Iterator[_Starter]:
    """Start child processes; on the way out (normal, Ctrl-C, SIGTERM) stop them, newest first
    (the runner has paused its schedules on the server before the server goes)."""
    children: list[Child] = []

    def start(
        command: list[str], log: Path | None, env: dict[str, str] | None = None
    ) -> "subprocess.Popen[bytes]":
        child = start_child(command, log, env)
        children.append(child)
        return child.process

    try:
        yield start
    except KeyboardInterrupt:  # during start-up
        print("Stopping…", flush=True)
    finally:

        def hurry(_signum: int, _frame: FrameType | None) -> None:  # a second signal
            for child in children:
                child.process.kill()

        signal.signal(signal.SIGINT, hurry)
        signal.signal(signal.SIGTERM, hurry)
        for child in reversed(children):
            child.stop(grace=STOP_GRACE_SECONDS)
