"""The nextcloud recipe on real lab hosts (Debian 13 and 12).

One host per release, whose history module fixtures make in order: the
refusals that come before any change (no release in the cache; Nextcloud 35
on Debian 12), then `deploy nextcloud --tags stack` with --idempotence
(second run changed=0), every process's command line read meanwhile. Each
test asks for the step it checks, so it holds on its own: the refusals, the
deploy, no vault secret on a command line during it, the SMTP password
file's template as valid PHP, `verify nextcloud --mark "not app"`,
the backups (shared role backup, restic): rows in the database and files in
the config and data folders (seeded by the tests: the application is not
installed here) backed up, changed or lost, restored and compared; a snapshot
whose data was damaged in the repository refused with the live data left as
it was; a restore whose last step fails after the swap, with the database
and folders the service had put back; an unknown snapshot refused (exit 2); and, last, the remove step
(which takes the host's Nextcloud away).

What is not here, and why: the application steps (tag `app`) need the
Nextcloud release, which this build machine cannot download; they run
when the release is in the artifact cache (see the fiche, "What CI does not
exercise"). Nothing here fakes Nextcloud.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.fixtures.cmdline_watch import CmdlineWatch, own_pid_namespace
from tests.fixtures.lab import after_first_deploy, assert_release_engine
from tests.unit.test_collective import keys  # noqa: F401 (a fixture: throw-away OpenPGP keys)

pytestmark = pytest.mark.lab

PROJECT = Path(__file__).resolve().parent.parent.parent
REPOSITORY = "/var/backups/anl-stack/restic"
TABLE = "anl_roundtrip"
CONFIG_DIR = "/var/www/nextcloud/config"
DATA_DIR = "/srv/nextcloud-data"
THEMES_DIR = "/var/www/nextcloud/themes"
#: The checks that need Nextcloud installed: they fail on a host prepared with `--tags stack`.
APP_CHECKS = {"test_status_php", "test_occ_status", "test_setup_checks_no_error", "test_config_php_private",
              "test_last_cron_recent", "test_redis_locking_configured", "test_trusted_servers_as_configured"}
PHP_BY_DEBIAN = {"12": "8.2", "13": "8.4"}
SNAPSHOT_LINE = re.compile(r"^nextcloud on (\S+): snapshot ([0-9a-f]{8}) in local$", re.MULTILINE)


@pytest.fixture(scope="module", params=["13", "12"])
def host(request: pytest.FixtureRequest) -> Iterator[object]:
    from tests.fixtures.lab import lab_host_for, use_release_engine

    for made in lab_host_for(f"n{request.param}", request.param):
        use_release_engine(made.inventory, request.param)  # type: ignore[attr-defined]
        yield made


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


@dataclass
class WatchedDeploy:
    proc: subprocess.CompletedProcess[str]
    watch: CmdlineWatch
    #: a process started on the lab host during the watch, with this in its command line
    marker: str


@pytest.fixture(scope="module")
def watched_stack_deploy(host: object, refusals: Refusals) -> WatchedDeploy:
    """`deploy nextcloud --tags stack --idempotence`, after the refusals, every command line on the
    controller and the lab host read meanwhile."""
    marker = f"anl-watch-{uuid.uuid4().hex}"
    with CmdlineWatch() as watch:
        # One second on the lab host, named by the marker: the watch must see it.
        host.ssh(f"sh -c 'sleep 1' {marker}")  # type: ignore[attr-defined]
        proc = anl("deploy", "nextcloud", "--lab", host.name, "--debian", host.release,  # type: ignore[attr-defined]
                   "--tags", "stack", "--idempotence", "--json")
    return WatchedDeploy(proc, watch, marker)


@pytest.fixture(scope="module")
def stack_deploy(watched_stack_deploy: WatchedDeploy) -> subprocess.CompletedProcess[str]:
    return watched_stack_deploy.proc


@pytest.fixture(scope="module")
def stack(host: object, stack_deploy: subprocess.CompletedProcess[str]) -> object:
    """The host with the nextcloud stack deployed."""
    assert stack_deploy.returncode == 0, output(stack_deploy)
    after_first_deploy(host.inventory)  # type: ignore[attr-defined]
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
    assert record["expected"] == "a version matching >=33,<35 (platforms.debian-12.app_versions of nextcloud)"
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
    assert_release_engine(summary["runs"], host.release)  # type: ignore[attr-defined]


def secret_values(host: object) -> dict[str, str]:
    """The inventory's vault secrets (public halves left out), as the deploy used them."""
    from anl_stack.inventory.model import resolve_inventory_path
    from anl_stack.inventory.vault import read_secrets

    paths = resolve_inventory_path(host.inventory)  # type: ignore[attr-defined]
    values = read_secrets(paths, Path(host.vault_password_file))  # type: ignore[attr-defined]
    return {k: str(v) for k, v in values.items() if not k.endswith("_public")}


