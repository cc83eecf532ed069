"""Checks of the framadate plugin (run by `anl-stack verify framadate`).

Each docstring: first line = what the check proves; `Hint:` = how to repair.
Unmarked checks cover the stack (tag `stack` of the recipe) and pass on a
server prepared without the release; checks marked `app` need Framadate
installed (`anl-stack verify framadate --mark "not app"` skips them).
The poll creation rate limit is checked last: it spends this address's burst.
"""

from __future__ import annotations

import base64
import html
import re
import shlex
from typing import Any, Callable

import pytest

PHP_BY_DEBIAN = {"12": "8.2", "13": "8.4"}
MARIADB_PORT = 3306
#: Functions the pool must refuse (a poll tool runs no command).
DISABLED = {"exec", "passthru", "shell_exec", "system", "proc_open", "popen"}
#: Paths that must never be served, with or without the release.
HIDDEN = ["/app/inc/config.php", "/app/inc/init.php", "/vendor/autoload.php", "/vendor/.git/HEAD", "/tpl_c/",
          "/composer.json", "/composer.lock", "/.htaccess", "/admin/stdout.log"]

HttpsGet = Callable[..., tuple[int, dict[str, str], bytes]]


@pytest.fixture(scope="module")
def domain(plugin_vars: dict[str, Any]) -> str:
    return str(plugin_vars["framadate_domain"])


@pytest.fixture(scope="module")
def root(plugin_vars: dict[str, Any]) -> str:
    return str(plugin_vars.get("framadate_root", "/var/www/framadate")).rstrip("/")


@pytest.fixture(scope="module")
def php_version(host: Any) -> str:
    major = host.file("/etc/debian_version").content_string.strip().split(".")[0]
    return PHP_BY_DEBIAN.get(major, "8.4")


@pytest.fixture(scope="module")
def admin_auth(anl_secret: Callable[[str], Any], plugin_vars: dict[str, Any]) -> Any:
    """The ``Authorization`` header of the /admin/ login, as a secret that never prints itself."""
    password = anl_secret("framadate_admin_password")
    user = str(plugin_vars.get("framadate_admin_user", "admin"))
    token = base64.b64encode(f"{user}:{password.reveal()}".encode()).decode()
    return type(password)(f"Basic {token}")


def _listening(host: Any, port: int) -> list[str]:
    """Local addresses listening on TCP ``port``."""
    addresses = []
    for line in host.check_output("ss -Hltn").splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[3].rsplit(":", 1)[-1] == str(port):
            addresses.append(fields[3].rsplit(":", 1)[0].strip("[]"))
    return addresses


# --- stack -------------------------------------------------------------------

def test_php_fpm_pool_running(host: Any, php_version: str, anl_fact: Callable[[str, Any], None]) -> None:
    """PHP-FPM (8.4 on Debian 13, 8.2 on Debian 12) runs Framadate's own pool and starts at boot.

    Hint: `systemctl status php8.4-fpm` (8.2 on Debian 12); `php-fpm8.4 -t` names a configuration error.
    """
    service = host.service(f"php{php_version}-fpm")
    assert service.is_running, f"php{php_version}-fpm is not running"
    assert service.is_enabled, f"php{php_version}-fpm is not enabled at boot"
    assert host.file(f"/run/php/php{php_version}-fpm-framadate.sock").is_socket, "the Framadate pool socket is missing"
    anl_fact("php", php_version)


def test_php_fpm_modules(host: Any, php_version: str) -> None:
    """PHP-FPM loads the modules Framadate's admin/check.php requires: intl, mbstring and pdo_mysql.

    Hint: `apt install php8.4-intl php8.4-mbstring php8.4-mysql` (8.2 on Debian 12), then restart PHP-FPM.
    """
    modules = {line.strip().lower() for line in host.check_output(f"php-fpm{php_version} -m").splitlines()}
    missing = {"intl", "mbstring", "pdo_mysql"} - modules
    assert not missing, f"PHP-FPM lacks {sorted(missing)}"


