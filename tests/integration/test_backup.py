"""Backups off-host and disaster recovery, end to end on lab hosts (Debian 13 and 12).

Per release, a commune inventory of two lab hosts: ``bkNN`` runs streaming,
``bpNN`` is the partner commune's server that keeps its off-host repository
(the deploy creates the chrooted SFTP account there). The tests run in this
order on that one drill (module fixtures):

- the deploy creates the partner account (SFTP only, chrooted, key only) and
  the timers (idempotent on Debian 13: the second run changes nothing);
- a real recording (ffmpeg on the host) and other files are backed up to both
  repositories; ``backups`` lists them;
- an unreachable partner fails the backup with a clear message, the on-host
  repository still gets its snapshot, and the next backup works;
- Ctrl-C during a backup: exit 130, the repositories check clean, the next
  backup works;
- a snapshot made by a newer application is refused (exit 2), nothing changed;
- the server is destroyed; a new one takes its place in hosts.yml; ``restore
  --to-host`` deploys it, restores from the partner and runs the checks;
  every file's checksum matches and the archive page lists the recording.

Debian 12 differs in restic (0.14 instead of 0.18) and OpenSSH (9.2), not in
the roles or the Python side, so its drill keeps what those touch: the
partner's account, both repositories, an unreachable partner, and a restore
from the partner (in place: the new-server path is the same Ansible and
Python on both). Ctrl-C with restic 0.14 is proven on the controller
(Debian 12) by test_backup_tool.py.
"""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.lab import ENGINE_BY_RELEASE, after_first_deploy, checked_connection_vars, replace_lost_server

pytestmark = pytest.mark.lab

PROJECT = Path(__file__).resolve().parent.parent.parent
ARCHIVE = "/var/lib/anl-streaming/archive"
KEYS = "/etc/anl-streaming/keys"
RECORDING = "2026-11-30/conseil-2026-11-30T18-30-00.mp4"
OLDER = "2026-10-12/conseil-2026-10-12T18-30-00.mp4"
LOCK = "/run/lock/anl-backup-streaming.lock"


@dataclass
class Drill:
    release: str
    inventory: Path
    password: Path
    primary: Any        # anl_stack.lab.LabHost
    partner: Any
    domain: str
    snapshots: dict[str, str]
    known_hosts: Path   # the commune inventory's host keys


def anl(*args: str, timeout: int = 2400) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "anl_stack", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=PROJECT)


def output(proc: subprocess.CompletedProcess[str]) -> str:
    return proc.stdout[-4000:] + proc.stderr[-4000:]


def ssh(host: Any, command: str, timeout: float = 300) -> str:
    proc = host.ssh(command, timeout=timeout)
    assert proc.returncode == 0, f"{host.name}: {command[:120]}: rc {proc.returncode} {proc.stderr[-600:]}"
    return proc.stdout


# The recordings and the keys; the archive pages are rebuilt after a restore, so they differ.
KEPT = f"{ARCHIVE} {KEYS} \\( -name '*.mp4' -o -path '{KEYS}/*' -o -type d \\)"


def archive_sums(host: Any) -> dict[str, str]:
    text = ssh(host, f"find {KEPT} -type f -print0 | sort -z | xargs -0 sha256sum")
    return {line.split()[1]: line.split()[0] for line in text.splitlines()}


def owners(host: Any) -> str:
    return ssh(host, f"find {KEPT} -printf '%p %u %g %m\\n' | sort")


