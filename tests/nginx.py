"""Debian's nginx in front of API replicas, as a deployment runs it: round robin, a replica
that refuses connections taken out for a moment, requests it never received passed to the next.

Started with its own prefix, config and logs in a temporary folder, on a free loopback port,
in a process group of its own; `make nginx` (part of `make test`) installs the package.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.peers import free_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

CONFIG = """
worker_processes 1;
{user}
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
daemon off;
events {{ worker_connections 1024; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    client_max_body_size 32m;

    upstream api {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://api;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            # A replica that is down: try the next. nginx never resends a POST a replica
            # received (non_idempotent is not set); Idempotency-Key covers client retries.
            proxy_next_upstream error timeout http_502 http_503;
            proxy_next_upstream_tries 2;
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""


@dataclass(frozen=True)
class Balancer:
    url: str
    process: subprocess.Popen[bytes]
    prefix: Path

    def errors(self) -> str:
        log = self.prefix / "error.log"
        return log.read_text(errors="replace") if log.exists() else ""


def available() -> bool:
    return os.access(NGINX, os.X_OK)


@contextmanager
def balancing(upstreams: list[str], prefix: Path, timeout: float = 20) -> Iterator[Balancer]:
    """nginx on a free port, round robin over ``upstreams`` (``http://127.0.0.1:PORT``)."""
    prefix.mkdir(parents=True, exist_ok=True)
    port = free_port()
    servers = "\n".join(
        f"        server {url.removeprefix('http://')} max_fails=1 fail_timeout=2s;"
        for url in upstreams
    )
    user = "user root;" if os.geteuid() == 0 else ""  # workers must reach the temp folders
    config = prefix / "nginx.conf"
    config.write_text(CONFIG.format(prefix=prefix, port=port, servers=servers, user=user))
    command = [NGINX, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(config)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=(prefix / "stderr.log").open("ab"),
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    balancer = Balancer(f"http://127.0.0.1:{port}", process, prefix)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                stderr = (prefix / "stderr.log").read_text(errors="replace")
                raise RuntimeError(f"nginx did not start:\n{stderr}\n{balancer.errors()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield balancer
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGQUIT)  # graceful: finish requests in flight
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
