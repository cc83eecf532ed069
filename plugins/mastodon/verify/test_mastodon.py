"""Checks of the mastodon plugin (run by `anl-stack verify mastodon`).

Each docstring: first line = what the check proves; `Hint:` = how to repair.
Unmarked checks cover the stack (tag `stack` of the recipe) and pass on a
server prepared without the release; `.env.production` is reported not
applicable, with the reason, while the application is absent. Checks marked
`app` need Mastodon installed (`anl-stack verify mastodon --mark "not app"`
skips them).
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable

import pytest

HttpsGet = Callable[..., tuple[int, dict[str, str], bytes]]
UNITS = ("mastodon-web", "mastodon-sidekiq", "mastodon-streaming")
#: What the Debian 13 recipe needs from Debian (Ruby inside Mastodon's range, Node >= 20).
RUBY_MIN = (3, 2)
NODE_MIN = 20


@pytest.fixture(scope="module")
def domain(plugin_vars: dict[str, Any]) -> str:
    return str(plugin_vars["mastodon_domain"])


@pytest.fixture(scope="module")
def site_domain(plugin_vars: dict[str, Any], domain: str) -> str:
    return str(plugin_vars.get("mastodon_web_domain") or domain)


@pytest.fixture(scope="module")
def user(plugin_vars: dict[str, Any]) -> str:
    return str(plugin_vars.get("mastodon_user", "mastodon"))


@pytest.fixture(scope="module")
def home(plugin_vars: dict[str, Any]) -> str:
    return str(plugin_vars.get("mastodon_home", "/home/mastodon")).rstrip("/")


@pytest.fixture(scope="module")
def db_name(plugin_vars: dict[str, Any]) -> str:
    return str(plugin_vars.get("mastodon_db_name", "mastodon_production"))


@pytest.fixture(scope="module")
def installed(host: Any) -> str:
    """The Mastodon version the recipe installed, or "" when the application is absent."""
    release = host.file("/etc/anl-mastodon/release")
    return release.content_string.strip() if release.exists else ""


def _listening(host: Any, port: int) -> list[str]:
    """Local addresses listening on TCP ``port``."""
    addresses = []
    for line in host.check_output("ss -Hltn").splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[3].rsplit(":", 1)[-1] == str(port):
            addresses.append(fields[3].rsplit(":", 1)[0].strip("[]"))
    return addresses


def _psql(host: Any, sql: str) -> str:
    result = host.run("runuser -u postgres -- psql -XAtc %s", sql)
    assert result.rc == 0, result.stderr
    return result.stdout.strip()


# --- stack -------------------------------------------------------------------

def test_postgresql_running(host: Any, anl_fact: Callable[[str, Any], None]) -> None:
    """PostgreSQL (17 on Debian 13, 14 at least for Mastodon 4.5 and later) runs, starts at boot, on localhost only.

    Hint: `systemctl status postgresql@17-main`; `journalctl -u postgresql@17-main` says why it stopped.
    """
    service = host.service("postgresql")
    assert service.is_enabled, "postgresql is not enabled at boot"
    version = _psql(host, "SHOW server_version_num")
    assert int(version) >= 140000, f"PostgreSQL {version} is older than 14"
    addresses = _listening(host, 5432)
    assert addresses, "PostgreSQL does not listen on 5432"
    assert set(addresses) <= {"127.0.0.1", "::1"}, f"PostgreSQL listens on {addresses}"
    anl_fact("postgresql", version)


def test_database_and_role_peer_authenticated(host: Any, user: str, db_name: str) -> None:
    """The mastodon role (CREATEDB, no password) owns the database and reaches it over the local socket as itself.

    Hint: the deploy creates them (role postgresql); Debian's pg_hba.conf allows `local all all peer`.
    """
    role = _psql(host, f"SELECT rolcreatedb, rolpassword IS NULL FROM pg_authid WHERE rolname = '{user}'")
    assert role == "t|t", f"role {user}: {role or 'missing'} (expected CREATEDB and no password)"
    owner = _psql(host, f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{db_name}'")
    assert owner == user, f"database {db_name} is owned by {owner or 'nobody (missing)'}"
    result = host.run("runuser -u %s -- psql -XAt -h /var/run/postgresql -d %s -c 'SELECT current_user'", user, db_name)
    assert result.rc == 0 and result.stdout.strip() == user, f"peer login as {user}: {result.stderr.strip()}"


def test_redis_running(host: Any, anl_fact: Callable[[str, Any], None]) -> None:
    """Redis (6.2 at least) runs, starts at boot, answers PING and listens on localhost only.

    Hint: `systemctl status redis-server`; `/etc/redis/anl.conf` holds the recipe's settings.
    """
    service = host.service("redis-server")
    assert service.is_running and service.is_enabled, "redis-server is not running or not enabled"
    assert host.run("redis-cli -h 127.0.0.1 ping").stdout.strip() == "PONG", "Redis does not answer PING"
    info = host.check_output("redis-cli -h 127.0.0.1 info server")
    match = re.search(r"redis_version:(\d+)\.(\d+)", info)
    assert match and (int(match.group(1)), int(match.group(2))) >= (6, 2), f"Redis version: {match and match.group(0)}"
    addresses = _listening(host, 6379)
    assert addresses and set(addresses) <= {"127.0.0.1", "::1"}, f"Redis listens on {addresses}"
    anl_fact("redis", f"{match.group(1)}.{match.group(2)}")


def test_runtimes_from_debian(host: Any, anl_fact: Callable[[str, Any], None]) -> None:
    """Ruby (3.2 at least), bundler, Node.js (20 at least), corepack, ffmpeg, ImageMagick and libvips come from Debian.

    Hint: the deploy installs them with apt (`apt-cache policy ruby nodejs node-corepack`).
    """
    ruby = host.check_output("ruby -e 'print RUBY_VERSION'")
    assert tuple(int(x) for x in ruby.split(".")[:2]) >= RUBY_MIN, f"Ruby {ruby} is older than 3.2"
    node = host.check_output("node --version").lstrip("v")
    assert int(node.split(".")[0]) >= NODE_MIN, f"Node.js {node} is older than 20"
    for package in ("ruby", "ruby-bundler", "nodejs", "node-corepack", "ffmpeg", "imagemagick", "libvips-tools"):
        assert host.package(package).is_installed, f"{package} is not installed"
    for tool in ("/usr/bin/bundle", "/usr/bin/corepack", "/usr/bin/ffmpeg", "/usr/bin/vips"):
        assert host.file(tool).exists, f"{tool} is missing"
    anl_fact("ruby", ruby)
    anl_fact("nodejs", node)


def test_mastodon_user_and_folders(host: Any, user: str, home: str) -> None:
    """The mastodon user has no password and no sudo; its home lets nginx through; live/ and public/system are its own.

    Hint: the deploy creates them (upstream: `adduser --disabled-password mastodon`, `chmod o+x /home/mastodon`).
    """
    account = host.user(user)
    assert account.exists, f"no user {user}"
    assert account.home == home, f"{user}'s home is {account.home}"
    shadow = host.check_output("getent shadow %s", user).split(":")
    assert shadow[1].startswith(("!", "*")), f"{user} has a password"
    assert "sudo" not in account.groups, f"{user} is in the sudo group"
    folder = host.file(home)
    assert folder.user == user and folder.mode & 0o001 and not folder.mode & 0o006, \
        f"{home}: {folder.user} {oct(folder.mode)} (expected {user}, o+x only)"
    for path in (f"{home}/live", f"{home}/live/public", f"{home}/live/public/system"):
        item = host.file(path)
        assert item.is_directory and item.user == user, f"{path}: missing or not owned by {user}"
        assert not item.mode & 0o002, f"{path} is writable by everyone"


def test_local_domain_recorded(host: Any, domain: str) -> None:
    """The LOCAL_DOMAIN the server was deployed with is recorded, and it is the one asked for (it cannot change).

    Hint: `/etc/anl-mastodon/local_domain`; a different mastodon_domain is refused by the deploy: put it back.
    """
    recorded = host.file("/etc/anl-mastodon/local_domain")
    assert recorded.exists, "LOCAL_DOMAIN is not recorded"
    assert recorded.content_string.strip() == domain, f"recorded {recorded.content_string.strip()}, asked {domain}"


def test_nginx_configuration_valid(host: Any, home: str) -> None:
    """nginx accepts its configuration, with Mastodon's upstreams, cache, WebSocket proxy and public folder.

    Hint: `nginx -t` names the file and line at fault; the site is `/etc/nginx/anl/mastodon.locations.conf`.
    """
    check = host.run("nginx -t")
    assert check.rc == 0, check.stderr
    dump = host.check_output("nginx -T 2>/dev/null")
    assert "keys_zone=mastodon_cache" in dump, "no proxy cache for Mastodon"
    assert re.search(r"location \^~ /api/v1/streaming \{[^}]*proxy_pass http://mastodon_streaming;", dump), \
        "the streaming API is not proxied to mastodon-streaming"
    assert re.search(r"location @proxy \{[^}]*proxy_pass http://mastodon_backend;", dump), \
        "the site is not proxied to mastodon-web"
    assert f"root {home}/live/public;" in dump, "the site does not serve Mastodon's public folder"
    assert "proxy_set_header Connection $mastodon_connection_upgrade;" in dump, "WebSockets are not passed on"


def test_security_headers(host: Any, https_get: HttpsGet, site_domain: str, home: str) -> None:
    """The site sends HSTS and nosniff on every answer, and uploaded files are served under a policy that runs nothing.

    Hint: the web role's `anl-security-headers.conf`, included again in each location that sets its own headers.
    """
    for path in ("/", "/packs/none.js", "/api/v1/streaming"):
        status, headers, _ = https_get(site_domain, path)
        assert status, f"no HTTPS answer from {site_domain}{path}"
        hsts = headers.get("strict-transport-security", "")
        match = re.search(r"max-age=(\d+)", hsts)
        assert match and int(match.group(1)) >= 15552000, f"{path}: HSTS is {hsts!r}"
        assert headers.get("x-content-type-options") == "nosniff", f"{path}: no nosniff"
    # A missing file goes to the error page (through the proxy): only a file that exists shows the policy.
    found = host.run("find %s -type f -print -quit", f"{home}/live/public/system").stdout.strip()
    if found:
        path = found[len(f"{home}/live/public"):]
        status, headers, _ = https_get(site_domain, path)
        policy = headers.get("content-security-policy", "")
        assert status == 200, f"{path}: HTTP {status}"
        assert "default-src 'none'" in policy and "form-action 'none'" in policy, f"{path}: policy is {policy!r}"
        assert headers.get("strict-transport-security"), f"{path}: no HSTS"
    else:
        dump = host.check_output("nginx -T 2>/dev/null")
        block = re.search(r"location ~ \^/system/ \{(.*?)\n\}", dump, re.DOTALL)
        assert block, "no location for uploaded files (/system/)"
        assert "add_header Content-Security-Policy \"default-src 'none'; form-action 'none'\" always;" in block.group(1), \
            "uploaded files are served without their Content-Security-Policy"
        assert "include /etc/nginx/snippets/anl-security-headers.conf;" in block.group(1), \
            "uploaded files are served without the security headers"


def test_env_production_private(host: Any, user: str, home: str, installed: str) -> None:
    """.env.production (the secrets) belongs to mastodon with mode 0600.

    Hint: the deploy writes it (tag `app`); `chown mastodon: ~mastodon/live/.env.production && chmod 600 ...`.
    """
    env = host.file(f"{home}/live/.env.production")
    if not installed and not env.exists:
        pytest.skip("n/a: Mastodon is not installed (tag app not deployed: the source release is needed)")
    assert env.exists, f"{home}/live/.env.production is missing"
    assert env.user == user and env.group == user, f".env.production is {env.user}:{env.group}"
    assert env.mode == 0o600, f".env.production mode is {oct(env.mode)}"


# --- app ---------------------------------------------------------------------

@pytest.mark.app
def test_units_running(host: Any) -> None:
    """mastodon-web, mastodon-sidekiq and mastodon-streaming run and start at boot; web and streaming listen on localhost.

    Hint: `journalctl -u mastodon-web` (or sidekiq, streaming) says why a unit stopped.
    """
    for unit in UNITS:
        service = host.service(unit)
        assert service.is_running, f"{unit} is not running"
        assert service.is_enabled, f"{unit} is not enabled at boot"
    for port in (3000, 4000):
        addresses = _listening(host, port)
        assert addresses and set(addresses) <= {"127.0.0.1", "::1"}, f"port {port}: {addresses}"


@pytest.mark.app
def test_health_up(https_get: HttpsGet, site_domain: str) -> None:
    """/health answers 200 (web process, database and cache up).

    Hint: `journalctl -u mastodon-web`; `systemctl status postgresql redis-server`.
    """
    status, _, body = https_get(site_domain, "/health")
    assert status == 200, f"/health answered HTTP {status}: {body[:200]!r}"


@pytest.mark.app
def test_instance_domain_and_version(https_get: HttpsGet, site_domain: str, domain: str, installed: str,
                                     anl_fact: Callable[[str, Any], None]) -> None:
    """/api/v2/instance gives the expected domain and the installed version.

    Hint: LOCAL_DOMAIN in `.env.production`; `/etc/anl-mastodon/release` is the version the recipe installed.
    """
    status, _, body = https_get(site_domain, "/api/v2/instance")
    assert status == 200, f"/api/v2/instance answered HTTP {status}"
    data = json.loads(body)
    assert data.get("domain") == domain, f"domain is {data.get('domain')!r}, expected {domain}"
    assert str(data.get("version", "")).startswith(installed), f"version is {data.get('version')!r}, installed {installed}"
    anl_fact("mastodon", data.get("version"))


@pytest.mark.app
def test_owner_webfinger(https_get: HttpsGet, site_domain: str, domain: str, plugin_vars: dict[str, Any]) -> None:
    """WebFinger answers for the owner account (other servers find it).

    Hint: the deploy creates it with `tootctl accounts create`; `bin/tootctl accounts modify NAME --approve`.
    """
    owner = str(plugin_vars.get("mastodon_owner_username", "mairie"))
    status, _, body = https_get(site_domain, f"/.well-known/webfinger?resource=acct:{owner}@{domain}")
    assert status == 200, f"WebFinger for {owner}@{domain} answered HTTP {status}"
    assert json.loads(body).get("subject") == f"acct:{owner}@{domain}"


@pytest.mark.app
def test_streaming_health(host: Any) -> None:
    """The streaming server's health endpoint answers OK.

    Hint: `journalctl -u mastodon-streaming`.
    """
    result = host.run("curl -fsS --max-time 10 http://127.0.0.1:4000/api/v1/streaming/health")
    assert result.rc == 0 and result.stdout.strip() == "OK", f"streaming health: {result.stdout[:100]!r} {result.stderr}"


@pytest.mark.app
def test_limited_federation_as_configured(host: Any, home: str, plugin_vars: dict[str, Any]) -> None:
    """LIMITED_FEDERATION_MODE is as configured, and the instance allows exactly mastodon_allowed_domains.

    Hint: `mastodon_limited_federation` and `mastodon_allowed_domains`; deploy again to apply them.
    """
    limited = bool(plugin_vars.get("mastodon_limited_federation", False))
    env = host.run("grep -E '^LIMITED_FEDERATION_MODE=' %s", f"{home}/live/.env.production")
    assert env.stdout.strip() == f"LIMITED_FEDERATION_MODE={'true' if limited else 'false'}", env.stdout
    result = host.run("cd %s && runuser -u mastodon -- env RAILS_ENV=production bundle exec rails runner "
                      "'puts DomainAllow.pluck(:domain).sort.join(\",\")'", f"{home}/live")
    assert result.rc == 0, result.stderr[-500:]
    allowed = sorted(str(d) for d in plugin_vars.get("mastodon_allowed_domains", []))
    assert result.stdout.strip().splitlines()[-1:] == [",".join(allowed)] or (not allowed and not result.stdout.strip()), \
        f"domains allowed: {result.stdout.strip()!r}, expected {allowed}"
