"""The mastodon recipe on real lab hosts (Debian 13; Debian 12 only for its refusal).

One Debian 13 host (`md13`), whose history module fixtures make in order:
the deploy refused before any change (no release in the cache, and upstream
publishes no checksum), then `deploy mastodon --tags stack` with
--idempotence (second run changed=0). Each test asks for the step it checks,
so it holds on its own: the refusals, the deploy, `verify mastodon --mark
"not app"`, the vhost through `nginx -t`, the three units rendered from the
recipe's templates on the host and checked by `systemd-analyze verify`, the
rendered .env.production against the dated list of upstream's keys
(tests/integration/data), the VAPID public key derived by the host's openssl
from the vault's private key against the same derivation here, the `app`
step refused without the release with the host left as it was, `anl-stack
upgrade mastodon` from a next recipe refused before any change (never
installed, a skipped minor series, the missing release), the
PostgreSQL backup and restore round trip (rows the test writes as the
mastodon role over the socket), and, last, the remove step. A Debian 12
host (`md12`) is made only to see the deploy refused before any change.

What is not here, and why: the application steps (tag `app`) need Mastodon's
source release, its gems (rubygems) and a full build, which this build
machine cannot download; they run when the release is in the artifact cache
(see the fiche, "What CI does not exercise"). Nothing here fakes Mastodon.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.lab import after_first_deploy, assert_release_engine
from tests.fixtures.upgrade import anl_in, assert_upgrade_refused, next_recipe, snapshot_ids
from tests.integration.test_nextcloud import anl, json_summary, output
from tests.unit.test_collective import keys  # noqa: F401 (a fixture: throw-away OpenPGP keys)

pytestmark = pytest.mark.lab

PROJECT = Path(__file__).resolve().parent.parent.parent
ROLE = PROJECT / "plugins/mastodon/roles/mastodon"
KEYS_FIXTURE = Path(__file__).resolve().parent / "data/mastodon-env-sample-keys.txt"
TABLE = "anl_roundtrip"
DB = "mastodon_production"
SITE = "/etc/nginx/sites-enabled/anl-mastodon.conf"
UNITS = ("mastodon-web", "mastodon-sidekiq", "mastodon-streaming")
SNAPSHOT_LINE = re.compile(r"^mastodon on (\S+): snapshot ([0-9a-f]{8}) in local$", re.MULTILINE)
#: The checks that need Mastodon installed: they fail on a host prepared with `--tags stack`.
APP_CHECKS = ("test_units_running", "test_health_up", "test_instance_domain_and_version", "test_owner_webfinger",
              "test_streaming_health", "test_limited_federation_as_configured")


@pytest.fixture(scope="module")
def host() -> Iterator[object]:
    from tests.fixtures.lab import lab_host_for, use_release_engine

    for made in lab_host_for("md13", "13"):
        use_release_engine(made.inventory, "13")  # type: ignore[attr-defined]
        yield made


def ssh(host: object, command: str, **kwargs: object) -> str:
    proc = host.ssh(command, **kwargs)  # type: ignore[attr-defined]
    assert proc.returncode == 0, f"{command[:200]}: {proc.stdout[-1000:]}{proc.stderr[-1000:]}"
    return proc.stdout


def sql(host: object, statement: str) -> str:
    """One statement in Mastodon's database as its own role, over the local socket (peer authentication)."""
    return ssh(host, f"runuser -u mastodon -- psql -XAt -v ON_ERROR_STOP=1 -h /var/run/postgresql -d {DB}",
               input=statement + "\n")


def redis(host: object, command: str) -> str:
    """redis-cli on the host (database 0 unless COMMAND starts with -n N)."""
    return ssh(host, f"redis-cli {command}")


def secret_values(host: object) -> dict[str, str]:
    from anl_stack.inventory.model import resolve_inventory_path
    from anl_stack.inventory.vault import read_secrets

    paths = resolve_inventory_path(host.inventory)  # type: ignore[attr-defined]
    values = read_secrets(paths, Path(host.vault_password_file))  # type: ignore[attr-defined]
    return {k: str(v) for k, v in values.items() if not k.endswith("_public")}


