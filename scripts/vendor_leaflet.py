"""Copy Leaflet's built files from node_modules (``npm ci``) into ``web/static/vendor/leaflet``.

The pages serve the map themselves (no CDN): the copy is committed, so an installation from
the package (``pip install``) has it without Node; run this after changing Leaflet's version
in package.json. ``tests/web/test_map.py`` checks the copy matches the installed package.
"""

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "node_modules" / "leaflet" / "dist"
TARGET = ROOT / "web" / "static" / "vendor" / "leaflet"
FILES = ("leaflet.js", "leaflet.css")


def main() -> int:
    if not SOURCE.is_dir():
        print(f"no {SOURCE}: run `npm ci` first", file=sys.stderr)
        return 1
    (TARGET / "images").mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copyfile(SOURCE / name, TARGET / name)
    for image in (SOURCE / "images").glob("*.png"):
        shutil.copyfile(image, TARGET / "images" / image.name)
    shutil.copyfile(ROOT / "node_modules" / "leaflet" / "LICENSE", TARGET / "LICENSE")
    print(f"copied Leaflet into {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
