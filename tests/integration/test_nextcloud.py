"""The nextcloud recipe on real lab hosts (Debian 13 and 12).

One host per release, whose history module fixtures make in order: the
refusals that come before any change (no release in the cache; Nextcloud 35
on Debian 12), then `deploy nextcloud --tags stack` with --idempotence
(second run changed=0). Each test asks for the step it checks, so it holds
on its own: the refusals, the deploy, `verify nextcloud --mark "not app"`,
and a backup/restore round-trip on the database and the config folder.

What is not here, and why: the application steps (tag `app`) need the
Nextcloud release, which this build machine cannot download; they run
when the release is in the artifact cache (see the fiche, "What CI does not
exercise"). Nothing here fakes Nextcloud.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.lab

PROJECT = Path(__file__).resolve().parent.parent.parent
BACKUPS = "/var/backups/anl-stack/nextcloud"
TABLE = "anl_roundtrip"
CONFIG_PROBE = "/var/www/nextcloud/config/anl-roundtrip.txt"


@pytest.fixture(scope="module", params=["13", "12"])
def host(request: pytest.FixtureRequest) -> Iterator[object]:
    from tests.fixtures.lab import lab_host_for

    yield from lab_host_for(f"n{request.param}", request.param)


def anl(*args: str, env: dict[str, str] | None = None, timeout: int = 2400) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "anl_stack", *args], capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})), timeout=timeout, cwd=PROJECT)


def output(proc: subprocess.CompletedProcess[str]) -> str:
    return proc.stdout[-4000:] + proc.stderr[-4000:]


def json_summary(proc: subprocess.CompletedProcess[str]) -> dict:
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    summaries = [line for line in lines if line.get("summary")]
    assert summaries, output(proc)
    return summaries[-1]


def settings_file(host: object) -> Path:
    from anl_stack.inventory.model import resolve_inventory_path

    return resolve_inventory_path(host.inventory).settings  # type: ignore[attr-defined]


def ssh(host: object, command: str) -> str:
    proc = host.ssh(command)  # type: ignore[attr-defined]
    assert proc.returncode == 0, f"{command}: {proc.stdout}{proc.stderr}"
    return proc.stdout


def psql(host: object, sql: str) -> str:
    return ssh(host, f"runuser -u postgres -- env PGCLIENTENCODING=UTF8 psql -d nextcloud -v ON_ERROR_STOP=1 -tA -c \"{sql}\"")


# --- the host's history: refusals on the host as made, then the stack -----------------------
#
# Module fixtures make it in order; each test asks for the step it checks, so it holds on its own.

@dataclass
class Refusals:
    without_release: subprocess.CompletedProcess[str]
    #: Nextcloud 35 asked for on Debian 12 (None on Debian 13, which runs it)
    version_35: subprocess.CompletedProcess[str] | None
    #: `test -e /etc/nginx` on the host after both: no playbook touched it
    nginx_after: int


@pytest.fixture(scope="module")
def refusals(host: object, tmp_path_factory: pytest.TempPathFactory) -> Refusals:
    """The deploys refused before any change, tried on the host as it was made."""
    empty_cache = tmp_path_factory.mktemp("artifacts")
    without_release = anl("deploy", "nextcloud", "--lab", host.name, "--debian", host.release,  # type: ignore[attr-defined]
                          env={"ANL_STACK_ARTIFACTS_DIR": str(empty_cache)})
    version_35 = None
    if host.release == "12":  # type: ignore[attr-defined]
        file = settings_file(host)
        original = file.read_text()
        data = yaml.safe_load(original) or {}
        data["nextcloud_version"] = "35.0.2"
        file.write_text(yaml.safe_dump(data, sort_keys=False))
        try:
            version_35 = anl("deploy", "nextcloud", "--lab", host.name, "--debian", "12",  # type: ignore[attr-defined]
                             "--tags", "stack", "--json")
        finally:
            file.write_text(original)
    return Refusals(without_release, version_35, host.ssh("test -e /etc/nginx").returncode)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def stack_deploy(host: object, refusals: Refusals) -> subprocess.CompletedProcess[str]:
    """`deploy nextcloud --tags stack --idempotence`, after the refusals."""
    return anl("deploy", "nextcloud", "--lab", host.name, "--debian", host.release,  # type: ignore[attr-defined]
               "--tags", "stack", "--idempotence", "--json")


@pytest.fixture(scope="module")
def stack(host: object, stack_deploy: subprocess.CompletedProcess[str]) -> object:
    """The host with the nextcloud stack deployed."""
    assert stack_deploy.returncode == 0, output(stack_deploy)
    return host


def test_deploy_refused_without_the_release(refusals: Refusals) -> None:
    proc = refusals.without_release
    assert proc.returncode == 2, output(proc)
    assert "not in the artifact cache" in proc.stderr, output(proc)
    for how in ("anl-stack artifacts fetch nextcloud", "anl-stack artifacts add nextcloud",
                "anl-stack artifacts import"):
        assert how in proc.stderr, f"the refusal does not name `{how}`: {proc.stderr}"
    # Refused before the run: no playbook touched the host.
    assert refusals.nginx_after != 0


def test_nextcloud_35_refused_on_debian_12(host: object, refusals: Refusals) -> None:
    if host.release != "12":  # type: ignore[attr-defined]
        pytest.skip("n/a: Debian 13 runs Nextcloud 35")
    proc = refusals.version_35
    assert proc is not None
    assert proc.returncode == 2, output(proc)
    error = json.loads(proc.stdout.strip().splitlines()[-1])
    [record] = error["errors"]
    assert record["key"] == "nextcloud_version"
    assert "35.0.2 cannot run on debian-12" in record["message"]
    assert record["expected"] == "a version matching >=33,<35"
    assert refusals.nginx_after != 0


# --- the stack, for real ----------------------------------------------------------------

def test_stack_deploy_is_idempotent(host: object, stack_deploy: subprocess.CompletedProcess[str]) -> None:
    proc = stack_deploy
    assert proc.returncode == 0, output(proc)
    summary = json_summary(proc)
    first, second = summary["runs"]
    assert first["kind"] == "deploy" and first["errors"] == []
    assert second["kind"] == "idempotence"
    assert second["hosts"][host.name]["changed"] == 0, second  # type: ignore[attr-defined]
    assert second["hosts"][host.name]["failed"] == 0  # type: ignore[attr-defined]


def test_stack_checks_pass(stack: object) -> None:
    host = stack
    proc = anl("verify", "nextcloud", "--lab", host.name, "--mark", "not app", "--json")  # type: ignore[attr-defined]
    data = json.loads(proc.stdout)
    failed = [f"{c['suite']}/{c['check']}: {c.get('message', '')}" for c in data["checks"]
              if c["outcome"] in ("failed", "error")]
    assert proc.returncode == 0, "\n".join(failed) or output(proc)
    outcomes = {c["check"]: c["outcome"] for c in data["checks"] if c["suite"] == "nextcloud"}
    # The stack checks ran and passed; the application checks were left out, not passed.
    stack = [name for name in outcomes if not name.startswith(("test_status_php", "test_occ_status",
             "test_setup_checks", "test_config_php", "test_last_cron", "test_redis_locking"))]
    assert len(stack) >= 12, outcomes
    assert all(outcomes[name] == "passed" for name in stack), outcomes
    assert outcomes["test_status_php"] != "passed"


# --- backup and restore -------------------------------------------------------------------

def test_backup_restore_round_trip(stack: object) -> None:
    host = stack
    rows = [(1, "délibération 2026-01"), (2, "budget primitif"), (3, "conseil du 12 mars")]
    values = ", ".join(f"({n}, '{text}')" for n, text in rows)
    psql(host, f"DROP TABLE IF EXISTS {TABLE}; CREATE TABLE {TABLE} (id int PRIMARY KEY, label text); "
               f"INSERT INTO {TABLE} VALUES {values}")
    ssh(host, f"install -d -o www-data -g www-data -m 0750 /var/www/nextcloud/config && "
              f"printf 'probe before backup\\n' > {CONFIG_PROBE} && chown www-data:www-data {CONFIG_PROBE}")

    proc = anl("backup", "nextcloud", "--lab", host.name)  # type: ignore[attr-defined]
    assert proc.returncode == 0, output(proc)
    name = re.search(r"backup (\S+) written", proc.stdout).group(1)  # type: ignore[union-attr]
    folder = f"{BACKUPS}/{name}"
    listing = ssh(host, f"stat -c '%a %U' {folder} && cat {folder}/SHA256SUMS")
    assert listing.startswith("700 root")
    for part in ("database.pgdump", "config.tar.gz", "backup.json"):
        assert part in listing, listing
    ssh(host, f"cd {folder} && sha256sum --check --strict SHA256SUMS")

    # Lose the data, then restore it.
    psql(host, f"DROP TABLE {TABLE}")
    ssh(host, f"printf 'changed after backup\\n' > {CONFIG_PROBE}")
    proc = anl("restore", "nextcloud", "--lab", host.name, "--from", name)  # type: ignore[attr-defined]
    assert proc.returncode == 0, output(proc)

    restored = psql(host, f"SELECT id, label FROM {TABLE} ORDER BY id").strip().splitlines()
    assert restored == [f"{n}|{text}" for n, text in rows]
    assert ssh(host, f"cat {CONFIG_PROBE}") == "probe before backup\n"
    assert ssh(host, f"stat -c '%U' {CONFIG_PROBE}").strip() == "www-data"
    # The database still belongs to the Nextcloud user.
    assert psql(host, "SELECT pg_catalog.pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'nextcloud'"
                ).strip() == "nextcloud"


def test_restore_refuses_a_changed_backup(stack: object) -> None:
    host = stack
    psql(host, f"CREATE TABLE IF NOT EXISTS {TABLE} (id int PRIMARY KEY, label text); DELETE FROM {TABLE}; "
               f"INSERT INTO {TABLE} VALUES (7, 'kept')")
    proc = anl("backup", "nextcloud", "--lab", host.name, "--name", "tampered")  # type: ignore[attr-defined]
    assert proc.returncode == 0, output(proc)
    ssh(host, f"printf 'x' >> {BACKUPS}/tampered/database.pgdump")
    psql(host, f"INSERT INTO {TABLE} VALUES (8, 'after backup')")

    proc = anl("restore", "nextcloud", "--lab", host.name, "--from", "tampered")  # type: ignore[attr-defined]
    assert proc.returncode == 1, output(proc)
    assert "checksum" in proc.stderr and "database.pgdump" in proc.stderr, output(proc)
    # Nothing was restored: the row written after the backup is still there.
    assert psql(host, f"SELECT count(*) FROM {TABLE}").strip() == "2"


def test_restore_of_an_unknown_backup_fails_clearly(stack: object) -> None:
    host = stack
    proc = anl("restore", "nextcloud", "--lab", host.name, "--from", "19990101-000000")  # type: ignore[attr-defined]
    assert proc.returncode == 1, output(proc)
    assert "No backup 19990101-000000" in proc.stderr, output(proc)
