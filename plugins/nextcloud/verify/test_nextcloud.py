"""Checks of the nextcloud plugin (run by `anl-stack verify nextcloud`).

Each docstring: first line = what the check proves; `Hint:` = how to repair.
Unmarked checks cover the stack (tag `stack` of the recipe) and pass on a
server prepared without the release; checks marked `app` need Nextcloud
installed (`anl-stack verify nextcloud --mark "not app"` skips them).
"""

from __future__ import annotations

import json
import re
import shlex
import time
from typing import Any, Callable

import pytest

PHP_BY_DEBIAN = {"12": "8.2", "13": "8.4"}
DB_PORTS = {"postgresql": 5432, "mariadb": 3306}
REDIS_SOCKET = "/run/redis/redis-server.sock"
# Referrer policies Nextcloud's setup checks accept.
REFERRER_POLICIES = {"no-referrer", "no-referrer-when-downgrade", "strict-origin", "strict-origin-when-cross-origin",
                     "same-origin"}


@pytest.fixture(scope="module")
def domain(plugin_vars: dict[str, Any]) -> str:
    return str(plugin_vars["nextcloud_domain"])


@pytest.fixture(scope="module")
def php_version(host: Any) -> str:
    major = host.file("/etc/debian_version").content_string.strip().split(".")[0]
    return PHP_BY_DEBIAN.get(major, "8.4")


@pytest.fixture(scope="module")
def database(plugin_vars: dict[str, Any]) -> str:
    return str(plugin_vars.get("nextcloud_database", "postgresql"))


@pytest.fixture(scope="module")
def occ(host: Any, plugin_vars: dict[str, Any], php_version: str) -> Callable[..., Any]:
    """``occ("status", "--output=json")`` run as www-data on the host."""
    root = plugin_vars["nextcloud_root"]

    def run(*args: str) -> Any:
        with host.sudo("www-data"):
            # Quoted: nextcloud_root comes from the inventory (untrusted), args from the checks.
            return host.run(shlex.join([f"php{php_version}", f"{root}/occ", *args]))

    return run


def _listening(host: Any, port: int) -> list[str]:
    """Local addresses listening on TCP ``port``."""
    out = host.check_output("ss -Hltn")
    addresses = []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[3].rsplit(":", 1)[-1] == str(port):
            addresses.append(fields[3].rsplit(":", 1)[0].strip("[]"))
    return addresses


# --- stack -------------------------------------------------------------------

def test_php_fpm_running(host: Any, php_version: str, anl_fact: Callable[[str, Any], None]) -> None:
    """PHP-FPM (8.4 on Debian 13, 8.2 on Debian 12) runs Nextcloud's pool and starts at boot.

    Hint: `systemctl status php8.4-fpm` (8.2 on Debian 12); `php-fpm8.4 -t` names a configuration error.
    """
    service = host.service(f"php{php_version}-fpm")
    assert service.is_running, f"php{php_version}-fpm is not running"
    assert service.is_enabled, f"php{php_version}-fpm is not enabled at boot"
    socket = host.file(f"/run/php/php{php_version}-fpm-nextcloud.sock")
    assert socket.exists, "the Nextcloud PHP-FPM pool socket is missing"
    anl_fact("php", php_version)


def test_nginx_running(host: Any) -> None:
    """nginx, which serves Nextcloud, is running and starts at boot.

    Hint: `systemctl enable --now nginx`; `nginx -t` names a configuration error.
    """
    nginx = host.service("nginx")
    assert nginx.is_running, "nginx is not running"
    assert nginx.is_enabled, "nginx is not enabled at boot"


def test_database_running(host: Any, database: str, anl_fact: Callable[[str, Any], None]) -> None:
    """The database server (PostgreSQL or MariaDB) is running and starts at boot.

    Hint: `systemctl status postgresql` (or `mariadb`); its log is in `journalctl -u postgresql@*`.
    """
    unit = "postgresql" if database == "postgresql" else "mariadb"
    service = host.service(unit)
    assert service.is_enabled, f"{unit} is not enabled at boot"
    port = DB_PORTS[database]
    assert _listening(host, port), f"nothing listens on port {port}: {unit} is not running"
    anl_fact("database", database)


