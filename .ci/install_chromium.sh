#!/usr/bin/env bash
# Debian's headless Chromium and its chromedriver for `make test-app` (packages chromium and
# chromium-driver: /usr/bin/chromium, /usr/bin/chromedriver). Installed with apt-get when
# missing, which needs root; nothing is downloaded at test time.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "error: make test-app needs Debian's chromium and chromium-driver:" \
        "sudo apt-get install chromium chromium-driver" >&2
    exit 2
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium chromium-driver > /dev/null
/usr/bin/chromium --version 2> /dev/null
