#!/usr/bin/env bash
# Debian's Chromium for the real-browser tests (playwright drives it; never `playwright install`).
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi
