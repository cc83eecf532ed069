"""The framadate recipe on real lab hosts (Debian 13 and 12).

One host per release (`fd13`, `fd12`), whose history module fixtures make in
order: the deploy refused before any change (no release in the cache, and
upstream publishes no checksum), then `deploy framadate --tags stack` with
--idempotence (second run changed=0). Each test asks for the step it checks,
so it holds on its own: the refusals, the deploy, `verify framadate --mark
"not app"`, the rendered config.php as valid PHP that gives back what it was
given (`php -l`, then read by the host's PHP), the vhost through `nginx -t`,
the MariaDB backup and restore round trip (rows seeded by the test in
Framadate's database as its own user, and the admin password file), the
`app` step refused without the release with the host left as it was, and,
last, the remove step.

What is not here, and why: the application steps (tag `app`) need the
Framadate release zip, which this build machine cannot download and whose
checksum only a commune can pin; they run when the release is in the
artifact cache (see the fiche, "What CI does not exercise"). Nothing here
fakes Framadate.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.lab import after_first_deploy, assert_release_engine
from tests.integration.test_nextcloud import anl, json_summary, output

pytestmark = pytest.mark.lab

PROJECT = Path(__file__).resolve().parent.parent.parent
TABLE = "anl_roundtrip"
HTPASSWD = "/etc/anl-framadate/admin.htpasswd"
SITE = "/etc/nginx/sites-enabled/anl-framadate.conf"
PHP_BY_DEBIAN = {"12": "8.2", "13": "8.4"}
SNAPSHOT_LINE = re.compile(r"^framadate on (\S+): snapshot ([0-9a-f]{8}) in local$", re.MULTILINE)
#: The checks that need Framadate installed: they fail on a host prepared with `--tags stack`.
APP_PREFIXES = ("test_home_page", "test_date_poll_form", "test_admin_pages_with", "test_code_and_settings",
                "test_installer_removed", "test_file_modes", "test_migrations_done")


@pytest.fixture(scope="module", params=["13", "12"])
def host(request: pytest.FixtureRequest) -> Iterator[object]:
    from tests.fixtures.lab import lab_host_for, use_release_engine

    for made in lab_host_for(f"fd{request.param}", request.param):
        use_release_engine(made.inventory, request.param)  # type: ignore[attr-defined]
        yield made


def ssh(host: object, command: str, **kwargs: object) -> str:
    proc = host.ssh(command, **kwargs)  # type: ignore[attr-defined]
    assert proc.returncode == 0, f"{command[:200]}: {proc.stdout[-1000:]}{proc.stderr[-1000:]}"
    return proc.stdout


def sql(host: object, statement: str, user: str = "root") -> str:
    """One statement in Framadate's database, as root or (``user="framadate"``) as its own user."""
    if user == "root":
        return ssh(host, f"mariadb -N -B framadate -e \"{statement}\"")
    # The password (from the vault) goes as an option file on standard input, never on a command line.
    password = secret_values(host)["framadate_db_password"]
    return ssh(host, f"mariadb --defaults-extra-file=/dev/stdin -N -B -u framadate framadate -e \"{statement}\"",
               input=f"[client]\npassword={password}\n")


def secret_values(host: object) -> dict[str, str]:
    from anl_stack.inventory.model import resolve_inventory_path
    from anl_stack.inventory.vault import read_secrets

    paths = resolve_inventory_path(host.inventory)  # type: ignore[attr-defined]
    values = read_secrets(paths, Path(host.vault_password_file))  # type: ignore[attr-defined]
    return {k: str(v) for k, v in values.items() if not k.endswith("_public")}


def host_state(host: object) -> str:
    """What a deploy would change: the site, the code folder, the settings folder, packages and the database."""
    return ssh(host, "{ ls -la /etc/nginx/sites-enabled /etc/nginx/conf.d 2>&1; "
                     "find /var/www /etc/anl-framadate -printf '%p %U:%G %m %s\\n' 2>&1 | sort; "
                     "sha256sum /etc/anl-framadate/* /etc/nginx/anl/* 2>&1; dpkg-query -W -f '${Package}\\n' | sort; "
                     "mariadb -N -B -e 'SHOW DATABASES' 2>&1; } | sha256sum")


# --- the host's history: the refusal on the host as made, then the stack ---------------

