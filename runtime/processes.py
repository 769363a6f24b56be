"""Child processes of ``reflections serve`` that never outlive it, and who holds a busy port.

Each child gets a parent-death signal (Linux ``prctl(PR_SET_PDEATHSIG)``): if the launcher dies,
even by SIGKILL, the kernel sends the child SIGTERM, so no orphan keeps :4200 or :8000. Children
run in a process group of their own, so that a Ctrl-C on the terminal, or ``kill -- -PGID`` of
the launcher's group, reaches the launcher alone, which stops them in order: the flow runner
pauses its schedules on the Prefect server before the server stops (signalled all at once, as
a terminal would, the server went first and the runner hung retrying it).
"""

import ctypes
import os
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PR_SET_PDEATHSIG = 1


def die_with(parent_pid: int) -> Callable[[], None]:
    """A ``preexec_fn``: ask for SIGTERM when the parent dies (or now, if it already has)."""

    def arrange() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:  # died between fork and prctl
            os.kill(os.getpid(), signal.SIGTERM)

    return arrange


def start_child(command: list[str], log: Path | None, env: dict[str, str] | None = None) -> "Child":
    output = log.open("ab") if log is not None else None
    process = subprocess.Popen(
        command,
        stdout=output,
        stderr=subprocess.STDOUT if output else None,
        stdin=subprocess.DEVNULL,
        env=env,
        process_group=0,
        preexec_fn=die_with(os.getpid()),  # started before the flow runner's threads
    )
    return Child(process, output)


@dataclass
class Child:
    process: "subprocess.Popen[bytes]"
    output: object | None

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        close = getattr(self.output, "close", None)
        if close is not None:
            close()


@dataclass(frozen=True)
class Holder:
    pid: int
    command: str
    environment: dict[str, str]


def holder_of(port: int) -> Holder | None:
    """The process listening on ``port`` (Linux, processes of this user), if it can be found."""
    inodes = _listening_inodes(port)
    if not inodes:
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            links = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
        except OSError:
            continue
        if any(f"socket:[{inode}]" in links for inode in inodes):
            return _describe(int(entry.name))
    return None


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(inode)
    return inodes


def _describe(pid: int) -> Holder | None:
    try:
        command = (Path(f"/proc/{pid}/cmdline").read_bytes()).replace(b"\0", b" ").decode()
        raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    environment = dict(item.decode(errors="replace").split("=", 1) for item in raw if b"=" in item)
    return Holder(pid, command.strip(), environment)
