"""Keystrokes and page loads to triage reflections with the keyboard alone, on any build.

Starts the build's app (this checkout, or ``--source DIR``: another checkout, e.g. an export
of main) under uvicorn on a fresh SQLite database, submits ``--count`` reflections through the
API (urban order in Phú Xuân: the routing rule names the ward's People's Committee), logs in as
the coordinator in Debian's Chromium and classifies and assigns each one using only the
keyboard, counting every key pressed and every page the browser loads:

- ``tabs``: Tab until the control wanted has the focus, then Enter; works on every build;
- ``shortcuts``: the console's keys (Tab to the list, Enter, then ``c`` and Ctrl+Enter per
  reflection); builds that have them.

    .venv/bin/python bench/triage_keyboard.py --strategy shortcuts
    git archive main | tar -x -C /tmp/main-build
    .venv/bin/python bench/triage_keyboard.py --source /tmp/main-build --strategy tabs
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

HERE = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("REFLECTIONS_CHROMIUM", "/usr/bin/chromium")
WARD, UNIT = "46.W19768", "UBND.46.W19768"
PASSWORD = "bench-password"
MAX_TABS = 600


class Walk:
    def __init__(self, page: Page) -> None:
        self.page, self.keys, self.loads = page, 0, 0
        page.on("load", lambda _: self._loaded())

    def _loaded(self) -> None:
        self.loads += 1

    def press(self, key: str) -> None:
        self.keys += 1
        self.page.keyboard.press(key)

    def tab_to(self, selector: str) -> None:
        """Press Tab until an element matching ``selector`` has the focus."""
        for _ in range(MAX_TABS):
            self.press("Tab")
            if self.page.evaluate("s => document.activeElement?.matches(s) ?? false", selector):
                return
        raise RuntimeError(f"{selector} not reached in {MAX_TABS} Tabs on {self.page.url}")

    def submit(self, key: str = "Enter") -> None:
        """A key that loads a page (a link, a form): wait for the new page."""
        with self.page.expect_navigation():
            self.press(key)


def _serve(source: Path, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = os.environ | {
        "PYTHONPATH": str(source),
        "REFLECTIONS_HOME": str(folder),
        "REFLECTIONS_DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
        "REFLECTIONS_DEMO_PASSWORD": PASSWORD,
        "REFLECTIONS_JWT_SECRET": "bench-signing-key-long-enough-for-hs256",
        "REFLECTIONS_ATTACHMENTS_DIR": str(folder / "attachments"),
    }
    python = sys.executable
    for command in (["db", "upgrade"], ["seed"]):
        subprocess.run(
            [python, "-c", "from reflections.cli import app; app()", *command], cwd=source,
            env=env, check=True, capture_output=True,
        )  # fmt: skip
    port = _free_port()
    server = subprocess.Popen(
        [python, "-m", "uvicorn", "runtime.asgi:create_app", "--factory", "--port", str(port)],
        cwd=source,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{url}/login", timeout=1)
            return server, url
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise RuntimeError("the app did not start")


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _submit(url: str, count: int) -> list[str]:
    codes = []
    for n in range(count):
        body = {
            "description": f"Lấn chiếm vỉa hè trước nhà số {n + 1}",
            "administrative_unit": WARD,
            "category_hint": "urban_order",
        }
        request = urllib.request.Request(
            f"{url}/api/v1/reflections",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request) as answer:
            codes.append(json.load(answer)["tracking_code"])
    return codes


def triage(page: Page, count: int, strategy: str) -> Walk:
    """From the queue the log-in lands on, every reflection classified and assigned."""
    walk = Walk(page)
    new_ui = page.locator("[data-skip-to]").count() > 0
    for _ in range(count):
        if new_ui:
            if walk.page.url.split("?")[0].endswith("/console/queue"):
                walk.tab_to("a[data-skip-to]")
                walk.press("Enter")  # the first row has the focus
                walk.submit()
            if strategy == "shortcuts":
                walk.press("c")
                walk.submit("Control+Enter")
            else:
                walk.tab_to('button[data-submit="classify"]')
                walk.submit()  # classified, assigned, and on to the next item
        else:  # one form per event, and back to the queue each time
            walk.tab_to("a[data-reflection-link]")
            walk.submit()
            walk.tab_to('button[data-submit="classify"]')
            walk.submit()
            walk.tab_to('button[data-submit="assign"]')
            walk.submit()
            walk.tab_to("p.back a")
            walk.submit()
    return walk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=HERE, help="the build to measure")
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--strategy", choices=("tabs", "shortcuts"), default="shortcuts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="triage-bench-") as folder:
        server, url = _serve(args.source.resolve(), Path(folder))
        try:
            codes = _submit(url, args.count)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
                page = browser.new_page(base_url=url, viewport={"width": 1366, "height": 900})
                page.goto("/login")
                page.fill("#username", "coordinator")
                page.fill("#password", PASSWORD)
                page.press("#password", "Enter")
                page.wait_for_load_state()
                started = time.perf_counter()
                walk = triage(page, args.count, args.strategy)
                seconds = time.perf_counter() - started
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
    figures = {
        "build": str(args.source),
        "strategy": args.strategy,
        "reflections": len(codes),
        "keystrokes": walk.keys,
        "page_loads": walk.loads,
        "keystrokes_per_reflection": round(walk.keys / len(codes), 1),
        "page_loads_per_reflection": round(walk.loads / len(codes), 1),
        "seconds": round(seconds, 1),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
