#!/bin/sh
# Make sure Debian's chromium is installed: the report's tests render it headless.
# Idempotent and quick when it is already there; installs with apt-get as root, or via sudo.
set -eu
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "ensure-chromium: chromium is missing and this is not root; install Debian's chromium" >&2
    exit 1
  fi
fi
echo "ensure-chromium: installing Debian's chromium (headless report tests)" >&2
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium
command -v chromium >/dev/null 2>&1
