#!/usr/bin/env bash
# Prepare this machine for anl-stack: Debian packages for lab hosts and tests,
# then a virtualenv in .venv with the project and its test extra.
# Run as root from the project's root folder. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "bootstrap.sh installs Debian packages: run it as root (sudo bash scripts/bootstrap.sh)" >&2
  exit 2
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# One install for everything: lab hosts (debootstrap, systemd-nspawn, nftables),
# signing keys (gnupg), ACME tests (pebble), test streams (ffmpeg), browser
# checks (chromium), building the virtualenv (python3-venv).
apt-get install -y -qq --no-install-recommends \
  python3-venv python3-pip debootstrap systemd-container nftables iproute2 \
  openssh-client gnupg pebble ffmpeg chromium curl ca-certificates restic \
  fonts-dejavu-core >/dev/null

if ! command -v npm >/dev/null 2>&1; then
  apt-get install -y -qq --no-install-recommends npm >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[test]'
echo "anl-stack is ready: .venv/bin/anl-stack --help"
