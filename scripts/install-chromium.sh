#!/usr/bin/env bash
# Install Debian's chromium (the headless browser the report test renders report.html in) when
# it is missing. Playwright drives it through executable_path: its own browser download is not used.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-chromium: /usr/bin/chromium is missing and this is not root; install the Debian package chromium" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium >/dev/null
test -x /usr/bin/chromium