def test_no_secret_on_a_command_line_during_the_stack_deploy(host: object, stack: object,
                                                             watched_stack_deploy: WatchedDeploy) -> None:
    """No vault secret is in the command line of any process, on the lab host or the controller,
    during both runs of the stack deploy (what CI deploys of Nextcloud: the `app` steps are not
    run here, see the fiche). Processes are read every 0.1 s: one that lives less is not seen."""
    watch = watched_stack_deploy.watch
    ours = own_pid_namespace()
    assert any(s.pid_namespace != ours for s in watch.containing(watched_stack_deploy.marker)), \
        "the watch did not see the marked process on the lab host"
    assert any("ansible-playbook" in s.cmdline for s in watch.seen), "the watch saw no ansible-playbook"
    secrets = secret_values(host)
    assert {"nextcloud_db_password", "nextcloud_admin_password", "anl_backup_password"} <= set(secrets)
    leaked = {name for name, value in secrets.items()
              for line in value.splitlines() if len(line.strip()) >= 16 and watch.containing(line.strip())}
    assert not leaked, f"on a command line during the deploy: {sorted(leaked)} ({watch.readings} readings)"


def test_smtp_password_file_holds_any_password(stack: object) -> None:
    """The SMTP password file (an `app` step, not run here) is valid PHP that gives back the password
    as written, whatever it holds, read by the stack's own PHP."""
    import jinja2

    host = stack
    template = PROJECT / "plugins/nextcloud/roles/nextcloud/templates/smtp.config.php.j2"
    password = "a'b\\c\\\\'d $x {\"?> é\\"
    text = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True).from_string(
        template.read_text()).render(ansible_managed="test", nextcloud_mail_smtp_password=password)
    php = f"/usr/bin/php{PHP_BY_DEBIAN[host.release]}"  # type: ignore[attr-defined]
    proc = host.ssh(f"f=$(mktemp) && cat > $f && {php} -l $f >/dev/null && "  # type: ignore[attr-defined]
                    f"{php} -r 'include $argv[1]; echo $CONFIG[\"mail_smtppassword\"];' $f; "
                    "rc=$?; rm -f $f; exit $rc", input=text)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == password


def test_stack_checks_pass(stack: object) -> None:
    host = stack
    proc = anl("verify", "nextcloud", "--lab", host.name, "--mark", "not app", "--json")  # type: ignore[attr-defined]
    data = json.loads(proc.stdout)
    failed = [f"{c['suite']}/{c['check']}: {c.get('message', '')}" for c in data["checks"]
              if c["outcome"] in ("failed", "error")]
    assert proc.returncode == 0, "\n".join(failed) or output(proc)
    outcomes = {c["check"]: c["outcome"] for c in data["checks"] if c["suite"] == "nextcloud"}
    # The stack checks ran and passed; the application checks were left out, not passed.
    stack = [name for name in outcomes if not name.startswith(tuple(APP_CHECKS))]
    assert len(stack) >= 12, outcomes
    assert all(outcomes[name] == "passed" for name in stack), outcomes
    assert outcomes["test_status_php"] != "passed"



# --- federation settings from a collective ---------------------------------------------------