def host_state(host: object) -> str:
    """What a deploy would change: sites, units, the mastodon user's folder, settings, packages and databases."""
    return ssh(host, "{ ls -la /etc/nginx/sites-enabled /etc/nginx/conf.d /etc/systemd/system 2>&1; "
                     "find /home/mastodon /etc/anl-mastodon -printf '%p %U:%G %m %s\\n' 2>&1 | sort; "
                     "sha256sum /etc/anl-mastodon/* /etc/nginx/anl/* 2>&1; dpkg-query -W -f '${Package}\\n' | sort; "
                     "runuser -u postgres -- psql -XAtc 'SELECT datname FROM pg_database ORDER BY 1' 2>&1; } | sha256sum")


def p256_public(private_hex: str) -> str:
    """The VAPID public key of a private key, computed here (cryptography), as Mastodon's webpush gem writes it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.derive_private_key(int(private_hex, 16), ec.SECP256R1())
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(point).decode()


def render(template: str, **overrides: object) -> str:
    """A template of the role, rendered with its defaults (Jinja, strict) and test values."""
    import jinja2
    import yaml
    from ansible.module_utils.parsing.convert_bool import boolean

    values: dict[str, object] = dict(anl_domain="exemple.fr", ansible_managed="test")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROLE / "templates")),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True)
    # The one Ansible filter the templates use.
    env.filters["bool"] = lambda value: boolean(value, strict=False)
    for source in ("defaults/main.yml", "vars/main.yml"):
        for name, value in yaml.safe_load((ROLE / source).read_text()).items():
            values.setdefault(name, value)
    values.update(overrides)
    # Defaults refer to each other ("{{ anl_domain }}", "{{ mastodon_home }}/live"): resolve them in turn.
    # Those that need Ansible's own filters are not used by the templates checked here: they stay as written.
    for _ in range(3):
        for name, value in list(values.items()):
            if isinstance(value, str) and "{{" in value and name not in overrides:
                try:
                    values[name] = env.from_string(value).render(**values)
                except jinja2.TemplateError:
                    pass
    return env.get_template(template).render(**values)


# --- the refusal on Debian 12 -----------------------------------------------------------

def test_debian_12_refused_before_any_change() -> None:
    from tests.fixtures.lab import lab_host_for

    for old in lab_host_for("md12", "12"):
        # The stack step needs no release: the platform is the only reason left to refuse.
        proc = anl("deploy", "mastodon", "--lab", old.name, "--debian", "12", "--tags", "stack")  # type: ignore[attr-defined]
        assert proc.returncode == 2, output(proc)
        assert "Traceback" not in proc.stderr, output(proc)
        assert "does not support debian-12 (host md12)" in proc.stderr, output(proc)
        # The reason given is the manifest's: Debian 12's runtimes are too old, the upstream guide dropped it.
        assert "2025-09-08" in proc.stderr and "Node.js 18" in proc.stderr, output(proc)
        nothing = old.ssh("test -e /etc/nginx || test -e /home/mastodon || test -e /etc/anl-mastodon")  # type: ignore[attr-defined]
        assert nothing.returncode != 0, "a playbook ran on Debian 12 before the refusal"


# --- the Debian 13 host's history: the refusal on the host as made, then the stack -----

@pytest.fixture(scope="module")
def refused_first(host: object, tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], int]:
    """`deploy mastodon` (every step) on the host as it was made, with an empty artifact cache."""
    empty = tmp_path_factory.mktemp("artifacts")
    proc = anl("deploy", "mastodon", "--lab", host.name, "--debian", "13",  # type: ignore[attr-defined]
               env={"ANL_STACK_ARTIFACTS_DIR": str(empty)})
    return proc, host.ssh("test -e /etc/nginx").returncode  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def stack_deploy(host: object, refused_first: object) -> subprocess.CompletedProcess[str]:
    return anl("deploy", "mastodon", "--lab", host.name, "--debian", "13",  # type: ignore[attr-defined]
               "--tags", "stack", "--idempotence", "--json")


@pytest.fixture(scope="module")
def stack(host: object, stack_deploy: subprocess.CompletedProcess[str]) -> object:
    assert stack_deploy.returncode == 0, output(stack_deploy)
    after_first_deploy(host.inventory)  # type: ignore[attr-defined]
    return host


def assert_refused_for_the_release(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 2, output(proc)
    assert "Traceback" not in proc.stderr, output(proc)
    assert "mastodon" in proc.stderr and "deployment.artifacts.mastodon" in proc.stderr, output(proc)
    # Upstream publishes no checksum: the way out named is the commune's pin or a file admitted.
    assert "anl_artifact_pins" in proc.stderr or "anl-stack artifacts add mastodon" in proc.stderr, output(proc)


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
    proc = anl("verify", "mastodon", "--lab", host.name, "--mark", "not app", "--json")  # type: ignore[attr-defined]
    data = json.loads(proc.stdout)
    failed = [f"{c['suite']}/{c['check']}: {c.get('message', '')}" for c in data["checks"]
              if c["outcome"] in ("failed", "error")]
    assert proc.returncode == 0, "\n".join(failed) or output(proc)
    outcomes = {c["check"]: c["outcome"] for c in data["checks"] if c["suite"] == "mastodon"}
    stack_checks = [name for name in outcomes if not name.startswith(APP_CHECKS + ("test_env_production",))]
    assert len(stack_checks) >= 8, outcomes
    assert all(outcomes[name] == "passed" for name in stack_checks), outcomes
    # Without the application, .env.production is not applicable (with its reason), never "passed".
    env = [c for c in data["checks"] if c["suite"] == "mastodon" and c["check"].startswith("test_env_production")]
    assert env and env[0]["outcome"] == "n/a" and env[0].get("message"), env
    assert not any(outcomes[name] == "passed" for name in outcomes if name.startswith(APP_CHECKS)), outcomes


def test_plan_warns_that_local_domain_cannot_change(stack: object) -> None:
    """The LOCAL_DOMAIN record is what the plan lists on a first deploy; on this host it is recorded once."""
    host = stack
    assert ssh(host, "cat /etc/anl-mastodon/local_domain").strip().startswith("social.")
    text = (ROLE / "tasks/stack.yml").read_text()
    assert re.search(r'- name: "WARNING: LOCAL_DOMAIN can never change.*\{\{ mastodon_domain \}\}"', text)


def test_vhost_passes_nginx_t(stack: object) -> None:
    host = stack
    ssh(host, f"test -L {SITE} -o -f {SITE}")
    proc = host.ssh("nginx -t")  # type: ignore[attr-defined]
    assert proc.returncode == 0, proc.stderr
    dump = ssh(host, "nginx -T 2>/dev/null")
    assert "upstream mastodon_backend" in dump and "upstream mastodon_streaming" in dump
    assert "root /home/mastodon/live/public;" in dump


def test_vapid_public_key_derived_from_the_vault(stack: object) -> None:
    """openssl on the host and cryptography here give the same P-256 public key for the vault's private key."""
    host = stack
    private_hex = secret_values(host)["mastodon_vapid_private_key_hex"]
    assert re.fullmatch(r"[0-9a-f]{64}", private_hex)
    recorded = ssh(host, "cat /etc/anl-mastodon/vapid_public_key").strip()
    assert recorded == p256_public(private_hex)
    assert len(base64.urlsafe_b64decode(recorded)) == 65


