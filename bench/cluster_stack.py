"""The processes of the cluster drill (bench/cluster.py), each started on loopback at a free
port in a process group of its own and stopped at the end: the Prefect server on PostgreSQL,
Prefect process workers, API replicas (tests/servers.py) behind nginx (tests/nginx.py), the S3
server (tests/s3_peer.py), an SMTP peer that counts each Message-ID, and Prism for Twilio."""

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession

from tests.peers import free_port

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc): a process worker starts each flow run in a
    session of its own, so killing the worker's group alone would leave the run going."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def flow_runs_under(pid: int) -> set[str]:
    """The ids of the Prefect flow runs executing below ``pid`` (from their environment)."""
    found = set()
    for child in descendants(pid):
        try:
            environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        for item in environ:
            if item.startswith(b"PREFECT__FLOW_RUN_ID="):
                found.add(item.split(b"=", 1)[1].decode())
    return found


def running_runs(server: "PrefectServer", flow_name: str) -> set[str]:
    import httpx

    query = {
        "flows": {"name": {"any_": [flow_name]}},
        "flow_runs": {"state": {"type": {"any_": ["RUNNING"]}}},
    }
    answer = httpx.post(f"{server.api_url}/flow_runs/filter", json=query, timeout=30)
    return {run["id"] for run in answer.json()}


def run_state(server: "PrefectServer", run_id: str) -> str:
    import httpx

    answer = httpx.get(f"{server.api_url}/flow_runs/{run_id}", timeout=30).json()
    return f"{answer['state_type']} ({answer['state'].get('message') or answer['state_name']})"


@dataclass
class Process:
    name: str
    popen: "subprocess.Popen[bytes]"
    log: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill_host(self) -> None:
        """kill -9 of the process and everything it started, as when its machine dies."""
        for pid in [self.popen.pid, *descendants(self.popen.pid)]:
            for kill in (os.killpg, os.kill):
                with suppress(ProcessLookupError, PermissionError):
                    kill(pid, signal.SIGKILL)
        self.popen.wait()

    def stop(self) -> None:
        if not self.alive():
            return
        rest = descendants(self.popen.pid)
        os.killpg(self.popen.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=20)
        for pid in rest:  # flow runs in sessions of their own
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        if self.alive():
            self.kill_host()


def spawn(name: str, command: list[str], env: dict[str, str], folder: Path) -> Process:
    log = folder / f"{name}.log"
    with log.open("ab") as output:
        popen = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=folder,
            env=env,
            start_new_session=True,
        )
    return Process(name, popen, log)


def wait_http(url: str, process: Process, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited:\n{process.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer in {timeout} s:\n{process.log.read_text()[-3000:]}")


@dataclass
class PrefectServer:
    process: Process
    api_url: str
    home: Path

    def env(self) -> dict[str, str]:
        return {
            "PREFECT_API_URL": self.api_url,
            "PREFECT_HOME": str(self.home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }


@contextmanager
def prefect_server(database_url: str, folder: Path) -> Iterator[PrefectServer]:
    """``prefect server start`` on PostgreSQL (asyncpg), the UI off; the leases on deployment
    slots last 30 s (the least Prefect allows) so a dead worker's slot comes back quickly."""
    port = free_port()
    home = folder / "prefect-home"
    env = os.environ | {
        "PREFECT_HOME": str(home),
        "PREFECT_API_DATABASE_CONNECTION_URL": database_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_SERVER_CONCURRENCY_INITIAL_DEPLOYMENT_LEASE_DURATION": "30",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    command = [str(BIN / "prefect"), "server", "start", "--host", HOST, "--port", str(port)]
    process = spawn("prefect-server", command, env, folder)
    try:
        wait_http(f"http://{HOST}:{port}/api/health", process)
        yield PrefectServer(process, f"http://{HOST}:{port}/api", home)
    finally:
        process.stop()


def deploy(server: PrefectServer, folder: Path, heartbeat: int) -> None:
    """The operator's steps from prefect.yaml: the pool, the deployments, the crash automation."""
    env = os.environ | server.env()
    steps = [
        [str(BIN / "prefect"), "work-pool", "create", "reflections-process", "--type", "process"],
        [str(BIN / "prefect"), "--no-prompt", "deploy", "--all"],
        [sys.executable, "-m", "flows.crashes", "--heartbeat", str(heartbeat)],
    ]
    for command in steps:
        done = subprocess.run(
            command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        (folder / "deploy.log").open("a").write(done.stdout + done.stderr)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")


def worker(name: str, server: PrefectServer, settings: dict[str, str], folder: Path) -> Process:
    """``prefect worker start`` on the pool, in an empty folder (no checkout)."""
    home = folder / name
    home.mkdir(exist_ok=True)
    env = os.environ | server.env() | settings | {"PREFECT_WORKER_QUERY_SECONDS": "2"}
    command = [str(BIN / "prefect"), "worker", "start", "--pool", "reflections-process"]
    return spawn(name, [*command, "--name", name], env, home)


@dataclass
class CountingSmtp:
    """Accepts every message and counts each Message-ID: a repeat is a message sent twice."""

    ids: Counter[str] = field(default_factory=Counter)

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: SmtpSession, envelope: Envelope
    ) -> str:
        content = envelope.content
        text = content.decode(errors="replace") if isinstance(content, bytes) else str(content)
        for line in text.splitlines():
            if line.lower().startswith("message-id:"):
                self.ids[line.split(":", 1)[1].strip()] += 1
                break
            if not line:
                break
        return "250 OK"


@contextmanager
def smtp_peer() -> Iterator[tuple[CountingSmtp, int]]:
    handler, port = CountingSmtp(), free_port()
    controller = Controller(handler, hostname=HOST, port=port, server_hostname="localhost")
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()
