"""A real browser (Debian's Chromium, driven by Playwright) against the app served by uvicorn.

Playwright downloads nothing: it launches the system's Chromium through ``executable_path``
(``REFLECTIONS_CHROMIUM``, default ``/usr/bin/chromium``; the set-up installs it). Screenshots
of every page go to ``artifacts/screenshots/`` (``REFLECTIONS_SCREENSHOTS`` overrides).
"""

import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, sync_playwright

from tests.browser.accessibility import axe_summary
from tests.peers import free_port

CHROMIUM = os.environ.get("REFLECTIONS_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("REFLECTIONS_SCREENSHOTS", "artifacts/screenshots"))


# Module scope: Playwright's event loop and the server end with the browser tests, before
# the other tests' own asyncio.run() calls.
@pytest.fixture(scope="module")
def live_url(app: FastAPI) -> Iterator[str]:
    """The test app served over HTTP on a free port, in a thread of this process."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start within 30 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"no Chromium at {CHROMIUM}: `make browser` installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


class Camera:
    """Numbered full-page screenshots, so the artefacts read in the order of the story."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.taken: list[Path] = []
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.png"):
            old.unlink()

    def shoot(self, page: Page, name: str) -> Path:
        path = self.folder / f"{len(self.taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path


@pytest.fixture(scope="session")
def camera() -> Camera:
    return Camera(SCREENSHOTS)


@pytest.fixture(scope="session", autouse=True)
def axe_report() -> Iterator[None]:
    """After the browser tests: what axe-core found on every page they checked, as JSON in
    ``artifacts/axe-summary.json`` (next to the screenshots' folder)."""
    yield
    summary = axe_summary()
    if summary["pages_checked"]:
        target = SCREENSHOTS.parent / "axe-summary.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