def test_collective_sync_then_plan_then_the_stack_deploy_changes_nothing(
        stack: object, tmp_path_factory: pytest.TempPathFactory, keys: dict[str, str]) -> None:  # noqa: F811
    """`collective sync` fills nextcloud_trusted_servers from the other members' verified instances,
    `plan` shows them, and the stack deploy with them (their argument spec checked by the role) changes
    nothing. Debian 13 only: the settings do not depend on the release."""
    from tests.fixtures.federation import synced_then_planned

    host = stack
    if host.release != "13":  # type: ignore[attr-defined]
        pytest.skip("federation settings do not depend on the Debian release: run on Debian 13")
    with synced_then_planned(anl, host, "nextcloud", tmp_path_factory.mktemp("collective"), keys):
        proc = anl("deploy", "nextcloud", "--lab", host.name, "--debian", "13", "--tags", "stack", "--json")  # type: ignore[attr-defined]
        assert proc.returncode == 0, output(proc)
        run = json_summary(proc)["runs"][0]
        assert run["errors"] == [] and run["hosts"][host.name]["changed"] == 0, run  # type: ignore[attr-defined]


# --- backup and restore -------------------------------------------------------------------
#
# The application is not installed here: the tests put rows in Nextcloud's database (as its
# owner, the nextcloud user) and files in the config, themes and data folders themselves.

def seed(host: object, rows: list[tuple[int, str]], text: str) -> None:
    """The table holds exactly ``rows``; files of every kind in config/, themes/ and the data folder."""
    values = ", ".join(f"({n}, '{label}')" for n, label in rows)
    psql(host, f"SET ROLE nextcloud; DROP TABLE IF EXISTS {TABLE}; "
               f"CREATE TABLE {TABLE} (id int PRIMARY KEY, label text); INSERT INTO {TABLE} VALUES {values}")
    files = (f"install -d -o www-data -g www-data -m 0750 {CONFIG_DIR} {THEMES_DIR}/anl "
             f"{DATA_DIR}/agent/files/Conseil",
             f"printf '%s\\n' {shlex.quote(text)} > {CONFIG_DIR}/anl-roundtrip.config.php",
             f"printf 'body {{ color: #123; }}\\n' > {THEMES_DIR}/anl/style.css",
             f"printf '%s\\n' {shlex.quote(text)} > '{DATA_DIR}/agent/files/Conseil/délibération 12.txt'",
             f"head -c 300000 /dev/urandom > {DATA_DIR}/agent/files/scan.pdf",
             f"chown -R www-data:www-data {CONFIG_DIR} {THEMES_DIR} {DATA_DIR}/agent",
             f"chmod 0640 {CONFIG_DIR}/anl-roundtrip.config.php")
    ssh(host, " && ".join(files))


def live_state(host: object) -> dict[str, object]:
    """The rows, and every file of the kept folders with its checksum, owner and mode."""
    rows = psql(host, f"SELECT id, label FROM {TABLE} ORDER BY id").strip().splitlines()
    listing = ssh(host, f"cd / && find {CONFIG_DIR} {THEMES_DIR} {DATA_DIR} -type f -print0 | sort -z | "
                        "xargs -0 -r stat -c '%n|%U:%G|%a' && "
                        f"find {CONFIG_DIR} {THEMES_DIR} {DATA_DIR} -type f -print0 | sort -z | xargs -0 -r sha256sum")
    return {"rows": rows, "files": listing.splitlines()}


def back_up(host: object, *labels: str) -> str:
    """`anl-stack backup nextcloud`; the short id (8 hex digits) of the snapshot it wrote."""
    args = [a for label in labels for a in ("--label", label)]
    proc = anl("backup", "nextcloud", "--lab", host.name, *args)  # type: ignore[attr-defined]
    assert proc.returncode == 0, output(proc)
    match = SNAPSHOT_LINE.search(proc.stdout)
    assert match, output(proc)
    assert match.group(1) == host.name  # type: ignore[attr-defined]
    return match.group(2)