def test_vapid_tool_refuses_a_key_outside_the_curve(stack: object) -> None:
    host = stack
    order = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"
    for bad in (order, "0" * 64, "abc"):
        proc = host.ssh("/usr/local/libexec/anl-mastodon-vapid", input=bad + "\n")  # type: ignore[attr-defined]
        assert proc.returncode != 0 and proc.stdout == "", (bad, proc.stdout)
    proc = host.ssh("/usr/local/libexec/anl-mastodon-vapid", input="01" * 32 + "\n")  # type: ignore[attr-defined]
    assert proc.returncode == 0, proc.stderr
    pair = json.loads(proc.stdout)
    assert pair["public"] == p256_public("01" * 32)
    assert base64.urlsafe_b64decode(pair["private"]) == bytes.fromhex("01" * 32)


def test_units_pass_systemd_analyze_verify(stack: object) -> None:
    """The three units, rendered from the recipe's templates, pass `systemd-analyze verify` on the host."""
    host = stack
    folder = ssh(host, "mktemp -d").strip()
    try:
        for unit in UNITS:
            text = render(f"{unit}.service.j2")
            ssh(host, f"cat > {folder}/{unit}.service", input=text)
        # systemd-analyze verify wants the commands to exist: Debian's bundle and node, installed by the stack.
        proc = host.ssh(f"cd {folder} && systemd-analyze verify {' '.join(u + '.service' for u in UNITS)}")  # type: ignore[attr-defined]
        assert proc.returncode == 0, proc.stdout + proc.stderr
        problems = [line for line in (proc.stdout + proc.stderr).splitlines() if folder in line]
        assert problems == [], problems
        assert "ExecStart=/usr/bin/bundle exec puma" in render("mastodon-web.service.j2")
        assert "ExecStart=/usr/bin/node ./streaming/index.js" in render("mastodon-streaming.service.j2")
    finally:
        host.ssh(f"rm -rf {folder}")  # type: ignore[attr-defined]


