#!/usr/bin/env bash
# The browser tests drive Debian's Chromium through Playwright (which downloads no browser of
# its own). Installs the Debian packages when the browser is missing; needs root or sudo.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y --no-install-recommends chromium chromium-driver \
    || { $sudo apt-get update -q && $sudo apt-get install -y --no-install-recommends chromium chromium-driver; }
