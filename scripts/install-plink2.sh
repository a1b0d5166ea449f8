#!/usr/bin/env bash
# Install plink2 (and plink 1.9) from Debian's packages when they are missing.
set -euo pipefail
if command -v plink2 >/dev/null 2>&1 && command -v plink1.9 >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-plink2: plink2 is missing and this is not root; install the Debian package plink2" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
apt-get -o DPkg::Lock::Timeout=600 install -y -qq plink2 plink1.9 >/dev/null
command -v plink2 >/dev/null