def sample_keys() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for line in KEYS_FIXTURE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, *tags = line.split()
            found[name] = set(tags)
    return found


def env_keys(text: str) -> list[str]:
    return [line.split("=", 1)[0] for line in text.splitlines() if line and not line.startswith("#")]


@pytest.mark.parametrize("options", [
    {},
    {"mastodon_smtp_host": "smtp.exemple.fr", "mastodon_smtp_login": "mairie", "mastodon_s3_enabled": True,
     "mastodon_s3_bucket": "medias", "mastodon_s3_endpoint": "https://s3.exemple.fr", "mastodon_s3_region": "fr",
     "mastodon_s3_alias_host": "medias.exemple.fr", "mastodon_web_domain": "www.social.exemple.fr",
     "mastodon_limited_federation": True, "mastodon_single_user_mode": True,
     "mastodon_update_check_url": "https://miroir.exemple.fr/update-check"},
], ids=["defaults", "everything"])
def test_env_production_keys_against_upstream_sample(stack: object, options: dict[str, object]) -> None:
    """Every key of the rendered .env.production is one of upstream's, each once; the required ones are all
    there; and the host's shell reads it back as written (dotenv's syntax for these values)."""
    host = stack
    secrets = {name: "x" * 32 for name in ("mastodon_secret_key_base", "mastodon_otp_secret",
                                            "mastodon_ar_encryption_primary_key",
                                            "mastodon_ar_encryption_deterministic_key",
                                            "mastodon_ar_encryption_key_derivation_salt", "mastodon_smtp_password",
                                            "mastodon_s3_secret_access_key")}
    text = render("env.production.j2", mastodon_vapid_private_key="cHJpdmF0ZQ==",
                  mastodon_vapid_public_key="cHVibGlj", **secrets, **options)
    rendered = env_keys(text)
    known = sample_keys()
    assert len(known) >= 50
    assert len(rendered) == len(set(rendered)), rendered
    assert [k for k in rendered if k not in known] == []
    required = {k for k, tags in known.items() if "required" in tags}
    assert required - set(rendered) == set()
    values = dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert values["LOCAL_DOMAIN"] == "social.exemple.fr"
    assert values["DB_HOST"] == "/var/run/postgresql" and values["DB_PASS"] == ""
    assert values["UPDATE_CHECK_URL"] == options.get("mastodon_update_check_url", "")
    assert values["LIMITED_FEDERATION_MODE"] == ("true" if options else "false")
    if options:
        assert {"SMTP_SERVER", "S3_BUCKET", "S3_ENDPOINT", "WEB_DOMAIN"} <= set(rendered)
    else:
        assert not {k for k in rendered if k.startswith(("SMTP_SERVER", "S3_BUCKET", "AWS_", "WEB_DOMAIN"))}
    script = "set -a; . /dev/stdin; set +a; env -0"
    proc = host.ssh(f"env -i bash -c '{script}'", input=text)  # type: ignore[attr-defined]
    assert proc.returncode == 0, proc.stderr
    read = dict(item.split("=", 1) for item in proc.stdout.split("\0") if "=" in item)
    assert {k: read.get(k) for k in values} == values


def test_app_step_refused_without_the_release(stack: object, tmp_path_factory: pytest.TempPathFactory) -> None:
    host = stack
    before = host_state(host)
    empty = tmp_path_factory.mktemp("artifacts-app")
    proc = anl("deploy", "mastodon", "--lab", host.name, "--debian", "13", "--tags", "app",  # type: ignore[attr-defined]
               env={"ANL_STACK_ARTIFACTS_DIR": str(empty)})
    assert_refused_for_the_release(proc)
    assert host_state(host) == before, "the refused app step changed the host"


