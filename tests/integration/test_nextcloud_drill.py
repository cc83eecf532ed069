"""Disaster recovery of the Nextcloud stack from a partner commune's server (Debian 13).

A commune inventory of lab hosts: ``nd13`` runs the Nextcloud stack
(``--tags stack``: the release cannot be downloaded here), ``np13`` is the
partner commune's server that keeps the off-host repository (the deploy
creates its chrooted SFTP account). Rows in Nextcloud's database and files
in its config, themes and data folders (seeded by the test, as in
test_nextcloud.py) are backed up to both repositories; then ``nd13`` is
destroyed, a new server ``nr13`` takes its place in hosts.yml, and
``restore --to-host nr13 --tags stack --mark 'not app'`` deploys it,
restores from the partner and runs the stack's checks. The database rows,
every file's checksum, owner and mode, and the database's owner and locale
match what was backed up.

The commune inventory checks host keys, and the module deploys with Mitogen
(``DAY_TWO_ENGINE``): the Nextcloud stack is deployed by Ansible's linear
strategy in test_nextcloud.py.

Debian 12 runs the same round trip in place (test_nextcloud.py, PostgreSQL
15); the partner account and restic 0.14 over SFTP on Debian 12 are proven
by test_backup.py. The application steps are not here (see the fiche).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.lab import DAY_TWO_ENGINE, checked_connection_vars, replace_lost_server
from tests.integration.test_nextcloud import APP_CHECKS, live_state, psql, seed

pytestmark = pytest.mark.lab

PROJECT = Path(__file__).resolve().parent.parent.parent
PRIMARY, PARTNER, NEW = "nd13", "np13", "nr13"


@dataclass
class Drill:
    inventory: Path
    primary: Any   # anl_stack.lab.LabHost
    partner: Any
    before: dict[str, object]   # live_state() when the backup was made
    locale: str
    snapshot: str               # id of the drill's snapshot in the partner's repository
    known_hosts: Path           # the commune inventory's host keys


def anl(*args: str, timeout: int = 2400) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "anl_stack", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=PROJECT)


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc


def locale_of_the_database(host: Any) -> str:
    return psql(host, "SELECT datcollate, datctype FROM pg_database WHERE datname = 'nextcloud'")


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drill]:
    from tests.fixtures.lab import _down_quietly, require_lab

    require_lab()
    from anl_stack import lab
    from anl_stack.inventory.model import create_inventory

    try:
        primary, partner = lab.up(PRIMARY, "13"), lab.up(PARTNER, "13")
        lab.link(primary.name, partner.name, 22)
        root = tmp_path_factory.mktemp("commune")
        password = root / "vault-password"  # off the servers: losing one must not lose the vault
        password.write_text(Path(primary.vault_password_file).read_text())
        password.chmod(0o600)
        inventory = root / "inventory"
        known_hosts = root / "known_hosts"
        create_inventory(
            inventory, commune="exemple", domain=primary.domain, email="dsi@exemple.fr", tls_mode="selfsigned",
            hosts={"hosts": {primary.name: checked_connection_vars(primary, known_hosts),
                             partner.name: checked_connection_vars(partner, known_hosts)},
                   "children": {"nextcloud": {"hosts": {primary.name: {}}}}},
            vault_password_file=password,
            extra_settings={"anl_lab": True, "anl_engine": DAY_TWO_ENGINE, "anl_backup_repositories": [
                {"name": "local", "path": "/var/backups/anl-stack/restic"},
                {"name": "voisine", "partner": partner.name}]})
        ok(anl("deploy", "nextcloud", "-i", str(inventory), "--tags", "stack"))
        seed(primary, [(1, "délibération 2026-01"), (2, "budget primitif")], "avant la perte du serveur")
        before = live_state(primary)
        locale = locale_of_the_database(primary)
        backed_up = ok(anl("backup", "nextcloud", "-i", str(inventory), "--label", "drill"))
        assert "in local" in backed_up.stdout and "in voisine" in backed_up.stdout, backed_up.stdout
        listed = json.loads(ok(anl("backups", "nextcloud", "-i", str(inventory), "--repo", "voisine",
                                   "--json")).stdout)
        snapshot = next(s["id"] for s in listed["snapshots"] if "drill" in s["labels"])
        yield Drill(inventory, primary, partner, before, locale, snapshot, known_hosts)
    finally:
        for name in (NEW, PARTNER, PRIMARY):
            _down_quietly(name)


@pytest.fixture(scope="module")
def restored(drill: Drill) -> tuple[Any, subprocess.CompletedProcess[str]]:
    """The server lost, a new one in its place in hosts.yml, restored from the partner."""
    new: Any = replace_lost_server(drill.inventory, "nextcloud", drill.primary, "13", NEW, drill.partner,
                                       drill.known_hosts)
    proc = anl("restore", "nextcloud", "-i", str(drill.inventory), "--from", drill.snapshot[:12],
               "--to-host", new.name, "--tags", "stack", "--mark", "not app", "--json")
    return new, proc


def summary(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    ok(proc)
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_new_server_is_restored_from_the_partner_and_its_checks_pass(
        drill: Drill, restored: tuple[Any, subprocess.CompletedProcess[str]]) -> None:
    new, proc = restored
    report = summary(proc)
    assert report["step"] == "restore" and report["host"] == new.name
    assert report["snapshot"]["id"] == drill.snapshot and report["snapshot"]["repo"] == "voisine"
    assert report["snapshot"]["host"] == PRIMARY  # made on the lost server
    failed = [c for c in report["verify"]["checks"] if c["outcome"] in ("failed", "error")]
    assert report["verify"]["exit_code"] == 0 and not failed, failed
    # The stack's checks ran and passed; the application's were left out by --mark ("not run").
    outcomes = {c["check"]: c["outcome"] for c in report["verify"]["checks"] if c["suite"] == "nextcloud"}
    app = {name: o for name, o in outcomes.items() if name.startswith(tuple(APP_CHECKS))}
    stack = {name: o for name, o in outcomes.items() if name not in app}
    assert len(stack) >= 12 and set(stack.values()) == {"passed"}, stack
    assert app and set(app.values()) == {"not run"}, app


def test_every_row_and_file_is_back_with_its_owner(
        drill: Drill, restored: tuple[Any, subprocess.CompletedProcess[str]]) -> None:
    new, proc = restored
    summary(proc)
    assert live_state(new) == drill.before
    assert locale_of_the_database(new) == drill.locale
    assert psql(new, "SELECT pg_catalog.pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'nextcloud'"
                ).strip() == "nextcloud"
    assert psql(new, "SELECT tableowner FROM pg_tables WHERE tablename = 'anl_roundtrip'").strip() == "nextcloud"