def test_database_listens_on_localhost_only(host: Any, database: str) -> None:
    """The database listens on the loopback addresses only, never on the network.

    Hint: keep `listen_addresses = 'localhost'` (PostgreSQL) or `bind-address = 127.0.0.1` (MariaDB); re-deploy.
    """
    port = DB_PORTS[database]
    addresses = _listening(host, port)
    outside = [a for a in addresses if a not in ("127.0.0.1", "::1")]
    assert addresses, f"nothing listens on port {port}"
    assert not outside, f"the database listens on {', '.join(outside)} (port {port})"


def test_redis_running_with_socket(host: Any) -> None:
    """Redis runs, listens on loopback only and offers its unix socket to www-data (file locking, cache).

    Hint: re-deploy (`--tags stack`); `/etc/redis/anl.conf` sets the socket, `id www-data` must list `redis`.
    """
    assert host.service("redis-server").is_running, "redis-server is not running"
    assert host.file(REDIS_SOCKET).exists, f"{REDIS_SOCKET} is missing"
    groups = host.check_output("id -nG www-data").split()
    assert "redis" in groups, "www-data is not in the redis group: PHP cannot use the socket"
    outside = [a for a in _listening(host, 6379) if a not in ("127.0.0.1", "::1")]
    assert not outside, f"Redis listens on {', '.join(outside)}"


def test_php_cli_settings(host: Any, php_version: str) -> None:
    """The PHP command line (occ, cron.php) has APCu enabled and at least 512 MB of memory.

    Hint: re-deploy (`--tags stack`); `/etc/php/VERSION/cli/conf.d/90-nextcloud.ini` holds these settings.
    """
    code = "echo ini_get('apc.enable_cli'), ' ', ini_get('memory_limit'), ' ', extension_loaded('apcu') ? 1 : 0;"
    out = host.check_output(f"php{php_version} -r \"{code}\"").split()
    assert out[0] == "1", "apc.enable_cli is off: occ fails when APCu is the local cache"
    assert out[2] == "1", "the APCu extension is not loaded"
    value = out[1].upper()
    match = re.fullmatch(r"(-?\d+)([KMG]?)", value)
    megabytes = -1 if value == "-1" else (int(match.group(1)) * {"": 1 / 2**20, "K": 1 / 1024, "M": 1, "G": 1024}[
        match.group(2)] if match else 0)
    assert megabytes == -1 or megabytes >= 512, f"memory_limit is {out[1]}, below 512M"


def test_security_headers(https_get: Callable[..., Any], domain: str) -> None:
    """The Nextcloud site sends HSTS and the headers Nextcloud's setup checks expect.

    Hint: the web role's `anl-security-headers.conf` and the Nextcloud locations file in `/etc/nginx/anl/` set them.
    """
    status, headers, _ = https_get(domain, "/")
    assert status, f"no HTTPS answer from {domain}"
    hsts = headers.get("strict-transport-security", "")
    match = re.search(r"max-age=(\d+)", hsts)
    assert match and int(match.group(1)) >= 15552000, f"HSTS is {hsts!r} (max-age of 180 days at least expected)"
    assert headers.get("x-content-type-options") == "nosniff", headers.get("x-content-type-options")
    robots = headers.get("x-robots-tag", "")
    assert "noindex" in robots and "nofollow" in robots, f"X-Robots-Tag is {robots!r}"
    assert headers.get("x-frame-options", "").upper() == "SAMEORIGIN", headers.get("x-frame-options")
    assert headers.get("x-permitted-cross-domain-policies") == "none", headers.get("x-permitted-cross-domain-policies")
    policy = headers.get("referrer-policy", "")
    assert policy in REFERRER_POLICIES, f"Referrer-Policy is {policy!r}"


@pytest.mark.parametrize(("path", "target"), [
    ("/.well-known/caldav", "/remote.php/dav"),
    ("/.well-known/carddav", "/remote.php/dav"),
    ("/.well-known/webfinger", "/index.php/.well-known/webfinger"),
    ("/.well-known/nodeinfo", "/index.php/.well-known/nodeinfo"),
])
def test_well_known_redirects(https_get: Callable[..., Any], domain: str, path: str, target: str) -> None:
    """Calendar and contact apps find the DAV endpoint, webfinger and nodeinfo reach Nextcloud.

    Hint: the `location ^~ /.well-known` block of upstream's nginx sample is in `/etc/nginx/anl/nextcloud.locations.conf`.
    """
    status, headers, _ = https_get(domain, path)
    location = headers.get("location", "")
    assert status == 301, f"{path}: HTTP {status}, expected 301"
    assert location.rstrip("/").endswith(target), f"{path} redirects to {location!r}, expected …{target}"
    assert not location.startswith("http://"), f"{path} redirects to plain HTTP: {location}"


