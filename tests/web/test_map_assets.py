"""The map is served by us (issue 16): Leaflet's files under /static/vendor/leaflet, the same
as the npm package pinned in package.json; the submit page loads nothing from elsewhere."""

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "web" / "static" / "vendor" / "leaflet"
PACKAGE = ROOT / "node_modules" / "leaflet"


def test_leaflet_is_served_from_our_static_files(browser: TestClient) -> None:
    script = browser.get("/static/vendor/leaflet/leaflet.js")
    assert script.status_code == 200 and "Leaflet" in script.text[:400]
    assert browser.get("/static/vendor/leaflet/leaflet.css").status_code == 200
    assert browser.get("/static/vendor/leaflet/images/marker-icon.png").status_code == 200
    page = browser.get("/submit").text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert not [s for s in sources if s.startswith(("http:", "https:", "//"))]
    assert 'data-tiles="https://tile.openstreetmap.org/{z}/{x}/{y}.png"' in page


def test_the_vendored_copy_is_the_pinned_package() -> None:
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]["leaflet"]
    assert f"Leaflet {pinned}" in (VENDOR / "leaflet.js").read_text()[:200]
    if not PACKAGE.is_dir():
        pytest.skip("node_modules/leaflet is not installed (npm ci)")
    for name in ("leaflet.js", "leaflet.css"):
        assert (VENDOR / name).read_bytes() == (PACKAGE / "dist" / name).read_bytes(), (
            f"{name} differs from node_modules: run scripts/vendor_leaflet.py"
        )
