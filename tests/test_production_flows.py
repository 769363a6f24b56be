"""The production flow path (prefect.yaml): a worker with no checkout runs the flows from the
installed package, and a worker missing a setting fails each run at once, saying which.

The configured worker runs what a process worker runs before a flow, in a fresh interpreter in
an empty directory: Prefect's own ``run_step`` for the pull steps of prefect.yaml, then
Prefect's own ``load_flow_from_entrypoint`` for every deployment. The refusals call that pull
step here, in an empty directory without any REFLECTIONS_* setting.
"""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.deployments import SCHEDULED
from flows.preflight import WorkerNotReady, check_worker
from reflections.platform.db import reset_engines
from reflections.platform.settings import get_settings

PREFECT_YAML = Path(__file__).parents[1] / "prefect.yaml"
WORKER = """
import asyncio, sys, yaml
from prefect.deployments.steps.core import run_step
from prefect.flows import load_flow_from_entrypoint

config = yaml.safe_load(open(sys.argv[1]))
try:
    for step in config["pull"]:
        asyncio.run(run_step(step))
except Exception as error:
    print("PULL FAILED:", error)
    sys.exit(3)
for deployment in config["deployments"]:
    print("LOADED", load_flow_from_entrypoint(deployment["entrypoint"]).name)
"""


def worker(directory: Path, settings: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """No REFLECTIONS_* but ``settings``, no checkout (an empty working directory, ``-I``)."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(directory),
        "PREFECT_HOME": str(directory / ".prefect"),
        # Never asked (no template in the steps), but without it Prefect starts a server.
        "PREFECT_API_URL": "http://127.0.0.1:9/api",
        **settings,
    }
    return subprocess.run(
        [sys.executable, "-I", "-c", WORKER, str(PREFECT_YAML)],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def bare_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """This process as a worker without a checkout: an empty directory, no REFLECTIONS_*."""
    for name in [n for n in os.environ if n.startswith("REFLECTIONS_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    monkeypatch.undo()
    get_settings.cache_clear()
    reset_engines()


def test_a_worker_missing_settings_fails_before_the_flow_naming_them(bare_worker: Path) -> None:
    with pytest.raises(WorkerNotReady) as refused:
        check_worker()
    said = str(refused.value)
    assert "REFLECTIONS_DATABASE_URL is not set" in said
    assert "REFLECTIONS_PUBLIC_URL is not set" in said
    assert "every message would go to this worker's console" in said
    assert not (bare_worker / "var").exists()  # no SQLite file made on the way


def test_a_worker_on_a_database_not_ready_fails_naming_it(
    bare_worker: Path, fresh_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REFLECTIONS_DATABASE_URL", fresh_database_url)
    monkeypatch.setenv("REFLECTIONS_PUBLIC_URL", "https://phananh.hue.gov.vn")
    monkeypatch.setenv("REFLECTIONS_SMTP_HOST", "relay.hue.gov.vn")
    monkeypatch.setenv("REFLECTIONS_HOME", str(bare_worker / "missing"))
    with pytest.raises(WorkerNotReady) as refused:
        check_worker()
    said = str(refused.value)
    assert "is not migrated" in said and "reflections db upgrade" in said
    assert f"REFLECTIONS_HOME={bare_worker / 'missing'} is not a directory" in said
    assert "PUBLIC_URL" not in said and "console" not in said


def test_a_configured_worker_runs_the_flows_from_the_installed_package(
    tmp_path: Path, database_url: str
) -> None:
    settings = {
        "REFLECTIONS_DATABASE_URL": database_url,
        "REFLECTIONS_PUBLIC_URL": "https://phananh.hue.gov.vn",
        "REFLECTIONS_NOTIFICATIONS_FILE": str(tmp_path / "messages.txt"),
    }
    run = worker(tmp_path, settings)
    assert run.returncode == 0, run.stdout + run.stderr
    loaded = [line.split()[1] for line in run.stdout.splitlines() if line.startswith("LOADED")]
    assert sorted(loaded) == sorted(item.flow.name for item in SCHEDULED)
    assert [p.name for p in tmp_path.iterdir() if p.name != ".prefect"] == []  # nothing written
