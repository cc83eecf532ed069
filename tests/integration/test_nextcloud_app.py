"""The whole nextcloud recipe, application included, on a Debian 13 lab host.

Runs only when the Nextcloud release is in the artifact cache (put it there
on a connected machine with `anl-stack artifacts fetch nextcloud`, or
`anl-stack artifacts add` / `import`); otherwise every test here is skipped
with that reason. This build machine cannot download the release, so CI
skips this module: see the fiche, "What CI does not exercise".
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

PROJECT = Path(__file__).resolve().parent.parent.parent
MARKER = "/srv/nextcloud-data/admin/files/anl-roundtrip.txt"
SNAPSHOT_LINE = re.compile(r"^nextcloud on (\S+): snapshot ([0-9a-f]{8}) in local$", re.MULTILINE)
APP_CHECKS = ("test_status_php", "test_occ_status", "test_setup_checks_no_error", "test_config_php_private",
              "test_last_cron_recent", "test_redis_locking_configured", "test_trusted_servers_as_configured")


def release_missing() -> str | None:
    """Why the release cannot be deployed here, or None."""
    from anl_stack.artifacts import resolve_for_deploy
    from anl_stack.core.errors import AnlError

    try:
        resolve_for_deploy(["nextcloud"])
    except AnlError as error:
        return str(error)
    return None


@pytest.fixture(scope="module")
def host() -> Iterator[object]:
    reason = release_missing()
    if reason:
        pytest.skip(f"the Nextcloud release is not in the artifact cache: {reason}")
    from tests.fixtures.lab import lab_host_for

    yield from lab_host_for("na13", "13")


def anl(*args: str, timeout: int = 3600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "anl_stack", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=timeout, cwd=PROJECT)


def output(proc: subprocess.CompletedProcess[str]) -> str:
    return proc.stdout[-4000:] + proc.stderr[-4000:]


def ssh(host: object, command: str) -> str:
    proc = host.ssh(command)  # type: ignore[attr-defined]
    assert proc.returncode == 0, f"{command}: {proc.stdout}{proc.stderr}"
    return proc.stdout


def occ(host: object, *args: str) -> str:
    return ssh(host, "runuser -u www-data -- php /var/www/nextcloud/occ " + " ".join(args))


def status(host: object) -> dict:
    return json.loads(occ(host, "status", "--output=json").strip().splitlines()[-1])


@pytest.fixture(scope="module")
def full_deploy(host: object) -> subprocess.CompletedProcess[str]:
    """`deploy nextcloud --idempotence`, once: every other test needs Nextcloud installed."""
    return anl("deploy", "nextcloud", "--lab", host.name, "--idempotence", "--json")  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def deployed(host: object, full_deploy: subprocess.CompletedProcess[str]) -> object:
    """The host with the whole recipe deployed."""
    assert full_deploy.returncode == 0, output(full_deploy)
    return host


def test_full_deploy_is_idempotent(host: object, full_deploy: subprocess.CompletedProcess[str]) -> None:
    proc = full_deploy
    assert proc.returncode == 0, output(proc)
    summary = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")][-1]
    second = summary["runs"][1]
    assert second["kind"] == "idempotence"
    assert second["hosts"][host.name]["changed"] == 0, second  # type: ignore[attr-defined]
    state = status(host)
    assert state["installed"] is True and state["maintenance"] is False


def test_every_check_passes(deployed: object) -> None:
    host = deployed
    # The timer's first run comes 5 minutes after boot; run the jobs once so "last cron" is fresh.
    ssh(host, "systemctl start nextcloudcron.service")
    proc = anl("verify", "nextcloud", "--lab", host.name, "--json")  # type: ignore[attr-defined]
    data = json.loads(proc.stdout)
    failed = [f"{c['suite']}/{c['check']}: {c.get('message', '')}" for c in data["checks"]
              if c["outcome"] in ("failed", "error")]
    assert proc.returncode == 0, "\n".join(failed) or output(proc)
    app = {c["check"]: c["outcome"] for c in data["checks"] if c["check"] in APP_CHECKS}
    assert app == {name: "passed" for name in APP_CHECKS}, app


def test_settings_applied(deployed: object) -> None:
    host = deployed
    assert occ(host, "config:system:get", "default_phone_region").strip() == "FR"
    assert occ(host, "config:system:get", "default_language").strip() == "fr"
    assert occ(host, "config:system:get", "overwrite.cli.url").strip() == f"https://cloud.{host.domain}"  # type: ignore[attr-defined]
    assert occ(host, "config:app:get", "core", "backgroundjobs_mode").strip() == "cron"


def test_backup_and_restore_with_the_application(deployed: object) -> None:
    host = deployed
    ssh(host, f"printf 'before\\n' > {MARKER} && chown www-data:www-data {MARKER}")
    occ(host, "files:scan", "admin")
    fingerprint = occ(host, "config:system:get", "data-fingerprint").strip()
    proc = anl("backup", "nextcloud", "--lab", host.name)  # type: ignore[attr-defined]
    assert proc.returncode == 0, output(proc)
    match = SNAPSHOT_LINE.search(proc.stdout)
    assert match, output(proc)
    snapshot = match.group(2)
    # Maintenance mode was turned off again, and the snapshot records the installed release.
    assert status(host)["maintenance"] is False
    listing = json.loads(anl("backups", "nextcloud", "--lab", host.name, "--json").stdout)  # type: ignore[attr-defined]
    [snap] = [s for s in listing["snapshots"] if s["short_id"] == snapshot]
    assert snap["app_version"] == status(host)["versionstring"]

    ssh(host, f"rm {MARKER}")
    proc = anl("restore", "nextcloud", "--lab", host.name, "--from", snapshot)  # type: ignore[attr-defined]
    # The restore is followed by every check of the plugin, the application's included.
    assert proc.returncode == 0, output(proc)
    assert ssh(host, f"cat {MARKER}") == "before\n"
    state = status(host)
    assert state["installed"] is True and state["maintenance"] is False
    # Sync clients are told that the files changed behind their back.
    assert occ(host, "config:system:get", "data-fingerprint").strip() != fingerprint
