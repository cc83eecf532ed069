"""The peertube recipe on real lab hosts: Debian 13 for the deploy, Debian 12 for its refusal.

`pt13` (module fixtures, in order): the deploy refused before any change (no
release in the cache, and upstream publishes no checksum), then `deploy
peertube --tags stack` with --idempotence (second run changed=0). Each test
asks for the step it checks: `verify peertube --mark "not app"`, the vhost
through `nginx -t`, the rendered unit through `systemd-analyze verify`, the
rendered production.yaml parsed and its keys checked against the hand-made
list of the upstream example's keys (tests/fixtures/peertube/), the `app`
step refused without the release with the host left as it was, `anl-stack
upgrade peertube` from a next recipe refused before any change on that
stack-only host (exit 2, how to provide the release named, no snapshot), the
PostgreSQL (pg_dump custom format) and config backup and restore round trip,
and, last, the remove step. `pt12` lives for one test: the Debian 12 refusal
(its Node.js is too old) before any change.

What is not here, and why: the application steps (tag `app`) need the
PeerTube release zip, which this build machine cannot download and whose
checksum only a commune can pin; they run when the release is in the
artifact cache (see the fiche, "What CI does not exercise"). Nothing here
fakes PeerTube.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.lab import after_first_deploy, assert_release_engine
from tests.fixtures.upgrade import anl_in, assert_upgrade_refused, next_recipe, snapshot_ids
from tests.integration.test_nextcloud import anl, json_summary, output
from tests.unit.test_collective import keys  # noqa: F401 (a fixture: throw-away OpenPGP keys)

pytestmark = pytest.mark.lab

PROJECT = Path(__file__).resolve().parent.parent.parent
ROLE = PROJECT / "plugins/peertube/roles/peertube"
KEYS = PROJECT / "tests/fixtures/peertube/production-example-keys.txt"
CONFIG = "/var/www/peertube/config"
TABLE = "anl_roundtrip"
SITE = "/etc/nginx/sites-enabled/anl-peertube.conf"
SNAPSHOT_LINE = re.compile(r"^peertube on (\S+): snapshot ([0-9a-f]{8}) in local$", re.MULTILINE)
#: The checks that need PeerTube installed: they fail on a host prepared with `--tags stack`.
APP_PREFIXES = ("test_release_in_versions", "test_service_runs", "test_api_config", "test_nodeinfo",
                "test_root_token", "test_followed_instances")


@pytest.fixture(scope="module")
def host() -> Iterator[object]:
    from tests.fixtures.lab import lab_host_for, use_release_engine

    for made in lab_host_for("pt13", "13"):
        use_release_engine(made.inventory, "13")  # type: ignore[attr-defined]
        yield made


def ssh(host: object, command: str, **kwargs: object) -> str:
    proc = host.ssh(command, **kwargs)  # type: ignore[attr-defined]
    assert proc.returncode == 0, f"{command[:200]}: {proc.stdout[-1000:]}{proc.stderr[-1000:]}"
    return proc.stdout


def sql(host: object, statement: str) -> str:
    """One statement in PeerTube's database, as PeerTube's own role (SET ROLE: no password needed)."""
    return ssh(host, "runuser -u postgres -- psql -v ON_ERROR_STOP=1 -d peertube_prod -Atq -f -",
               input=f"SET ROLE peertube;\n{statement}\n")


def host_state(host: object) -> str:
    """What a deploy would change: the site, the PeerTube home, the unit, packages and the databases."""
    return ssh(host, "{ ls -la /etc/nginx/sites-enabled /etc/nginx/conf.d 2>&1; "
                     "find /var/www /etc/anl-peertube -printf '%p %U:%G %m %s\\n' 2>&1 | sort; "
                     "sha256sum /var/www/peertube/config/* /etc/systemd/system/peertube.service /etc/nginx/anl/* 2>&1; "
                     "dpkg-query -W -f '${Package}\\n' | sort; "
                     "runuser -u postgres -- psql -Atc 'SELECT datname FROM pg_database ORDER BY 1' 2>&1; } | sha256sum")


# --- Debian 12: refused before any change -------------------------------------------------

def test_debian12_refused_before_any_change() -> None:
    from tests.fixtures.lab import lab_host_for, use_release_engine

    for made in lab_host_for("pt12", "12"):
        use_release_engine(made.inventory, "12")  # type: ignore[attr-defined]
        proc = anl("deploy", "peertube", "--lab", made.name, "--debian", "12",  # type: ignore[attr-defined]
                   "--tags", "stack")
        assert proc.returncode != 0, output(proc)
        assert "Traceback" not in proc.stderr, output(proc)
        text = proc.stdout + proc.stderr
        assert "Debian 12's Node.js is 18.20, too old" in text and "peertube_nodejs" in text, output(proc)
        # Nothing installed, nothing written: the check ran before the base role.
        assert made.ssh("test -e /etc/nginx || test -e /var/www/peertube || test -e /etc/nftables.conf "  # type: ignore[attr-defined]
                        "&& echo changed || true").stdout.strip() == "", "the refused deploy changed the host"
        assert made.ssh("dpkg-query -W -f '${Status}' nodejs postgresql 2>/dev/null | grep -c installed"  # type: ignore[attr-defined]
                        ).stdout.strip() in ("", "0")


# --- Debian 13: the host's history ----------------------------------------------------------

@pytest.fixture(scope="module")
def refused_first(host: object, tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], int]:
    """`deploy peertube` (every step) on the host as it was made, with an empty artifact cache."""
    empty = tmp_path_factory.mktemp("artifacts")
    proc = anl("deploy", "peertube", "--lab", host.name, "--debian", "13",  # type: ignore[attr-defined]
               env={"ANL_STACK_ARTIFACTS_DIR": str(empty)})
    return proc, host.ssh("test -e /etc/nginx").returncode  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def stack_deploy(host: object, refused_first: object) -> subprocess.CompletedProcess[str]:
    return anl("deploy", "peertube", "--lab", host.name, "--debian", "13",  # type: ignore[attr-defined]
               "--tags", "stack", "--idempotence", "--json")


@pytest.fixture(scope="module")
def stack(host: object, stack_deploy: subprocess.CompletedProcess[str]) -> object:
    assert stack_deploy.returncode == 0, output(stack_deploy)
    after_first_deploy(host.inventory)  # type: ignore[attr-defined]
    return host


def assert_refused_for_the_release(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 2, output(proc)
    assert "Traceback" not in proc.stderr, output(proc)
    assert "peertube" in proc.stderr and "deployment.artifacts.peertube" in proc.stderr, output(proc)
    # Upstream publishes no checksum: the way out named is the commune's pin or a file admitted.
    assert "anl_artifact_pins" in proc.stderr or "anl-stack artifacts add peertube" in proc.stderr, output(proc)


def test_deploy_refused_without_the_release(refused_first: tuple[subprocess.CompletedProcess[str], int]) -> None:
    proc, nginx = refused_first
    assert_refused_for_the_release(proc)
    assert nginx != 0, "a playbook ran before the refusal"


def test_stack_deploy_is_idempotent(host: object, stack_deploy: subprocess.CompletedProcess[str]) -> None:
    proc = stack_deploy
    assert proc.returncode == 0, output(proc)
    summary = json_summary(proc)
    first, second = summary["runs"]
    assert first["kind"] == "deploy" and first["errors"] == []
    assert second["kind"] == "idempotence"
    assert second["hosts"][host.name]["changed"] == 0, second  # type: ignore[attr-defined]
    assert second["hosts"][host.name]["failed"] == 0  # type: ignore[attr-defined]
    assert_release_engine(summary["runs"], "13")


def test_stack_checks_pass(stack: object) -> None:
    host = stack
    proc = anl("verify", "peertube", "--lab", host.name, "--mark", "not app", "--json")  # type: ignore[attr-defined]
    data = json.loads(proc.stdout)
    failed = [f"{c['suite']}/{c['check']}: {c.get('message', '')}" for c in data["checks"]
              if c["outcome"] in ("failed", "error")]
    assert proc.returncode == 0, "\n".join(failed) or output(proc)
    outcomes = {c["check"]: c["outcome"] for c in data["checks"] if c["suite"] == "peertube"}
    stack_checks = [name for name in outcomes if not name.startswith(APP_PREFIXES)]
    assert len(stack_checks) >= 12, outcomes
    assert all(outcomes[name] == "passed" for name in stack_checks), outcomes
    assert not any(outcomes[name] == "passed" for name in outcomes if name.startswith(APP_PREFIXES)), outcomes


def test_vhost_passes_nginx_t(stack: object) -> None:
    host = stack
    ssh(host, f"test -L {SITE} -o -f {SITE}")
    proc = host.ssh("nginx -t")  # type: ignore[attr-defined]
    assert proc.returncode == 0, proc.stderr
    dump = ssh(host, "nginx -T 2>/dev/null")
    assert "upstream peertube_backend" in dump and "alias /var/www/peertube/peertube-latest/client/dist/$1;" in dump
    # The embed location keeps the headers but not X-Frame-Options (the commune's site frames the player).
    embed = re.search(r"location ~ \^/\(videos\|video-playlists\)/embed/ \{(.*?)\n\}", dump, re.DOTALL)
    assert embed and "Strict-Transport-Security" in embed.group(1) and "X-Frame-Options" not in embed.group(1)


def test_rendered_unit_passes_systemd_analyze(stack: object) -> None:
    """The unit (written by the stack step with the host's Node.js) as systemd checks it."""
    host = stack
    proc = host.ssh("systemd-analyze verify /etc/systemd/system/peertube.service")  # type: ignore[attr-defined]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    unit = ssh(host, "systemctl cat peertube.service")
    assert "ExecStart=/usr/bin/node dist/server" in unit
    assert ssh(host, "systemctl is-enabled peertube.service || true").strip() == "disabled", \
        "the stack step enabled a service whose code is not there"


def leaf_paths(data: Any, prefix: str = "") -> set[str]:
    """Dotted paths of a parsed YAML document's leaves (a list is a leaf)."""
    if isinstance(data, dict) and data:
        return {p for key, value in data.items() for p in leaf_paths(value, f"{prefix}{key}.")}
    return {prefix.rstrip(".")}


def upstream_keys() -> set[str]:
    return {line.strip() for line in KEYS.read_text().splitlines() if line.strip() and not line.startswith("#")}


def test_production_yaml_keys_are_upstream_keys(stack: object) -> None:
    """The production.yaml the host got, parsed: every key is one of the upstream example's (no typo PeerTube
    would silently ignore), and the values the recipe owes are there."""
    host = stack
    production = yaml.safe_load(ssh(host, f"cat {CONFIG}/production.yaml"))
    unknown = leaf_paths(production) - upstream_keys()
    assert not unknown, f"keys not in the upstream example: {sorted(unknown)}"
    assert production["signup"]["enabled"] is False and production["import"]["videos"]["http"]["enabled"] is False
    assert production["instance"]["languages"] == ["fr"] and production["live"]["enabled"] is False
    cpus = int(ssh(host, "nproc").strip())
    assert production["transcoding"]["threads"] == max(1, cpus - 1)


def test_production_yaml_with_every_option() -> None:
    """The template with live, object storage, redundancy, SMTP and registrations on, rendered with Jinja and
    Ansible's own filters: still only upstream keys, and the options land where PeerTube reads them."""
    import jinja2
    from ansible.plugins.filter.core import to_bool

    values: dict[str, Any] = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
    values.update(yaml.safe_load((ROLE / "vars/main.yml").read_text()))
    values.update({
        "ansible_managed": "test", "peertube_domain": "video.exemple.fr", "peertube_secret": "0" * 64,
        "peertube_db_password": "p'w\"d: #x", "peertube_storage_dir": "/var/www/peertube/storage",
        "peertube_db_user": "peertube", "peertube_threads": 3, "peertube_instance_name": "Vidéos d'Énée",
        "peertube_instance_description": "x", "peertube_admin_email": "a@exemple.fr", "peertube_smtp_from": "n@e.fr",
        "peertube_live_enabled": True, "peertube_object_storage_enabled": True,
        "peertube_object_storage_endpoint": "s3.exemple.fr", "peertube_object_storage_bucket": "videos",
        "peertube_object_storage_region": "fr-par", "peertube_object_storage_access_key_id": "AK",
        "peertube_object_storage_secret_access_key": "S'K\"", "peertube_follow_hosts": ["video.autre.fr"],
        "peertube_redundancy_hosts": ["video.autre.fr"], "peertube_smtp_host": "smtp.exemple.fr",
        "peertube_signup_enabled": True, "peertube_user_video_quota": -1})
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    environment.filters.update(to_json=json.dumps, bool=to_bool)
    rendered = environment.from_string((ROLE / "templates/production.yaml.j2").read_text()).render(**values)
    production = yaml.safe_load(rendered)
    unknown = leaf_paths(production) - upstream_keys()
    assert not unknown, f"keys not in the upstream example: {sorted(unknown)}"
    assert production["live"]["enabled"] is True and production["live"]["rtmp"] == {"enabled": True, "port": 1935}
    assert production["object_storage"]["credentials"]["secret_access_key"] == "S'K\""
    assert production["database"]["password"] == "p'w\"d: #x"
    assert production["instance"]["name"] == "Vidéos d'Énée"
    assert production["redundancy"]["videos"]["strategies"][0]["strategy"] == "most-views"
    assert production["smtp"]["hostname"] == "smtp.exemple.fr" and production["signup"]["enabled"] is True
    assert production["transcoding"]["threads"] == 3 and production["transcoding"]["resolutions"]["1440p"] is False


def test_app_step_refused_without_the_release(stack: object, tmp_path_factory: pytest.TempPathFactory) -> None:
    host = stack
    before = host_state(host)
    empty = tmp_path_factory.mktemp("artifacts-app")
    proc = anl("deploy", "peertube", "--lab", host.name, "--debian", "13", "--tags", "app",  # type: ignore[attr-defined]
               env={"ANL_STACK_ARTIFACTS_DIR": str(empty)})
    assert_refused_for_the_release(proc)
    assert host_state(host) == before, "the refused app step changed the host"


# --- upgrade: the refusals that need no release --------------------------------------------

def test_upgrade_refused_where_peertube_was_never_installed(stack: object,
                                                           tmp_path_factory: pytest.TempPathFactory) -> None:
    """From the next recipe, on the stack-only host, with an empty artifact cache: the upgrade step's read-only
    checks refuse it (exit 2) before the pre-upgrade backup, naming how to provide the release; nothing changes,
    and the host is still recorded on the current recipe."""
    host = stack
    before, snapshots = host_state(host), snapshot_ids(host, "peertube")
    tree = next_recipe(tmp_path_factory.mktemp("next-recipe"), "peertube")
    empty = tmp_path_factory.mktemp("artifacts-upgrade")
    proc = anl_in(tree, "upgrade", "peertube", "--lab", host.name,  # type: ignore[attr-defined]
                  env={"ANL_STACK_ARTIFACTS_DIR": str(empty)})
    assert_upgrade_refused(proc, "upgrade of peertube refused on", "before any change",
                           "No PeerTube is installed on this host", "only the stack was deployed",
                           "anl-stack artifacts add peertube peertube-v8.2.2.zip", "anl_artifact_pins")
    assert host_state(host) == before, "the refused upgrade changed the host"
    assert snapshot_ids(host, "peertube") == snapshots, "the refused upgrade took a backup"
    again = anl("upgrade", "peertube", "--lab", host.name)  # type: ignore[attr-defined]
    assert again.returncode == 0 and "already runs recipe 0.2.0" in again.stdout, output(again)


# --- backup and restore -------------------------------------------------------------------

def back_up(host: object) -> str:
    proc = anl("backup", "peertube", "--lab", host.name)  # type: ignore[attr-defined]
    assert proc.returncode == 0, output(proc)
    match = SNAPSHOT_LINE.search(proc.stdout)
    assert match and match.group(1) == host.name, output(proc)  # type: ignore[attr-defined]
    return match.group(2)


def live_state(host: object) -> dict[str, object]:
    return {"rows": sql(host, f"SELECT id, label FROM {TABLE} ORDER BY id;").splitlines(),
            "config": ssh(host, f"cd {CONFIG} && stat -c '%n %U:%G %a' * && sha256sum *")}


def test_collective_sync_then_plan(stack: object, tmp_path_factory: pytest.TempPathFactory,
                                   keys: dict[str, str]) -> None:  # noqa: F811
    """`collective sync` fills peertube's follows and redundancy from the other members' verified
    instances; `plan --tags stack` on the converged host lists them and shows the one change they
    make to the stack (redundancy in production.yaml); the deploy with them is idempotent. The
    follows themselves are made by the `app` step (PeerTube's API)."""
    from tests.fixtures.federation import synced_then_planned

    with synced_then_planned(anl, stack, "peertube", tmp_path_factory.mktemp("collective"), keys,
                             changes=("peertube : Write production.yaml",)):
        # Redundancy with the followed instances is in production.yaml: deployed once, then nothing changes.
        proc = anl("deploy", "peertube", "--lab", stack.name, "--debian", "13", "--tags", "stack",  # type: ignore[attr-defined]
                   "--idempotence", "--json")
        assert proc.returncode == 0, output(proc)
        first, second = json_summary(proc)["runs"]
        assert first["hosts"][stack.name]["changed"] >= 1 and second["hosts"][stack.name]["changed"] == 0, second  # type: ignore[attr-defined]
        production = yaml.safe_load(ssh(stack, f"cat {CONFIG}/production.yaml"))
        strategies = production["redundancy"]["videos"]["strategies"]
        assert strategies and strategies[0]["strategy"] == "most-views", strategies


def test_backup_settings_written_by_the_deploy(stack: object) -> None:
    host = stack
    spec = json.loads(ssh(host, "cat /etc/anl-stack/backup/plugins/peertube.json"))
    assert spec["paths"][:2] == [CONFIG, "/etc/anl-peertube"]
    assert "/var/www/peertube/storage/web-videos" in spec["paths"]
    assert "/var/www/peertube/storage/tmp" not in spec["paths"]
    assert spec["databases"] == [{"engine": "postgresql", "name": "peertube_prod", "owner": "peertube"}]
    assert spec["recipe"]["app_version"] == "8.2.2"


def test_backup_restore_round_trip(stack: object) -> None:
    host = stack
    sql(host, f"DROP TABLE IF EXISTS {TABLE}; CREATE TABLE {TABLE} (id int PRIMARY KEY, label text); "
              f"INSERT INTO {TABLE} VALUES (1, 'conseil municipal du 12 mars'), (2, 'vœux du maire');")
    # What the admin pages write (PeerTube's local-production.json) goes with config/.
    ssh(host, f"printf '{{\"instance\":{{\"name\":\"Vidéos\"}}}}\\n' > {CONFIG}/local-production.json && "
              f"chown peertube:peertube {CONFIG}/local-production.json && chmod 640 {CONFIG}/local-production.json")
    before = live_state(host)
    snapshot = back_up(host)

    sql(host, f"DELETE FROM {TABLE} WHERE id = 2; UPDATE {TABLE} SET label = 'changé' WHERE id = 1; "
              "CREATE TABLE anl_after_backup (id int);")
    ssh(host, f"printf '{{}}\\n' > {CONFIG}/local-production.json && echo '# changed' >> {CONFIG}/production.yaml")
    assert live_state(host) != before

    proc = anl("restore", "peertube", "--lab", host.name, "--from", snapshot, "--json")  # type: ignore[attr-defined]
    summary = json_summary(proc)
    assert summary["exit_code"] == 0, output(proc)
    failed = {c["check"] for c in summary["verify"]["checks"] if c["outcome"] in ("failed", "error")}
    assert all(name.startswith(APP_PREFIXES) for name in failed), failed
    assert live_state(host) == before
    assert sql(host, "SELECT to_regclass('anl_after_backup') IS NULL;").strip() == "t"
    extensions = ssh(host, "runuser -u postgres -- psql -d peertube_prod -Atc 'SELECT extname FROM pg_extension'")
    assert {"pg_trgm", "unaccent"} <= set(extensions.split())


# --- remove (last: it takes the host's PeerTube away) ------------------------------------

def test_remove_keeps_the_data(stack: object) -> None:
    host = stack
    proc = anl("remove", "peertube", "--lab", host.name)  # type: ignore[attr-defined]
    assert proc.returncode == 0, output(proc)
    assert ssh(host, f"for f in {SITE} /etc/nginx/conf.d/anl-peertube.conf /etc/systemd/system/peertube.service; "
                     "do test -e $f && echo $f; done; true").strip() == ""
    ssh(host, "nginx -t && systemctl is-active nginx")
    assert sql(host, f"SELECT label FROM {TABLE} ORDER BY id;").splitlines()[0] == "conseil municipal du 12 mars"
    ssh(host, f"test -f {CONFIG}/production.yaml")