def test_data_dir_outside_web_root(host: Any, plugin_vars: dict[str, Any]) -> None:
    """The users' files live outside the web root, in a folder only www-data may enter (0770).

    Hint: keep `nextcloud_data_dir` outside `nextcloud_root`; `chown www-data: DIR && chmod 0770 DIR`.
    """
    root = plugin_vars["nextcloud_root"].rstrip("/") + "/"
    data = plugin_vars["nextcloud_data_dir"].rstrip("/")
    assert not (data + "/").startswith(root), f"{data} is inside the web root {root}"
    folder = host.file(data)
    assert folder.is_directory, f"{data} is missing"
    assert folder.user == "www-data", f"{data} belongs to {folder.user}"
    assert folder.mode & 0o007 == 0, f"{data} has mode {folder.mode:04o}: others may enter it"


def test_data_not_served_over_http(https_get: Callable[..., Any], domain: str, plugin_vars: dict[str, Any]) -> None:
    """No URL of the site serves the data folder or its `.ocdata` marker.

    Hint: the data folder must be outside the web root; nginx returns 404 for `/data/`.
    """
    name = plugin_vars["nextcloud_data_dir"].rstrip("/").rsplit("/", 1)[-1]
    for path in ("/data/.ocdata", f"/{name}/.ocdata", "/data/nextcloud.log", "/config/config.php"):
        status, _, _ = https_get(domain, path)
        assert status != 200, f"https://{domain}{path} answers 200"


def test_background_jobs_units_installed(host: Any) -> None:
    """The systemd timer that runs Nextcloud's background jobs is installed.

    Hint: re-deploy (`--tags stack`) to write `/etc/systemd/system/nextcloudcron.{service,timer}`.
    """
    for unit in ("nextcloudcron.service", "nextcloudcron.timer"):
        assert host.file(f"/etc/systemd/system/{unit}").exists, f"{unit} is missing"


# --- application (needs the release) -------------------------------------------------

@pytest.mark.app
def test_status_php(https_get: Callable[..., Any], domain: str, plugin_vars: dict[str, Any],
                    anl_fact: Callable[[str, Any], None]) -> None:
    """status.php says installed, not in maintenance, no database upgrade pending, the expected version.

    Hint: `sudo -u www-data php occ status`; `occ upgrade` when an upgrade is pending, `occ maintenance:mode --off`.
    """
    status, _, body = https_get(domain, "/status.php")
    assert status == 200, f"/status.php: HTTP {status}"
    state = json.loads(body)
    assert state.get("installed") is True, "Nextcloud is not installed"
    assert state.get("maintenance") is False, "Nextcloud is in maintenance mode"
    assert state.get("needsDbUpgrade") is False, "a database upgrade is pending"
    assert state.get("versionstring") == str(plugin_vars["nextcloud_version"]), (
        f"version {state.get('versionstring')}, expected {plugin_vars['nextcloud_version']}")
    anl_fact("nextcloud", state.get("versionstring"))


@pytest.mark.app
def test_occ_status(occ: Callable[..., Any]) -> None:
    """`occ status` runs as www-data and says installed.

    Hint: occ needs `apc.enable_cli=1` and a readable config.php; run it as www-data.
    """
    result = occ("status", "--output=json")
    assert result.rc == 0, f"occ status failed: {result.stderr.strip()[:300]}"
    assert json.loads(result.stdout).get("installed") is True, "occ status: not installed"


