"""A real S3-compatible server for the storage tests: moto in server mode, in its own process
on a free loopback port, spoken to over HTTP by boto3 exactly as a bucket in production is."""

from __future__ import annotations

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
from typing import Any

from tests.peers import free_port

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"
REGION = "ap-southeast-1"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    process: subprocess.Popen[bytes]

    def settings(self, url: str) -> dict[str, str]:
        """The REFLECTIONS_* settings of a service whose photos live at ``url``."""
        return {
            "REFLECTIONS_STORAGE_URL": url,
            "REFLECTIONS_STORAGE_ENDPOINT_URL": self.endpoint,
            "REFLECTIONS_STORAGE_REGION": REGION,
            "REFLECTIONS_STORAGE_ACCESS_KEY_ID": ACCESS_KEY,
            "REFLECTIONS_STORAGE_SECRET_ACCESS_KEY": SECRET_KEY,
            "REFLECTIONS_STORAGE_ADDRESSING_STYLE": "path",
        }

    def client(self) -> Any:
        import boto3

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}
        )


@contextmanager
def moto_server(log: Path, timeout: float = 60) -> Iterator[S3Server]:
    """Start ``moto_server`` and wait until it answers; stop its process group afterwards."""
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with log.open("ab") as output:
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = S3Server(f"http://127.0.0.1:{port}", process)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("moto_server did not start:\n" + log.read_text()[-2000:])
            try:
                with urllib.request.urlopen(server.endpoint + "/moto-api/", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