@pytest.fixture(scope="module", params=["13", "12"])
def drill(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drill]:
    from tests.fixtures.lab import _down_quietly, require_lab

    require_lab()
    from anl_stack import lab
    from anl_stack.inventory.model import create_inventory

    release = request.param
    fetched = anl("artifacts", "fetch", "streaming")
    assert fetched.returncode == 0, output(fetched)
    names = [f"bk{release}", f"bp{release}", f"bn{release}"]
    try:
        primary, partner = lab.up(names[0], release), lab.up(names[1], release)
        lab.link(primary.name, partner.name, 22)
        root = tmp_path_factory.mktemp(f"commune{release}")
        # The vault password is kept off the servers, as the operations guide asks: losing the
        # server must not lose the vault.
        password = root / "vault-password"
        password.write_text(Path(primary.vault_password_file).read_text())
        password.chmod(0o600)
        inventory = root / "inventory"
        domain = f"live.{primary.domain}"
        known_hosts = root / "known_hosts"
        create_inventory(
            inventory, commune="exemple", domain=primary.domain, email="dsi@exemple.fr", tls_mode="selfsigned",
            hosts={"hosts": {primary.name: checked_connection_vars(primary, known_hosts),
                             partner.name: checked_connection_vars(partner, known_hosts)},
                   "children": {"streaming": {"hosts": {primary.name: {}}}}},
            vault_password_file=password,
            extra_settings={"anl_lab": True, "anl_engine": ENGINE_BY_RELEASE[release],
                            "anl_backup_schedule": "daily", "anl_backup_check_schedule": "weekly",
                            "anl_backup_repositories": [
                                {"name": "local", "path": "/var/backups/anl-stack/restic"},
                                {"name": "voisine", "partner": partner.name}]})
        lab.add_names(primary.name, [domain])
        yield Drill(release, inventory, password, primary, partner, domain, {}, known_hosts)
    finally:
        for name in reversed(names):
            _down_quietly(name)


@pytest.fixture(scope="module")
def deployed(drill: Drill) -> Drill:
    # Idempotence is proven once (Debian 13); Debian 12 differs in restic (0.14), not in the role.
    args = ["--idempotence"] if drill.release == "13" else []
    proc = anl("deploy", "streaming", "-i", str(drill.inventory), *args)
    assert proc.returncode == 0, output(proc)
    # The backups, restores and the new server's deploy are day-two runs (tests/fixtures/lab.py).
    after_first_deploy(drill.inventory)
    return drill


def test_deploy_creates_a_confined_account_on_the_partner(deployed: Drill) -> None:
    d = deployed
    user = "anl-exemple"
    config = ssh(d.partner, f"sshd -T -C user={user},host=x,addr=10.77.0.2 | grep -Ei "
                            "'^(chrootdirectory|forcecommand|passwordauthentication|allowtcpforwarding) '")
    assert "chrootdirectory /srv/anl-backup/%u" in config.lower()
    assert "forcecommand internal-sftp" in config.lower()
    assert "passwordauthentication no" in config.lower() and "allowtcpforwarding no" in config.lower()
    assert ssh(d.partner, f"stat -c '%U %a' /srv/anl-backup/{user}").split() == ["root", "755"]
    # From the commune's server, the account gives SFTP and nothing else: no shell command runs.
    shell = d.primary.ssh(f"ssh -i /etc/anl-stack/backup/ssh/id_ed25519 -o BatchMode=yes -o IdentitiesOnly=yes "
                          f"-o UserKnownHostsFile=/etc/anl-stack/backup/ssh/known_hosts {user}@{d.partner.address} "
                          "touch /tmp/escaped", timeout=60)
    assert d.partner.ssh("test -e /tmp/escaped").returncode != 0, "the backup account ran a shell command"
    assert "internal-sftp" in shell.stderr or shell.returncode != 0
    listing = ssh(d.primary, "sftp -b - -i /etc/anl-stack/backup/ssh/id_ed25519 -o BatchMode=yes "
                             f"-o UserKnownHostsFile=/etc/anl-stack/backup/ssh/known_hosts {user}@{d.partner.address} "
                             "<<'EOF'\nls /\nEOF")
    assert "restic" in listing


def test_deploy_installs_the_schedule_and_the_check(deployed: Drill) -> None:
    d = deployed
    for timer in ("anl-backup-streaming.timer", "anl-backup-check.timer"):
        assert ssh(d.primary, f"systemctl is-enabled {timer}").strip() == "enabled"
        assert ssh(d.primary, f"systemctl is-active {timer}").strip() == "active"
    units = "/etc/systemd/system/anl-backup-streaming.service /etc/systemd/system/anl-backup-check.service"
    ssh(d.primary, f"systemd-analyze verify {units}")
    assert ssh(d.primary, "stat -c '%a %U' /etc/anl-stack/backup/password").split() == ["600", "root"]
    secret = anl("secrets", "list", "-i", str(d.inventory))
    assert "anl_backup_password" in secret.stdout.split(), output(secret)
    # The password is in the vault only: never in the inventory's clear files nor in a run's log.
    value = ssh(d.primary, "cat /etc/anl-stack/backup/password")
    for file in d.inventory.rglob("*"):
        if file.is_file() and file.name != "vault.yml":
            assert value not in file.read_text(errors="replace"), f"the repository password is in {file}"