# --- upgrade: the refusals that need no release --------------------------------------------

def test_upgrade_refusals_before_any_change(stack: object, tmp_path_factory: pytest.TempPathFactory) -> None:
    """From the next recipe (Mastodon 4.7.0), with an empty artifact cache, before the pre-upgrade backup:
    refused where Mastodon was never installed; refused when the version the recipe records on the host
    would skip a minor series (the record written by hand: this is the refusal only, no Mastodon runs);
    from the previous series, the read-only checks pass and the missing release refuses it. Exit 2 each time,
    the host unchanged, no snapshot taken, the host still recorded on the current recipe."""
    host = stack
    tree = next_recipe(tmp_path_factory.mktemp("next-recipe"), "mastodon")
    empty = {"ANL_STACK_ARTIFACTS_DIR": str(tmp_path_factory.mktemp("artifacts-upgrade"))}
    snapshots = snapshot_ids(host, "mastodon")
    assert host.ssh("test -e /etc/anl-mastodon/release").returncode != 0  # type: ignore[attr-defined]

    def upgrade() -> subprocess.CompletedProcess[str]:
        before = host_state(host)
        proc = anl_in(tree, "upgrade", "mastodon", "--lab", host.name, env=empty)  # type: ignore[attr-defined]
        assert host_state(host) == before, "the refused upgrade changed the host: " + output(proc)
        return proc

    assert_upgrade_refused(upgrade(), "upgrade of mastodon refused on", "No Mastodon is installed on this host",
                           "anl-stack artifacts add mastodon mastodon-4.7.0.tar.gz", "Nothing was changed")
    try:
        ssh(host, "echo 4.5.7 > /etc/anl-mastodon/release")
        assert_upgrade_refused(upgrade(), "Mastodon 4.5.7 is installed and this recipe installs 4.7.0",
                               "skip the minor series 4.6", "Upgrade through 4.6.x first")
        ssh(host, "echo 4.6.3 > /etc/anl-mastodon/release")
        proc = upgrade()
        assert_refused_for_the_release(proc)
        assert "refused on" not in proc.stderr, output(proc)
    finally:
        ssh(host, "rm -f /etc/anl-mastodon/release")
    assert snapshot_ids(host, "mastodon") == snapshots, "a refused upgrade took a backup"
    again = anl("upgrade", "mastodon", "--lab", host.name)  # type: ignore[attr-defined]
    assert again.returncode == 0 and "already runs recipe 0.2.0" in again.stdout, output(again)


# --- backup and restore -------------------------------------------------------------------

def back_up(host: object) -> str:
    proc = anl("backup", "mastodon", "--lab", host.name)  # type: ignore[attr-defined]
    assert proc.returncode == 0, output(proc)
    match = SNAPSHOT_LINE.search(proc.stdout)
    assert match and match.group(1) == host.name, output(proc)  # type: ignore[attr-defined]
    return match.group(2)


def test_collective_sync_then_plan(stack: object, tmp_path_factory: pytest.TempPathFactory,
                                   keys: dict[str, str]) -> None:  # noqa: F811
    """`collective sync` fills mastodon's federation settings from the other members' verified
    instances, and `plan --tags stack` on the converged host lists them and changes nothing (the
    settings are read by the `app` step; the nextcloud module deploys its stack with its own)."""
    from tests.fixtures.federation import synced_then_planned

    with synced_then_planned(anl, stack, "mastodon", tmp_path_factory.mktemp("collective"), keys):
        pass


def test_backup_settings_written_by_the_deploy(stack: object) -> None:
    host = stack
    spec = json.loads(ssh(host, "cat /etc/anl-stack/backup/plugins/mastodon.json"))
    assert spec["paths"] == ["/etc/anl-mastodon", "/home/mastodon/live/public/system"]
    postgresql, redis = spec["databases"]
    assert postgresql == {"engine": "postgresql", "name": DB, "owner": "mastodon"}
    assert {**redis, "port": int(redis["port"])} == {"engine": "redis", "name": "mastodon-redis", "port": 6379, "db": 0}
    assert spec["recipe"]["app_version"] == "4.7.0"


