#!/usr/bin/env bash
# The replica tests and the cluster drill put two API processes behind Debian's nginx, started
# by the tests themselves (own config, own prefix, a free port). Installs the Debian package
# when nginx is missing, without starting the system service; needs root or sudo.
set -euo pipefail
if [ -x /usr/sbin/nginx ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d 101: the package's postinst must not start (or fail to start) a system nginx.
policy=/usr/sbin/policy-rc.d
created=""
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod +x "$policy"
    created=1
fi
trap 'if [ -n "$created" ]; then $sudo rm -f "$policy"; fi' EXIT
$sudo apt-get install -y --no-install-recommends nginx \
    || { $sudo apt-get update -q && $sudo apt-get install -y --no-install-recommends nginx; }