def test_php_pool_hardened(host: Any, php_version: str, root: str) -> None:
    """Framadate's pool refuses the functions that run commands and reads only its own folders (open_basedir).

    Hint: the pool file `/etc/php/8.4/fpm/pool.d/framadate.conf` is the recipe's; deploy again to restore it.
    """
    pool = host.file(f"/etc/php/{php_version}/fpm/pool.d/framadate.conf")
    assert pool.exists, "the Framadate pool file is missing"
    values = dict(re.findall(r"^php_admin_value\[([a-z_.]+)\]\s*=\s*(.*)$", pool.content_string, re.MULTILINE))
    disabled = {f.strip() for f in values.get("disable_functions", "").split(",")}
    assert DISABLED <= disabled, f"functions not disabled: {sorted(DISABLED - disabled)}"
    basedir = [p.rstrip("/") for p in values.get("open_basedir", "").split(":") if p]
    assert root in basedir, f"open_basedir is {values.get('open_basedir')!r}, without {root}"
    assert "/" not in [p or "/" for p in basedir] and "/etc" not in basedir and "/var" not in basedir, \
        f"open_basedir is too wide: {values.get('open_basedir')!r}"
    assert values.get("allow_url_fopen", "").lower() in ("off", "0"), "allow_url_fopen is on"


def test_mariadb_running(host: Any, anl_fact: Callable[[str, Any], None]) -> None:
    """MariaDB runs, starts at boot and holds Framadate's database.

    Hint: `systemctl status mariadb`; `mariadb -e 'SHOW DATABASES'` as root.
    """
    service = host.service("mariadb")
    assert service.is_running and service.is_enabled, "mariadb is not running or not enabled at boot"
    databases = host.check_output("mariadb -N -B -e 'SHOW DATABASES'").split()
    version = host.check_output("mariadb -N -B -e 'SELECT VERSION()'").strip()
    assert "framadate" in databases, f"no framadate database: {databases}"
    anl_fact("mariadb", version)


def test_mariadb_listens_on_localhost_only(host: Any) -> None:
    """MariaDB listens on the loopback address only, and its Framadate user may connect from localhost only.

    Hint: `bind-address = 127.0.0.1` in `/etc/mysql/mariadb.conf.d/`; drop any `framadate@'%'` user.
    """
    addresses = _listening(host, MARIADB_PORT)
    outside = [a for a in addresses if a not in ("127.0.0.1", "::1")]
    assert not outside, f"MariaDB listens on {outside}"
    hosts = host.check_output("mariadb -N -B -e \"SELECT Host FROM mysql.user WHERE User = 'framadate'\"").split()
    assert hosts == ["localhost"], f"the framadate user may connect from {hosts}"


def test_nginx_configuration_valid(host: Any) -> None:
    """nginx accepts its configuration (`nginx -t`), with Framadate's site and rate limit zone in it.

    Hint: `nginx -t` names the file and line at fault.
    """
    check = host.run("nginx -t")
    dump = host.run("nginx -T")
    assert check.rc == 0, check.stderr
    assert "zone=framadate_create" in dump.stdout, "no limit_req zone for poll creation in nginx's configuration"
    assert re.search(r"location ~ \^/create_.*\{\s*limit_req zone=framadate_create", dump.stdout), \
        "poll creation is not rate limited"