@pytest.fixture(scope="module")
def refused_first(host: object, tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], int]:
    """`deploy framadate` (every step) on the host as it was made, with an empty artifact cache."""
    empty = tmp_path_factory.mktemp("artifacts")
    proc = anl("deploy", "framadate", "--lab", host.name, "--debian", host.release,  # type: ignore[attr-defined]
               env={"ANL_STACK_ARTIFACTS_DIR": str(empty)})
    return proc, host.ssh("test -e /etc/nginx").returncode  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def stack_deploy(host: object, refused_first: object) -> subprocess.CompletedProcess[str]:
    return anl("deploy", "framadate", "--lab", host.name, "--debian", host.release,  # type: ignore[attr-defined]
               "--tags", "stack", "--idempotence", "--json")


@pytest.fixture(scope="module")
def stack(host: object, stack_deploy: subprocess.CompletedProcess[str]) -> object:
    assert stack_deploy.returncode == 0, output(stack_deploy)
    after_first_deploy(host.inventory)  # type: ignore[attr-defined]
    return host


def assert_refused_for_the_release(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 2, output(proc)
    assert "Traceback" not in proc.stderr, output(proc)
    assert "framadate" in proc.stderr and "deployment.artifacts.framadate" in proc.stderr, output(proc)
    # Upstream publishes no checksum: the way out named is the commune's pin or a file admitted.
    assert "anl_artifact_pins" in proc.stderr or "anl-stack artifacts add framadate" in proc.stderr, output(proc)


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
    assert_release_engine(summary["runs"], host.release)  # type: ignore[attr-defined]


def test_stack_checks_pass(stack: object) -> None:
    host = stack
    proc = anl("verify", "framadate", "--lab", host.name, "--mark", "not app", "--json")  # type: ignore[attr-defined]
    data = json.loads(proc.stdout)
    failed = [f"{c['suite']}/{c['check']}: {c.get('message', '')}" for c in data["checks"]
              if c["outcome"] in ("failed", "error")]
    assert proc.returncode == 0, "\n".join(failed) or output(proc)
    outcomes = {c["check"]: c["outcome"] for c in data["checks"] if c["suite"] == "framadate"}
    stack_checks = [name for name in outcomes if not name.startswith(APP_PREFIXES)]
    assert len(stack_checks) >= 11, outcomes
    assert all(outcomes[name] == "passed" for name in stack_checks), outcomes
    assert not any(outcomes[name] == "passed" for name in outcomes if name.startswith(APP_PREFIXES)), outcomes


def test_config_php_template_is_valid_php(stack: object) -> None:
    """The config.php template (an `app` step, not run here), rendered with hostile values, passes `php -l`
    on the host and gives back every value as written when the host's PHP reads it."""
    import jinja2

    host = stack
    template = PROJECT / "plugins/framadate/roles/framadate/templates/config.php.j2"
    password = "a'b\\c\\\\'d $x {\"?> é\\"
    values = dict(ansible_managed="test", framadate_domain="sondage.exemple.fr", framadate_app_name="Sondages d'Énée",
                  framadate_admin_mail="sondage@exemple.fr", framadate_noreply_mail="no-reply@exemple.fr",
                  framadate_db_name="framadate", framadate_db_user="framadate", framadate_db_password=password,
                  framadate_db_prefix="fd_", framadate_default_language="fr", framadate_purge_delay_days=60,
                  framadate_default_poll_duration_days=180, framadate_smtp_host="smtp.exemple.fr",
                  framadate_smtp_port=587, framadate_smtp_secure="tls", framadate_smtp_user="mairie",
                  framadate_smtp_password=password)
    text = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True).from_string(
        template.read_text()).render(**values)
    php = f"/usr/bin/php{PHP_BY_DEBIAN[host.release]}"  # type: ignore[attr-defined]
    read = ("include $argv[1]; echo json_encode([DB_PASSWORD, NOMAPPLICATION, URL_PROPRE, DEFAULT_LANGUAGE, "
            "PURGE_DELAY, $config[\"use_smtp\"], $config[\"smtp_options\"][\"password\"]]);")  # inside '...' of the shell
    proc = host.ssh(f"f=$(mktemp) && cat > $f && {php} -l $f >/dev/null && {php} -r '{read}' $f; "  # type: ignore[attr-defined]
                    "rc=$?; rm -f $f; exit $rc", input=text)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert json.loads(proc.stdout) == [password, "Sondages d'Énée", True, "fr", 60, True, password]
    # Without a relay, no mail at all (upstream's default answers 500 at the end of poll creation).
    values["framadate_smtp_host"] = ""
    text = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(template.read_text()).render(**values)
    proc = host.ssh(f"f=$(mktemp) && cat > $f && {php} -l $f >/dev/null && "  # type: ignore[attr-defined]
                    f"{php} -r 'include $argv[1]; var_export($config[\"use_smtp\"]);' $f; rc=$?; rm -f $f; exit $rc",
                    input=text)
    assert proc.returncode == 0 and proc.stdout == "false", proc.stderr + proc.stdout


