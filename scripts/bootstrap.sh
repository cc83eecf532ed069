#!/usr/bin/env bash
# Prepare this machine for anl-stack: Debian packages for lab hosts and tests,
# then a virtualenv in .venv with the project and its test extra.
# Run as root from the project's root folder. Safe to run again.
#
# Another apt run (unattended-upgrades, a colleague's install) may hold apt's
# locks: bootstrap waits for it, up to ANL_STACK_APT_LOCK_TIMEOUT seconds
# (default 900), and says so. pip's output goes to a log file, shown only when
# pip fails.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd -P)

if [ "$(id -u)" -ne 0 ]; then
  echo "bootstrap.sh installs Debian packages: run it as root (sudo bash scripts/bootstrap.sh)" >&2
  exit 2
fi

LOCK_TIMEOUT=${ANL_STACK_APT_LOCK_TIMEOUT:-900}
if ! [[ $LOCK_TIMEOUT =~ ^[0-9]+$ ]]; then
  echo "ANL_STACK_APT_LOCK_TIMEOUT=$LOCK_TIMEOUT: expected a number of seconds" >&2
  exit 2
fi
LISTS_LOCK=/var/lib/apt/lists/lock
FRONTEND_LOCK=/var/lib/dpkg/lock-frontend
# One install for everything: lab hosts (debootstrap, systemd-nspawn, nftables),
# signing keys (gnupg), ACME tests (pebble), test streams (ffmpeg), browser
# checks (chromium), building the virtualenv (python3-venv).
PACKAGES=(python3-venv python3-pip debootstrap systemd-container nftables iproute2
  openssh-client gnupg pebble ffmpeg chromium curl ca-certificates restic fonts-dejavu-core)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)
export DEBIAN_FRONTEND=noninteractive
STARTED=$SECONDS

# The process holding an fcntl lock on FILE, as apt takes them (read from
# /proc/locks, which names locks by device and inode); nothing when free.
lock_holder() {
  local dev ino id
  [ -e "$1" ] || return 0
  read -r dev ino < <(stat -L -c '%d %i' "$1")
  id=$(printf '%02x:%02x:%d' $(((dev >> 8) & 0xfff)) $(((dev & 0xff) | ((dev >> 12) & 0xfff00))) "$ino")
  awk -v id="$id" '$2 != "->" && $6 == id { print $5; exit }' /proc/locks
}

# Say that FILE is held, by whom, and how long apt will wait; false when it is free.
say_waiting() {
  local pid
  pid=$(lock_holder "$1")
  [ -n "$pid" ] || return 1
  echo "waiting for the apt lock $1: another apt or dpkg run holds it" \
    "(process $pid, $(cat "/proc/$pid/comm" 2>/dev/null || echo gone)); waiting up to $((LOCK_TIMEOUT / 60)) min"
}

# apt-get update does not wait for its lock (DPkg::Lock::Timeout covers dpkg's
# locks only, apt 2.6): wait here while another run holds it, then update.
apt_update() {
  local deadline=$((SECONDS + LOCK_TIMEOUT)) since=$SECONDS said=""
  while :; do
    if [ -n "$(lock_holder "$LISTS_LOCK")" ]; then
      [ -n "$said" ] || { say_waiting "$LISTS_LOCK" || true; said=1; }
      if [ "$SECONDS" -ge "$deadline" ]; then
        echo "$LISTS_LOCK is still held after $((LOCK_TIMEOUT / 60)) min: try again later" >&2
        return 1
      fi
      sleep 2
      continue
    fi
    if apt-get -qq -o DPkg::Lock::Timeout="$LOCK_TIMEOUT" update; then
      [ -z "$said" ] || echo "the apt lock was released after $((SECONDS - since)) s"
      return 0
    fi
    # Another run took the lock between the check and apt-get: wait again. Any other failure is final.
    [ -n "$(lock_holder "$LISTS_LOCK")" ] && [ "$SECONDS" -lt "$deadline" ] || return 1
  done
}

missing=()
for package in "${PACKAGES[@]}"; do
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null)" = installed ] || missing+=("$package")
done

echo "Debian packages: updating the package lists"
apt_update
echo "Debian packages: ${#PACKAGES[@]} wanted, ${#missing[@]} to install"
since=$SECONDS
waited=""
say_waiting "$FRONTEND_LOCK" && waited=1
apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout="$LOCK_TIMEOUT" "${PACKAGES[@]}" >/dev/null
[ -z "$waited" ] || echo "the apt lock was released after $((SECONDS - since)) s"

# The project's own virtualenv. A .venv that holds anl-stack from another
# checkout (a link shared by git worktrees) is left alone: pip would point it here.
# -I: the checkout's own anl_stack.egg-info (in the current folder) must not answer.
venv_project() {
  .venv/bin/python -I - 2>/dev/null <<'EOF' || true
import importlib.metadata as metadata, json, urllib.parse
try:
    text = metadata.distribution("anl-stack").read_text("direct_url.json")
except metadata.PackageNotFoundError:
    text = None
if text:
    print(urllib.parse.unquote(urllib.parse.urlparse(json.loads(text)["url"]).path))
EOF
}

if [ ! -x .venv/bin/python ]; then
  echo "virtualenv: creating .venv"
  python3 -m venv .venv
fi
installed_from=$(venv_project)
# What the last successful pip run installed from: pip runs again only when it changed,
# so a second bootstrap neither reinstalls anl-stack under running tests nor needs the index.
stamp=.venv/.anl-stack-bootstrap
wanted="$(sha256sum pyproject.toml | cut -d' ' -f1) $ROOT"
if [ -n "$installed_from" ] && [ "$(cd "$installed_from" 2>/dev/null && pwd -P)" != "$ROOT" ]; then
  venv_note="left as it is: it holds anl-stack from $installed_from (bootstrap that checkout, or remove .venv)"
  echo "virtualenv: $venv_note"
elif [ -n "$installed_from" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ]; then
  venv_note="$ROOT/.venv, up to date (pyproject.toml unchanged since the last bootstrap; delete $stamp to reinstall)"
  echo "virtualenv: up to date"
else
  log=$(mktemp -t anl-stack-bootstrap-pip.XXXXXX)
  pip_quietly() {
    if ! .venv/bin/pip --disable-pip-version-check "$@" >>"$log" 2>&1; then
      echo "pip $* failed; the end of its log ($log):" >&2
      tail -n 40 "$log" >&2
      exit 1
    fi
  }
  echo "virtualenv: installing anl-stack and its test tools into .venv (pip's output: $log)"
  pip_quietly install --upgrade pip
  pip_quietly install -e '.[test]'
  rm -f "$log"
  echo "$wanted" >"$stamp"
  venv_note="$ROOT/.venv ($(.venv/bin/anl-stack --version | sed 's/, version / /') and its test tools)"
fi

echo
echo "anl-stack is ready ($((SECONDS - STARTED)) s)."
if [ "${#missing[@]}" -eq 0 ]; then
  echo "  Debian packages: all ${#PACKAGES[@]} were already installed"
else
  echo "  Debian packages: installed ${missing[*]}"
fi
echo "  virtualenv:      $venv_note"
echo "  run it:          $ROOT/.venv/bin/anl-stack --help"
echo "  on your PATH:    export PATH=\"$ROOT/.venv/bin:\$PATH\"   (add it to ~/.profile to keep it)"
echo "  with sudo:       sudo $ROOT/.venv/bin/anl-stack lab list   (sudo resets PATH)"
echo "  the tests:       .venv/bin/python -m pytest"