def test_backup_reaches_both_repositories(deployed: Drill) -> None:
    d = deployed
    # Written without rebuilding the archive pages: the restore must rebuild them.
    ssh(d.primary, f"cd {ARCHIVE} && mkdir -p 2026-11-30 2026-10-12 && ffmpeg -nostdin -loglevel error -f lavfi "
                   "-i testsrc=size=320x240:rate=25 -f lavfi -i sine=frequency=440 -t 3 -c:v libx264 "
                   f"-preset ultrafast -pix_fmt yuv420p -c:a aac {RECORDING} && head -c 3000000 /dev/urandom "
                   f"> {OLDER} && chown -R www-data:www-data 2026-11-30 2026-10-12")
    assert RECORDING not in ssh(d.primary, f"cat {ARCHIVE}/index.html")
    proc = anl("backup", "streaming", "-i", str(d.inventory), "--label", "drill")
    assert proc.returncode == 0, output(proc)
    assert "in local" in proc.stdout and "in voisine" in proc.stdout, output(proc)
    listed = anl("backups", "streaming", "-i", str(d.inventory), "--json")
    assert listed.returncode == 0, output(listed)
    snaps = json.loads(listed.stdout)["snapshots"]
    by_repo = {s["repo"]: s for s in snaps if "drill" in s["labels"]}
    assert set(by_repo) == {"local", "voisine"}
    for s in by_repo.values():
        assert s["host"] == d.primary.name and s["app_version"] == "1.2.2" and s["recipe_version"]
        assert s["digest"].startswith("sha256:") and s["size"] > 3_000_000
    d.snapshots["sums"] = json.dumps(archive_sums(d.primary))
    d.snapshots["owners"] = owners(d.primary)
    # The partner's administrator sees only encrypted data: no file name of ours in the repository.
    names = ssh(d.partner, "find /srv/anl-backup -type f -printf '%f\\n'")
    assert "2026-11-30" not in names and "conseil" not in names


def test_unreachable_partner_fails_clearly_and_the_next_backup_works(deployed: Drill) -> None:
    d = deployed
    # On the commune's side: traffic to the partner reaches it through the lab's NAT.
    ssh(d.primary, f"ip route add blackhole {d.partner.address}/32")
    try:
        proc = anl("backup", "streaming", "-i", str(d.inventory))
        assert proc.returncode == 1, output(proc)
        assert "repository voisine: cannot reach the SFTP server" in proc.stderr, output(proc)
        assert "written: local" in proc.stderr, output(proc)
    finally:
        ssh(d.primary, f"ip route del blackhole {d.partner.address}/32")
    proc = anl("backup", "streaming", "-i", str(d.inventory))
    assert proc.returncode == 0, output(proc)


def debian_13_only(d: Drill, why: str) -> None:
    if d.release != "13":
        pytest.skip(f"n/a on Debian {d.release}: {why}")