def _errors(node: Any, path: str = "") -> list[str]:
    """Every setup check whose severity is error, as "category: name: description"."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("severity") == "error":
            found.append(f"{path}: {node.get('name', '')}: {node.get('description', '')}".strip())
        for key, value in node.items():
            found += _errors(value, f"{path}/{key}" if path else str(key))
    elif isinstance(node, list):
        for item in node:
            found += _errors(item, path)
    return found


@pytest.mark.app
def test_setup_checks_no_error(occ: Callable[..., Any]) -> None:
    """`occ setupchecks` (Administration > Overview on the command line) reports no error.

    Hint: each error names its cause and a documentation link; `sudo -u www-data php occ setupchecks`.
    """
    result = occ("setupchecks", "--output=json")
    assert result.stdout.strip(), f"occ setupchecks printed nothing: {result.stderr.strip()[:300]}"
    errors = _errors(json.loads(result.stdout))
    assert not errors, "setup check errors: " + "; ".join(errors)


@pytest.mark.app
def test_config_php_private(host: Any, plugin_vars: dict[str, Any]) -> None:
    """config.php (database password, secrets) belongs to www-data and others cannot read it.

    Hint: `chown www-data: config/config.php && chmod 0640 config/config.php`.
    """
    config = host.file(f"{plugin_vars['nextcloud_root']}/config/config.php")
    assert config.exists, "config.php is missing"
    assert config.user == "www-data", f"config.php belongs to {config.user}"
    assert config.mode & 0o007 == 0, f"config.php has mode {config.mode:04o}: world-readable"


@pytest.mark.app
def test_last_cron_recent(host: Any, occ: Callable[..., Any]) -> None:
    """Background jobs run in cron mode and the last run is less than 10 minutes old.

    Hint: `systemctl status nextcloudcron.timer nextcloudcron.service`; `occ background:cron`.
    """
    mode = occ("config:app:get", "core", "backgroundjobs_mode").stdout.strip()
    assert mode == "cron", f"background jobs mode is {mode!r}, expected cron"
    assert host.service("nextcloudcron.timer").is_running, "nextcloudcron.timer is not active"
    last = occ("config:app:get", "core", "lastcron").stdout.strip()
    assert last.isdigit(), f"no last cron time ({last!r})"
    age = time.time() - int(last)
    assert age < 600, f"the last background jobs run is {int(age // 60)} minutes old"


@pytest.mark.app
def test_redis_locking_configured(occ: Callable[..., Any]) -> None:
    """File locking and the distributed cache use Redis; the local cache uses APCu.

    Hint: re-deploy (`--tags app`) to set memcache.locking, memcache.distributed and memcache.local.
    """
    expected = {"memcache.locking": r"\OC\Memcache\Redis", "memcache.distributed": r"\OC\Memcache\Redis",
                "memcache.local": r"\OC\Memcache\APCu"}
    for key, value in expected.items():
        got = occ("config:system:get", key).stdout.strip()
        assert got == value, f"{key} is {got!r}, expected {value!r}"


def _server_name(address: str) -> str:
    return re.sub(r"^https?://", "", address.strip()).rstrip("/").lower()


@pytest.mark.app
def test_trusted_servers_as_configured(https_get: Callable[..., Any], domain: str, plugin_vars: dict[str, Any],
                                       anl_basic_auth: Callable[[str, str], Any], occ: Callable[..., Any]) -> None:
    """Every server of nextcloud_trusted_servers is trusted, and federated shares are allowed as configured.

    Hint: deploy the app step again; a server that does not answer as a Nextcloud is reported by the deploy
    (Administration > Sharing > Trusted servers shows the list).
    """
    wanted = {_server_name(str(address)) for address in plugin_vars.get("nextcloud_trusted_servers") or []}
    sharing = "yes" if plugin_vars.get("nextcloud_federated_sharing", True) else "no"
    for key in ("outgoing_server2server_share_enabled", "incoming_server2server_share_enabled"):
        got = occ("config:app:get", "files_sharing", key).stdout.strip() or "yes"
        assert got == sharing, f"files_sharing {key} is {got!r}, expected {sharing!r}"
    if not wanted:
        return
    authorization = anl_basic_auth(str(plugin_vars["nextcloud_admin_user"]), "nextcloud_admin_password")
    status, _, body = https_get(domain, "/ocs/v2.php/apps/federation/trusted-servers",
                                headers={"OCS-APIRequest": "true", "Accept": "application/json",
                                         "Authorization": authorization})
    assert status == 200, f"/ocs/v2.php/apps/federation/trusted-servers: HTTP {status}"
    present = {_server_name(str(entry.get("url", ""))) for entry in json.loads(body)["ocs"]["data"]}
    missing = sorted(wanted - present)
    assert not missing, "not trusted: " + ", ".join(missing)