def test_security_headers(https_get: HttpsGet, domain: str) -> None:
    """The site sends HSTS, nosniff, X-Robots-Tag and a Content-Security-Policy that loads nothing from elsewhere.

    Hint: the web role's `anl-security-headers.conf` and `/etc/nginx/anl/framadate.locations.conf` set them.
    """
    status, headers, _ = https_get(domain, "/")
    assert status, f"no HTTPS answer from {domain}"
    hsts = headers.get("strict-transport-security", "")
    match = re.search(r"max-age=(\d+)", hsts)
    assert match and int(match.group(1)) >= 15552000, f"HSTS is {hsts!r}"
    assert headers.get("x-content-type-options") == "nosniff"
    assert "noindex" in headers.get("x-robots-tag", ""), f"X-Robots-Tag is {headers.get('x-robots-tag')!r}"
    policy = headers.get("content-security-policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in (p.strip() for p in policy.split(";")) if d}
    assert directives.get("default-src") == ["'none'"], f"Content-Security-Policy is {policy!r}"
    assert directives.get("frame-ancestors") == ["'none'"], f"Content-Security-Policy is {policy!r}"
    assert directives.get("form-action") == ["'self'"], f"Content-Security-Policy is {policy!r}"
    sources = [s for values in directives.values() for s in values]
    assert not [s for s in sources if "://" in s or s in ("*", "http:", "https:")], \
        f"the policy allows other sites: {policy!r}"


def test_admin_requires_the_password(https_get: HttpsGet, domain: str, admin_auth: Any) -> None:
    """/admin/ answers 401 without credentials and with a wrong password, and accepts the vault's password.

    Hint: `/etc/anl-framadate/admin.htpasswd` is written by the deploy from the vault's framadate_admin_password.
    """
    status, headers, _ = https_get(domain, "/admin/")
    assert status == 401, f"/admin/ without credentials: HTTP {status}"
    assert headers.get("www-authenticate", "").lower().startswith("basic"), headers.get("www-authenticate")
    wrong = "Basic " + base64.b64encode(b"admin:not-the-password").decode()
    status, _, _ = https_get(domain, "/admin/", headers={"Authorization": wrong})
    assert status == 401, f"/admin/ with a wrong password: HTTP {status}"
    status, _, _ = https_get(domain, "/admin/", headers={"Authorization": admin_auth})
    assert status != 401, "/admin/ refuses the vault's password"


def test_installer_url_denied(https_get: HttpsGet, domain: str, admin_auth: Any) -> None:
    """The web installer's address is denied (404) before any login, even to the administrator.

    Hint: the `location = /admin/install.php` block of `/etc/nginx/anl/framadate.locations.conf`.
    """
    for headers in ({}, {"Authorization": admin_auth}):
        status, _, _ = https_get(domain, "/admin/install.php", headers=headers)
        assert status == 404, f"/admin/install.php: HTTP {status}"


def test_admin_password_file_private(host: Any) -> None:
    """The admin password file holds one bcrypt hash, is owned by root and readable by www-data only.

    Hint: deploy again; `chown root:www-data /etc/anl-framadate/admin.htpasswd && chmod 0640 ...`.
    """
    file = host.file("/etc/anl-framadate/admin.htpasswd")
    assert file.exists, "the admin password file is missing"
    assert (file.user, file.group, file.mode) == ("root", "www-data", 0o640), \
        f"{file.user}:{file.group} {file.mode:04o}"
    lines = [line for line in file.content_string.splitlines() if line]
    assert len(lines) == 1 and re.fullmatch(r"[^:]+:\$2[aby]\$\d\d\$.{53}", lines[0]), "not one bcrypt entry"


# --- app: needs the release ---------------------------------------------------

@pytest.mark.app
def test_home_page_names_the_application(https_get: HttpsGet, domain: str, plugin_vars: dict[str, Any]) -> None:
    """The home page answers 200 with the application's name.

    Hint: `tail /var/log/php8.4-fpm.log`; `app/inc/config.php` sets NOMAPPLICATION.
    """
    status, _, body = https_get(domain, "/")
    assert status == 200, f"/: HTTP {status}"
    name = str(plugin_vars.get("framadate_app_name", "Framadate"))
    text = body.decode("utf-8", "replace")
    assert name in text or html.escape(name) in text, f"the home page does not name {name!r}"


@pytest.mark.app
def test_date_poll_form(https_get: HttpsGet, domain: str) -> None:
    """The first step of a date poll's creation answers 200 with its form.

    Hint: `tail /var/log/php8.4-fpm.log`; a 429 means the rate limit (`framadate_create_rate_per_minute`).
    """
    status, _, body = https_get(domain, "/create_poll.php?type=date")
    assert status == 200, f"/create_poll.php?type=date: HTTP {status}"
    assert b"<form" in body, "no form on the poll creation page"


@pytest.mark.app
def test_admin_pages_with_the_password(https_get: HttpsGet, domain: str, admin_auth: Any) -> None:
    """/admin/ answers 200 with the vault's password, and 401 without.

    Hint: `USE_REMOTE_USER` in config.php and the `/admin/` block of the nginx site.
    """
    assert https_get(domain, "/admin/")[0] == 401
    status, _, _ = https_get(domain, "/admin/", headers={"Authorization": admin_auth})
    assert status == 200, f"/admin/ with the password: HTTP {status}"


@pytest.mark.app
@pytest.mark.parametrize("path", HIDDEN)
def test_code_and_settings_not_served(https_get: HttpsGet, domain: str, path: str) -> None:
    """Code, dependencies, the template cache, dotfiles, Composer's files and the admin log are never served.

    Hint: the `return 404` blocks of `/etc/nginx/anl/framadate.locations.conf`.
    """
    status, _, body = https_get(domain, path)
    assert status in (403, 404), f"{path}: HTTP {status}"
    assert b"DB_PASSWORD" not in body and b"<?php" not in body, f"{path} leaks source"


@pytest.mark.app
def test_installer_removed(host: Any, root: str) -> None:
    """The web installer is gone from the code folder and config.php exists (written by the recipe).

    Hint: deploy again: the recipe deletes `admin/install.php` after each extraction.
    """
    assert not host.file(f"{root}/admin/install.php").exists, "admin/install.php is still there"
    assert host.file(f"{root}/app/inc/config.php").exists, "app/inc/config.php is missing"


@pytest.mark.app
def test_file_modes(host: Any, root: str) -> None:
    """The code is root's, readable by www-data; only tpl_c/ and admin/stdout.log are writable by it.

    Hint: deploy again (the recipe resets owners and modes), or `chown -R root:www-data` the code folder.
    """
    config = host.file(f"{root}/app/inc/config.php")
    assert (config.user, config.group, config.mode) == ("root", "www-data", 0o640), \
        f"config.php is {config.user}:{config.group} {config.mode:04o}"
    quoted = shlex.quote(root)
    foreign = host.check_output(f"find {quoted} ! -user root -print -quit")
    world = host.check_output(f"find {quoted} -perm /o=rwx -print -quit")
    writable = host.check_output(f"find {quoted} -path {quoted}/tpl_c -prune -o "
                                 f"! -path {quoted}/admin/stdout.log -perm /g=w -print")
    assert foreign == "", f"not owned by root: {foreign}"
    assert world == "", f"readable by every account: {world}"
    assert [p for p in writable.splitlines() if p != f"{root}/tpl_c"] == [], f"writable by www-data: {writable}"


@pytest.mark.app
def test_migrations_done(host: Any, plugin_vars: dict[str, Any]) -> None:
    """The database holds Framadate's tables (the migrations ran).

    Hint: open `/admin/migration.php` with the admin password, or deploy again with `--tags app`.
    """
    prefix = str(plugin_vars.get("framadate_db_prefix", "fd_"))
    tables = host.check_output("mariadb -N -B -e 'SHOW TABLES' framadate").split()
    missing = {f"{prefix}{t}" for t in ("poll", "slot", "vote", "comment")} - set(tables)
    assert not missing, f"tables missing: {sorted(missing)}"


# --- last: spends this address's burst -----------------------------------------

def test_poll_creation_rate_limited(https_get: HttpsGet, domain: str, plugin_vars: dict[str, Any]) -> None:
    """Poll creation from one address beyond the allowed burst is refused with 429.

    Hint: the `limit_req` of the `create_*.php` location; `framadate_create_burst` sets the burst.
    """
    burst = int(plugin_vars.get("framadate_create_burst", 10))
    statuses = [https_get(domain, "/create_poll.php?type=date")[0] for _ in range(burst + 3)]
    assert 429 in statuses, f"{burst + 3} quick requests, none refused: {statuses}"