def test_vhost_passes_nginx_t(stack: object) -> None:
    host = stack
    ssh(host, f"test -L {SITE} -o -f {SITE}")
    proc = host.ssh("nginx -t")  # type: ignore[attr-defined]
    assert proc.returncode == 0, proc.stderr
    dump = ssh(host, "nginx -T 2>/dev/null")
    assert "limit_req zone=framadate_create" in dump and "auth_basic_user_file /etc/anl-framadate/admin.htpasswd" in dump


def test_app_step_refused_without_the_release(stack: object, tmp_path_factory: pytest.TempPathFactory) -> None:
    host = stack
    before = host_state(host)
    empty = tmp_path_factory.mktemp("artifacts-app")
    proc = anl("deploy", "framadate", "--lab", host.name, "--debian", host.release, "--tags", "app",  # type: ignore[attr-defined]
               env={"ANL_STACK_ARTIFACTS_DIR": str(empty)})
    assert_refused_for_the_release(proc)
    assert host_state(host) == before, "the refused app step changed the host"


# --- backup and restore -------------------------------------------------------------------

def back_up(host: object) -> str:
    proc = anl("backup", "framadate", "--lab", host.name)  # type: ignore[attr-defined]
    assert proc.returncode == 0, output(proc)
    match = SNAPSHOT_LINE.search(proc.stdout)
    assert match and match.group(1) == host.name, output(proc)  # type: ignore[attr-defined]
    return match.group(2)


def live_state(host: object) -> dict[str, object]:
    return {"rows": sql(host, f"SELECT id, label FROM {TABLE} ORDER BY id").splitlines(),
            "htpasswd": ssh(host, f"stat -c '%U:%G %a' {HTPASSWD} && sha256sum {HTPASSWD}")}


def test_backup_settings_written_by_the_deploy(stack: object) -> None:
    host = stack
    spec = json.loads(ssh(host, "cat /etc/anl-stack/backup/plugins/framadate.json"))
    assert spec["paths"] == ["/etc/anl-framadate", "/var/www/framadate/app/inc/config.php"]
    assert spec["databases"] == [{"engine": "mariadb", "name": "framadate", "owner": "framadate"}]
    assert spec["recipe"]["app_version"] == "1.1.19"


def test_backup_restore_round_trip(stack: object) -> None:
    host = stack
    # Rows written by Framadate's own database user, as the application would.
    sql(host, f"DROP TABLE IF EXISTS {TABLE}; CREATE TABLE {TABLE} (id int PRIMARY KEY, label varchar(80)) "
              f"CHARACTER SET utf8mb4; INSERT INTO {TABLE} VALUES (1, 'réunion du collectif'), (2, 'conseil du 12 mars')",
        user="framadate")
    before = live_state(host)
    snapshot = back_up(host)

    sql(host, f"DELETE FROM {TABLE} WHERE id = 2; UPDATE {TABLE} SET label = 'changé' WHERE id = 1; "
              "CREATE TABLE anl_after_backup (id int)")
    ssh(host, f"printf 'admin:changed\\n' > {HTPASSWD}")
    assert live_state(host) != before

    proc = anl("restore", "framadate", "--lab", host.name, "--from", snapshot, "--json")  # type: ignore[attr-defined]
    summary = json_summary(proc)
    assert summary["exit_code"] == 0, output(proc)
    failed = {c["check"] for c in summary["verify"]["checks"] if c["outcome"] in ("failed", "error")}
    assert all(name.startswith(APP_PREFIXES) for name in failed), failed
    assert live_state(host) == before
    assert sql(host, "SHOW TABLES LIKE 'anl_after_backup'").strip() == ""
    assert sql(host, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE 'framadate_anl%'"
               ).strip() == "0"


# --- remove (last: it takes the host's Framadate away) -----------------------------------

def test_remove_keeps_the_data(stack: object) -> None:
    host = stack
    proc = anl("remove", "framadate", "--lab", host.name)  # type: ignore[attr-defined]
    assert proc.returncode == 0, output(proc)
    assert ssh(host, f"for f in {SITE} /etc/nginx/conf.d/anl-framadate.conf; do test -e $f && echo $f; done; true"
               ).strip() == ""
    ssh(host, "nginx -t && systemctl is-active nginx")
    assert sql(host, f"SELECT label FROM {TABLE} ORDER BY id").splitlines()[0] == "réunion du collectif"
    ssh(host, f"test -f {HTPASSWD}")