def test_ctrl_c_during_a_backup_leaves_clean_repositories(deployed: Drill) -> None:
    d = deployed
    debian_13_only(d, "restic 0.14's Ctrl-C is proven on the controller (test_backup_tool.py)")
    ssh(d.primary, f"head -c 150000000 /dev/urandom > {ARCHIVE}/long.bin")
    try:
        cli = subprocess.Popen([sys.executable, "-m", "anl_stack", "backup", "streaming", "-i", str(d.inventory)],
                               cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Interrupt once anl-backup runs on the host, as an operator's Ctrl-C would.
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and cli.poll() is None:
            if d.primary.ssh(f"flock -n {LOCK} true").returncode != 0:
                break
            time.sleep(0.2)
        cli.send_signal(signal.SIGINT)
        out, err = cli.communicate(timeout=300)
        assert cli.returncode == 130, out[-2000:] + err[-2000:]
        # Whatever the host was doing ends (finished or interrupted) and leaves the lock.
        ssh(d.primary, f"flock -w 600 {LOCK} true", timeout=700)
        ssh(d.primary, "/usr/local/sbin/anl-backup check")
    finally:
        ssh(d.primary, f"rm -f {ARCHIVE}/long.bin")
    proc = anl("backup", "streaming", "-i", str(d.inventory))
    assert proc.returncode == 0, output(proc)
    ssh(d.primary, "/usr/local/sbin/anl-backup check")


def test_snapshot_of_a_newer_application_is_refused(deployed: Drill) -> None:
    d = deployed
    debian_13_only(d, "the refusal is decided by anl-stack before restic runs")
    settings = "/etc/anl-stack/backup/plugins/streaming.json"
    spec = json.loads(ssh(d.primary, f"cat {settings}"))
    newer = {**spec, "recipe": {**spec["recipe"], "app_version": "9.9.9"}}
    ssh(d.primary, f"cp {settings} {settings}.keep && printf '%s' {shlex.quote(json.dumps(newer))} > {settings}")
    try:
        made = json.loads(ssh(d.primary, "/usr/local/sbin/anl-backup backup streaming --repo local"))
    finally:
        ssh(d.primary, f"mv {settings}.keep {settings}")
    snapshot = made["snapshots"][0]["snapshot"][:8]
    before = archive_sums(d.primary)
    ssh(d.primary, f"touch {ARCHIVE}/after-newer")
    proc = anl("restore", "streaming", "-i", str(d.inventory), "--from", snapshot)
    assert proc.returncode == 2, output(proc)
    assert "9.9.9, newer than the 1.2.2 the server runs; nothing was changed" in proc.stderr
    ssh(d.primary, f"test -e {ARCHIVE}/after-newer && rm {ARCHIVE}/after-newer")
    assert archive_sums(d.primary) == before


def drill_snapshot(d: Drill) -> str:
    """Id of the snapshot the drill's labelled backup wrote in the partner's repository."""
    listed = anl("backups", "streaming", "-i", str(d.inventory), "--repo", "voisine", "--json")
    assert listed.returncode == 0, output(listed)
    return str(next(s["id"] for s in json.loads(listed.stdout)["snapshots"] if "drill" in s["labels"]))


def test_restore_in_place_from_the_partner(deployed: Drill) -> None:
    d = deployed
    if d.release == "13":
        pytest.skip("n/a on Debian 13: it restores onto a new server instead")
    expected = json.loads(d.snapshots["sums"])
    # A lost recording and a changed stream key, as after an operator's mistake.
    ssh(d.primary, f"rm {ARCHIVE}/{RECORDING} && echo changed > $(ls -d {KEYS}/* | head -1)")
    proc = anl("restore", "streaming", "-i", str(d.inventory), "--from", drill_snapshot(d)[:12], "--repo", "voisine")
    assert proc.returncode == 0, output(proc)
    assert "(voisine," in proc.stdout and "checks passed" in proc.stdout, output(proc)
    assert archive_sums(d.primary) == expected
    assert owners(d.primary) == d.snapshots["owners"]
    assert RECORDING in ssh(d.primary, f"cat {ARCHIVE}/index.html")


def test_restore_onto_a_new_server_from_the_partner(deployed: Drill) -> None:
    from anl_stack import lab

    d = deployed
    debian_13_only(d, "the new server is deployed by the same roles; Debian 12 restores in place")
    expected = json.loads(d.snapshots["sums"])
    drill_id = drill_snapshot(d)
    # The server is lost; a new one takes its place in hosts.yml.
    new: Any = replace_lost_server(d.inventory, "streaming", d.primary, d.release, f"bn{d.release}", d.partner,
                                       d.known_hosts)
    lab.add_names(new.name, [d.domain])

    proc = anl("restore", "streaming", "-i", str(d.inventory), "--from", drill_id[:12], "--to-host", new.name)
    assert proc.returncode == 0, output(proc)
    assert "(voisine," in proc.stdout and "checks passed" in proc.stdout, output(proc)
    assert archive_sums(new) == expected
    assert owners(new) == d.snapshots["owners"]
    # The archive pages were rebuilt from the restored recordings (the backup held none listing it).
    assert RECORDING in ssh(new, f"cat {ARCHIVE}/index.html")