def restore(host: object, snapshot: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    proc = anl("restore", "nextcloud", "--lab", host.name, "--from", snapshot, "--json")  # type: ignore[attr-defined]
    return proc, json_summary(proc)


def failed_checks(summary: dict) -> set[str]:
    return {c["check"] for c in summary["verify"]["checks"] if c["outcome"] in ("failed", "error")}


def listed(host: object) -> list[dict]:
    proc = anl("backups", "nextcloud", "--lab", host.name, "--json")  # type: ignore[attr-defined]
    assert proc.returncode == 0, output(proc)
    data = json.loads(proc.stdout)
    assert data["errors"] == [] and data["plugin"] == "nextcloud", data
    return data["snapshots"]


def test_backup_settings_written_by_the_deploy(stack: object) -> None:
    """The deploy (tag stack) wrote what a Nextcloud backup keeps, and created the repository."""
    host = stack
    spec = json.loads(ssh(host, "cat /etc/anl-stack/backup/plugins/nextcloud.json"))
    assert spec["paths"] == [CONFIG_DIR, THEMES_DIR, DATA_DIR]
    assert spec["databases"] == [{"engine": "postgresql", "name": "nextcloud", "owner": "nextcloud"}]
    assert spec["stop"] == ["nextcloudcron.timer"]
    config_php = f"{CONFIG_DIR}/config.php"
    assert [(c["argv"][-2:], c["user"], c["if_exists"]) for c in spec["before"]] == \
        [(["maintenance:mode", "--on"], "www-data", config_php)]
    assert [(c["argv"][-2:], c["user"], c["if_exists"]) for c in spec["after"]] == \
        [(["maintenance:mode", "--off"], "www-data", config_php)]
    assert [c["argv"][-1] for c in spec["after_restore"]] == ["maintenance:data-fingerprint"]
    assert spec["recipe"]["app_version"] == "34.0.4"
    assert ssh(host, f"stat -c '%a %U' {REPOSITORY} /etc/anl-stack/backup/password").split() == \
        ["700", "root", "600", "root"]


def test_backup_restore_round_trip(stack: object) -> None:
    host = stack
    rows = [(1, "délibération 2026-01"), (2, "budget primitif"), (3, "conseil du 12 mars")]
    seed(host, rows, "avant la sauvegarde")
    before = live_state(host)
    ssh(host, "systemctl start nextcloudcron.timer")
    timer_since = ssh(host, "systemctl show -P ActiveEnterTimestampMonotonic nextcloudcron.timer").strip()

    snapshot = back_up(host, "round-trip")
    # The background jobs timer was stopped during the backup, and started again after it.
    assert ssh(host, "systemctl is-active nextcloudcron.timer").strip() == "active"
    assert ssh(host, "systemctl show -P ActiveEnterTimestampMonotonic nextcloudcron.timer").strip() != timer_since
    [snap] = [s for s in listed(host) if s["short_id"] == snapshot]
    assert snap["repo"] == "local" and snap["host"] == host.name  # type: ignore[attr-defined]
    assert snap["app_version"] == "34.0.4" and snap["recipe_version"] == "0.1.0"
    assert "round-trip" in snap["labels"] and snap["size"] > 300000

    # Lose and change everything the backup keeps, then restore it.
    psql(host, f"DELETE FROM {TABLE} WHERE id = 2; UPDATE {TABLE} SET label = 'changé' WHERE id = 1; "
               f"CREATE TABLE anl_after_backup (id int)")
    ssh(host, f"rm '{DATA_DIR}/agent/files/Conseil/délibération 12.txt' && "
              f"head -c 1000 /dev/urandom > {DATA_DIR}/agent/files/scan.pdf && "
              f"printf 'changed\\n' > {CONFIG_DIR}/anl-roundtrip.config.php && rm -r {THEMES_DIR}/anl && "
              f"touch {DATA_DIR}/agent/files/new-after-backup.txt")
    assert live_state(host) != before
    locale = psql(host, "SELECT datcollate, datctype FROM pg_database WHERE datname = 'nextcloud'")

    proc, summary = restore(host, snapshot)
    assert summary["exit_code"] == 0 and summary["snapshot"]["id"] == snap["id"], output(proc)
    # The checks ran after the restore: those of the stack pass, the application's fail (not installed here).
    assert failed_checks(summary) <= APP_CHECKS, output(proc)
    assert proc.returncode == summary["verify"]["exit_code"]

    assert live_state(host) == before
    assert psql(host, "SELECT count(*) FROM pg_tables WHERE tablename = 'anl_after_backup'").strip() == "0"
    # The database and the restored table still belong to the Nextcloud user, with the same locale.
    assert psql(host, "SELECT pg_catalog.pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'nextcloud'"
                ).strip() == "nextcloud"
    assert psql(host, f"SELECT tableowner FROM pg_tables WHERE tablename = '{TABLE}'").strip() == "nextcloud"
    assert psql(host, "SELECT datcollate, datctype FROM pg_database WHERE datname = 'nextcloud'") == locale
    assert psql(host, "SELECT count(*) FROM pg_database WHERE datname LIKE 'nextcloud_anl_%'").strip() == "0"
    assert ssh(host, f"stat -c '%a %U:%G' {DATA_DIR}").strip() == "770 www-data:www-data"
    assert ssh(host, "systemctl is-active nextcloudcron.timer").strip() == "active"
    # Nothing is left beside the live folders or in the staging area.
    assert ssh(host, f"ls -d {DATA_DIR}.anl-* {CONFIG_DIR}.anl-* /var/lib/anl-stack/backup/staging/* "
                     "2>/dev/null || true").strip() == ""


def backed_up_then_changed(host: object, row: tuple[int, str], text: str, new_id: int) -> tuple[str, dict[str, object]]:
    """Seed ROW and files, back them up, then add row NEW_ID and change a config file: (snapshot, live state)."""
    seed(host, [row], text)
    snapshot = back_up(host)
    psql(host, f"INSERT INTO {TABLE} VALUES ({new_id}, 'after backup')")
    ssh(host, f"printf 'after backup\\n' > {CONFIG_DIR}/anl-roundtrip.config.php")
    return snapshot, live_state(host)


def test_restore_refuses_a_damaged_snapshot(stack: object) -> None:
    """Every pack file of the repository damaged: the restore stops before touching the live data."""
    host = stack
    snapshot, after = backed_up_then_changed(host, (7, "kept"), "dans la sauvegarde abîmée", 8)

    saved = "/root/anl-test-packs"
    flip = ("import pathlib, sys\n"
            "for f in pathlib.Path(sys.argv[1]).rglob('*'):\n"
            "    if f.is_file():\n"
            "        b = bytearray(f.read_bytes())\n"
            "        for i in range(0, len(b), 64): b[i] ^= 0xFF\n"
            "        f.write_bytes(bytes(b))\n")
    ssh(host, f"rm -rf {saved} && cp -a {REPOSITORY}/data {saved} && "
              f"python3 -c {shlex.quote(flip)} {REPOSITORY}/data")
    try:
        proc = anl("restore", "nextcloud", "--lab", host.name, "--from", snapshot)  # type: ignore[attr-defined]
    finally:
        ssh(host, f"rm -rf {REPOSITORY}/data && mv {saved} {REPOSITORY}/data")
    assert proc.returncode == 1, output(proc)
    assert f"snapshot {snapshot} cannot be read back whole from repository local" in proc.stderr, output(proc)
    assert "nothing was changed" in proc.stderr, output(proc)
    # The live data is as it was: the row and the file written after the backup are still there.
    assert live_state(host) == after
    assert ssh(host, f"ls -d {DATA_DIR}.anl-* {CONFIG_DIR}.anl-* /var/lib/anl-stack/backup/staging/* "
                     "2>/dev/null || true").strip() == ""
    # With its packs back the repository is whole again (the damage was the test's).
    ssh(host, "/usr/local/sbin/anl-backup check")


def test_a_restore_that_fails_after_the_swap_keeps_the_live_database_and_folders(stack: object) -> None:
    """The last step of a restore fails once the database and folders are swapped: both are put back."""
    host = stack
    ssh(host, "systemctl start nextcloudcron.timer")  # stopped for the restore, started again after it
    snapshot, after = backed_up_then_changed(host, (11, "dans la sauvegarde"), "sauvegardé", 12)
    settings = "/etc/anl-stack/backup/plugins/nextcloud.json"
    planted = ("import json, sys\n"
               "p = sys.argv[1]; s = json.load(open(p))\n"
               "s['after_restore'] = s.get('after_restore', []) + [{'argv': ['false']}]\n"
               "json.dump(s, open(p, 'w'))\n")
    ssh(host, f"cp -a {settings} {settings}.keep && python3 -c {shlex.quote(planted)} {settings}")
    try:
        proc = anl("restore", "nextcloud", "--lab", host.name, "--from", snapshot)  # type: ignore[attr-defined]
    finally:
        ssh(host, f"mv {settings}.keep {settings}")
    assert proc.returncode == 1 and "false failed" in proc.stderr, output(proc)
    assert live_state(host) == after, "the database or the folders the service had are not back"
    assert psql(host, "SELECT count(*) FROM pg_database WHERE datname LIKE 'nextcloud_anl_%'").strip() == "0"
    assert psql(host, "SELECT pg_catalog.pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'nextcloud'"
                ).strip() == "nextcloud"
    assert ssh(host, "systemctl is-active nextcloudcron.timer").strip() == "active"
    assert ssh(host, f"ls -d {DATA_DIR}.anl-* {CONFIG_DIR}.anl-* 2>/dev/null || true").strip() == ""


def test_restore_of_an_unknown_snapshot_is_refused(stack: object) -> None:
    host = stack
    before = live_state(host)
    proc = anl("restore", "nextcloud", "--lab", host.name, "--from", "deadbeef")  # type: ignore[attr-defined]
    assert proc.returncode == 2, output(proc)
    assert "no snapshot deadbeef" in proc.stderr, output(proc)
    proc = anl("restore", "nextcloud", "--lab", host.name, "--from", "yesterday")  # type: ignore[attr-defined]
    assert proc.returncode == 2, output(proc)
    assert "'yesterday' is not a snapshot id" in proc.stderr, output(proc)
    assert live_state(host) == before


# --- remove (last: it takes the host's Nextcloud away) -----------------------------------

def test_remove_then_purge(stack: object) -> None:
    host = stack
    seed(host, [(1, "kept by remove")], "gardé")
    back_up(host)
    site = "/etc/nginx/sites-enabled/anl-nextcloud.conf"
    units = "/etc/systemd/system/nextcloudcron.timer /etc/systemd/system/nextcloudcron.service"
    certificate = f"/etc/ssl/anl/cloud.{host.domain}.crt"  # type: ignore[attr-defined]
    ssh(host, f"test -e {site} && test -e {certificate}")

    proc = anl("remove", "nextcloud", "--lab", host.name)  # type: ignore[attr-defined]
    assert proc.returncode == 0, output(proc)
    gone = f"{site} /etc/nginx/conf.d/anl-nextcloud.conf {units} {certificate}"
    assert ssh(host, f"for f in {gone}; do test -e $f && echo $f; done; true").strip() == ""
    ssh(host, "nginx -t && systemctl is-active nginx")
    # Kept: the data, the database, the backup settings and the snapshots.
    assert psql(host, f"SELECT label FROM {TABLE}").strip() == "kept by remove"
    ssh(host, f"test -f '{DATA_DIR}/agent/files/Conseil/délibération 12.txt' && "
              "test -f /etc/anl-stack/backup/plugins/nextcloud.json")
    assert listed(host), "remove without --purge forgot the snapshots"
    again = anl("remove", "nextcloud", "--lab", host.name, "--json")  # type: ignore[attr-defined]
    assert json_summary(again)["runs"][0]["hosts"][host.name]["changed"] == 0, output(again)  # type: ignore[attr-defined]

    proc = anl("remove", "nextcloud", "--lab", host.name, "--purge", "--yes")  # type: ignore[attr-defined]
    assert proc.returncode == 0, output(proc)
    assert host.ssh(f"test -e {DATA_DIR} || test -e /var/www/nextcloud").returncode != 0  # type: ignore[attr-defined]
    assert ssh(host, "runuser -u postgres -- psql -tAc \"SELECT count(*) FROM pg_database WHERE datname = "
                     "'nextcloud'\"").strip() == "0"
    assert host.ssh("test -e /etc/anl-stack/backup/plugins/nextcloud.json").returncode != 0  # type: ignore[attr-defined]
    assert ssh(host, f"restic -r {REPOSITORY} --password-file /etc/anl-stack/backup/password snapshots "
                     "--tag plugin=nextcloud --json").strip() in ("[]", "null")