def test_backup_restore_round_trip(stack: object) -> None:
    host = stack
    # Rows written by Mastodon's own role over the socket, as the application would.
    sql(host, f"DROP TABLE IF EXISTS {TABLE}; CREATE TABLE {TABLE} (id int PRIMARY KEY, label text); "
              f"INSERT INTO {TABLE} VALUES (1, 'compte de la mairie'), (2, 'conseil du 12 mars');")
    # An uploaded file as Mastodon writes it (its user, mode 0644: nginx serves it); root's shell here
    # has the hardened umask 027, which would make a file nginx may not read.
    ssh(host, "printf 'avatar' | install -m 0644 -o mastodon -g mastodon /dev/stdin "
              "/home/mastodon/live/public/system/anl-file")
    # Redis keys as Sidekiq and the home feeds leave them (a list, a hash, one with a time to live),
    # and a key of another application's Redis database, which a restore must leave alone.
    redis(host, "FLUSHALL")
    redis(host, "RPUSH queue:default job-1 job-2")
    redis(host, "HSET feed:1 status 42")
    redis(host, "SET session:abc vivant EX 86400")
    redis(host, "-n 1 SET other:app kept")
    before = sql(host, f"SELECT id, label FROM {TABLE} ORDER BY id")
    snapshot = back_up(host)

    sql(host, f"DELETE FROM {TABLE} WHERE id = 2; UPDATE {TABLE} SET label = 'changé' WHERE id = 1; "
              "CREATE TABLE anl_after_backup (id int);")
    ssh(host, "printf 'changed' > /home/mastodon/live/public/system/anl-file")
    assert sql(host, f"SELECT id, label FROM {TABLE} ORDER BY id") != before
    redis(host, "DEL queue:default")
    redis(host, "SET after:backup 1")
    redis(host, "-n 1 SET other:app changed-since")

    proc = anl("restore", "mastodon", "--lab", host.name, "--from", snapshot, "--json")  # type: ignore[attr-defined]
    summary = json_summary(proc)
    assert summary["exit_code"] == 0, output(proc)
    failed = {c["check"]: c.get("message", "") for c in summary["verify"]["checks"]
              if c["outcome"] in ("failed", "error")}
    stack_failures = {name: message for name, message in failed.items() if not name.startswith(APP_CHECKS)}
    assert not stack_failures, stack_failures
    assert sql(host, f"SELECT id, label FROM {TABLE} ORDER BY id") == before
    assert sql(host, "SELECT to_regclass('anl_after_backup') IS NULL").strip() == "t"
    assert ssh(host, "cat /home/mastodon/live/public/system/anl-file") == "avatar"
    assert ssh(host, "stat -c '%U %a' /home/mastodon/live/public/system/anl-file").split() == ["mastodon", "644"]
    # Mastodon's Redis database is as it was backed up (keys, values, the time to live kept)...
    assert sorted(redis(host, "--scan").split()) == ["feed:1", "queue:default", "session:abc"]
    assert redis(host, "LRANGE queue:default 0 -1").split() == ["job-1", "job-2"]
    assert redis(host, "HGET feed:1 status").strip() == "42"
    assert 0 < int(redis(host, "TTL session:abc")) <= 86400
    # ...and the other database was left alone.
    assert redis(host, "-n 1 GET other:app").strip() == "changed-since"
    redis(host, "FLUSHALL")


# --- remove (last: it takes the host's Mastodon site away) -------------------------------

def test_remove_keeps_the_data(stack: object) -> None:
    host = stack
    proc = anl("remove", "mastodon", "--lab", host.name)  # type: ignore[attr-defined]
    assert proc.returncode == 0, output(proc)
    assert ssh(host, f"for f in {SITE} /etc/nginx/conf.d/anl-mastodon.conf; do test -e $f && echo $f; done; true"
               ).strip() == ""
    ssh(host, "nginx -t && systemctl is-active nginx")
    assert sql(host, f"SELECT label FROM {TABLE} ORDER BY id").splitlines()[0] == "compte de la mairie"
    ssh(host, "test -f /etc/anl-mastodon/local_domain && id mastodon")
