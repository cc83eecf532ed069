"""Checks of the peertube plugin (run by `anl-stack verify peertube`).

Each docstring: first line = what the check proves; `Hint:` = how to repair.
Unmarked checks cover the stack (tag `stack` of the recipe) and pass on a
server prepared without the release; checks marked `app` need PeerTube
installed and running (`anl-stack verify peertube --mark "not app"` skips them).
No check prints a secret: the root password travels only in a request body.
"""

from __future__ import annotations

import http.client
import json
import re
import shlex
import socket
import ssl
import urllib.parse
from typing import Any, Callable

import pytest
import yaml

#: Node.js versions PeerTube 8 accepts (support/doc/dependencies.md): (major, lowest minor).
NODE_RANGES = {20: 19, 22: 12}
POSTGRESQL_PORT = 5432
REDIS_PORT = 6379
PEERTUBE_PORT = 9000
SYSCTL = "/etc/sysctl.d/30-peertube-tcp.conf"
UNIT = "/etc/systemd/system/peertube.service"

HttpsGet = Callable[..., tuple[int, dict[str, str], bytes]]


@pytest.fixture(scope="module")
def domain(plugin_vars: dict[str, Any]) -> str:
    return str(plugin_vars["peertube_domain"])


@pytest.fixture(scope="module")
def root(plugin_vars: dict[str, Any]) -> str:
    return str(plugin_vars.get("peertube_root", "/var/www/peertube")).rstrip("/")


@pytest.fixture(scope="module")
def database(plugin_vars: dict[str, Any]) -> str:
    return "peertube" + str(plugin_vars.get("peertube_db_suffix", "_prod"))


@pytest.fixture(scope="module")
def node_path(plugin_vars: dict[str, Any]) -> str:
    return str(plugin_vars.get("peertube_nodejs") or "/usr/bin/node")


@pytest.fixture(scope="module")
def production(host: Any, root: str) -> dict[str, Any]:
    """production.yaml as PeerTube reads it (read as root; it is not world-readable)."""
    text = host.check_output(f"cat {shlex.quote(root + '/config/production.yaml')}")
    return yaml.safe_load(text) or {}


def _listening(host: Any, port: int) -> list[str]:
    """Local addresses listening on TCP ``port``."""
    addresses = []
    for line in host.check_output("ss -Hltn").splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[3].rsplit(":", 1)[-1] == str(port):
            addresses.append(fields[3].rsplit(":", 1)[0].strip("[]"))
    return addresses


def _node_accepted(version: str) -> bool:
    match = re.match(r"^v?(\d+)\.(\d+)\.", version.strip())
    return bool(match) and int(match.group(1)) in NODE_RANGES and int(match.group(2)) >= NODE_RANGES[int(match.group(1))]


def _https_post(address: str, domain: str, path: str, form: str) -> tuple[int, bytes]:
    """POST a form to the site (name as SNI and Host, any certificate accepted, as https_get)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    body = form.encode()
    with socket.create_connection((address, 443), timeout=30) as raw, \
            context.wrap_socket(raw, server_hostname=domain) as tls:
        tls.sendall(f"POST {path} HTTP/1.1\r\nHost: {domain}\r\nConnection: close\r\n"
                    f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
                    .encode() + body)
        answer = http.client.HTTPResponse(tls)
        answer.begin()
        return answer.status, answer.read()


def _psql(host: Any, database: str, query: str) -> str:
    return host.check_output(f"runuser -u postgres -- psql -d {shlex.quote(database)} -Atc {shlex.quote(query)}")


# --- stack -------------------------------------------------------------------

def test_postgresql_database_with_extensions(host: Any, database: str, anl_fact: Callable[[str, Any], None]) -> None:
    """PostgreSQL runs, starts at boot, and PeerTube's database holds the pg_trgm and unaccent extensions.

    Hint: `runuser -u postgres -- psql -d peertube_prod -c 'CREATE EXTENSION pg_trgm; CREATE EXTENSION unaccent;'`.
    """
    service = host.service("postgresql")
    assert service.is_running and service.is_enabled, "postgresql is not running or not enabled at boot"
    owner = _psql(host, "postgres", f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{database}'")
    assert owner.strip() == "peertube", f"database {database} is missing or not owned by peertube (owner: {owner!r})"
    extensions = set(_psql(host, database, "SELECT extname FROM pg_extension").split())
    assert {"pg_trgm", "unaccent"} <= extensions, f"extensions of {database}: {sorted(extensions)}"
    anl_fact("postgresql", _psql(host, "postgres", "SHOW server_version").strip())


def test_postgresql_listens_on_localhost_only(host: Any) -> None:
    """PostgreSQL listens on the loopback addresses only.

    Hint: `listen_addresses = 'localhost'` in `/etc/postgresql/*/main/conf.d/50-anl.conf`.
    """
    addresses = _listening(host, POSTGRESQL_PORT)
    assert addresses, "PostgreSQL does not listen on TCP 5432 (PeerTube connects to 127.0.0.1:5432)"
    outside = [a for a in addresses if a not in ("127.0.0.1", "::1")]
    assert not outside, f"PostgreSQL listens on {outside}"


def test_redis_on_localhost(host: Any) -> None:
    """Redis runs, starts at boot, answers PING and listens on the loopback addresses only.

    Hint: `systemctl status redis-server`; `/etc/redis/anl.conf` sets `bind 127.0.0.1 -::1`.
    """
    service = host.service("redis-server")
    assert service.is_running and service.is_enabled, "redis-server is not running or not enabled at boot"
    assert host.check_output("redis-cli -h 127.0.0.1 ping").strip() == "PONG"
    addresses = _listening(host, REDIS_PORT)
    outside = [a for a in addresses if a not in ("127.0.0.1", "::1")]
    assert addresses and not outside, f"Redis listens on {addresses}"


def test_node_and_ffmpeg(host: Any, node_path: str, anl_fact: Callable[[str, Any], None]) -> None:
    """The Node.js PeerTube runs on is in PeerTube 8's range (>= 20.19 < 21, >= 22.12 < 23), and ffmpeg is installed.

    Hint: on Debian 13 `apt install nodejs ffmpeg`; on Debian 12 set peertube_nodejs to a Node.js you provide.
    """
    version = host.check_output(f"{shlex.quote(node_path)} --version").strip()
    assert _node_accepted(version), f"{node_path} is {version}, outside PeerTube 8's range"
    assert host.run("ffmpeg -hide_banner -version").rc == 0, "ffmpeg is missing"
    anl_fact("node", version)


def test_peertube_user_and_folders(host: Any, root: str) -> None:
    """The `peertube` system user exists without a login shell, owns its home (0755 for nginx), storage and versions.

    Hint: deploy again (`--tags stack`) to recreate them.
    """
    user = host.user("peertube")
    assert user.exists, "no peertube user"
    assert user.uid < 1000 and user.shell in ("/usr/sbin/nologin", "/bin/false"), (user.uid, user.shell)
    assert user.home == root, f"the home of peertube is {user.home}"
    for path, mode in ((root, 0o755), (f"{root}/storage", 0o755), (f"{root}/versions", 0o755)):
        folder = host.file(path)
        assert folder.is_directory and folder.user == "peertube", f"{path} missing or not owned by peertube"
        assert folder.mode == mode, f"{path} has mode {oct(folder.mode)}"
    assert host.file(f"{root}/storage/tmp").mode == 0o750, "storage/tmp is open to others"


def test_config_folder_closed(host: Any, root: str) -> None:
    """config/ is 0750 owned by peertube, production.yaml is not world-readable, the root password file is root's 0600.

    Hint: `chmod 750 config`, `chmod 640 config/production.yaml`; deploy again restores them.
    """
    config = host.file(f"{root}/config")
    assert config.is_directory and config.user == "peertube" and config.mode == 0o750, \
        f"config/ is {config.user}:{config.group} {oct(config.mode)}"
    production = host.file(f"{root}/config/production.yaml")
    assert production.exists and production.user == "peertube", "production.yaml missing or not peertube's"
    assert production.mode & 0o007 == 0, f"production.yaml has mode {oct(production.mode)}"
    secret = host.file("/etc/anl-peertube/initial-root.env")
    assert secret.exists and secret.user == "root" and secret.mode == 0o600, "initial-root.env is not root's 0600"


def test_production_yaml_settings(production: dict[str, Any], domain: str, plugin_vars: dict[str, Any],
                                  database: str) -> None:
    """production.yaml names this instance, its database and Redis, and holds the commune's choices.

    The web name, HTTPS, the localhost listener, registrations as configured (closed by default), video import
    off unless asked, live as configured, a transcoding thread count and the secrets.peertube key.
    Hint: these come from the settings peertube_*; deploy again after changing them.
    """
    assert production["webserver"] == {"https": True, "hostname": domain, "port": 443}, production["webserver"]
    assert production["listen"]["hostname"] == "127.0.0.1" and production["listen"]["port"] == PEERTUBE_PORT
    assert re.fullmatch(r"[0-9a-f]{64}", str(production["secrets"]["peertube"])), "secrets.peertube is not 64 hex"
    assert "peertube" + production["database"]["suffix"] == database
    assert production["database"]["username"] == plugin_vars.get("peertube_db_user", "peertube")
    assert production["redis"]["hostname"] == "127.0.0.1"
    assert production["signup"]["enabled"] is bool(plugin_vars.get("peertube_signup_enabled", False))
    assert production["import"]["videos"]["http"]["enabled"] is bool(plugin_vars.get("peertube_import_http_enabled",
                                                                                     False))
    assert production["live"]["enabled"] is bool(plugin_vars.get("peertube_live_enabled", False))
    assert production["instance"]["languages"] == list(plugin_vars.get("peertube_languages", ["fr"]))
    assert int(production["transcoding"]["threads"]) >= 1
    assert production["user"]["video_quota"] == int(plugin_vars.get("peertube_user_video_quota", -1))


def test_unit_runs_the_right_node(host: Any, node_path: str, root: str) -> None:
    """The PeerTube unit starts `dist/server` with this host's Node.js, as peertube, and `systemd-analyze verify` accepts it.

    Hint: the unit is the recipe's (`/etc/systemd/system/peertube.service`); deploy again to restore it.
    """
    unit = host.file(UNIT)
    assert unit.exists, f"{UNIT} is missing"
    text = unit.content_string
    assert re.search(rf"^ExecStart={re.escape(node_path)} dist/server$", text, re.MULTILINE), \
        f"ExecStart is not {node_path} dist/server"
    assert re.search(r"^User=peertube$", text, re.MULTILINE), "the unit does not run as peertube"
    assert re.search(rf"^WorkingDirectory={re.escape(root)}/peertube-latest$", text, re.MULTILINE)
    assert re.search(rf"^Environment=NODE_CONFIG_DIR={re.escape(root)}/config$", text, re.MULTILINE)
    assert "PT_INITIAL_ROOT_PASSWORD" not in text.replace("# PT_INITIAL_ROOT_PASSWORD", ""), \
        "the root password is in the world-readable unit"
    check = host.run(f"systemd-analyze verify {UNIT}")
    assert check.rc == 0, check.stderr or check.stdout


def test_sysctl_file(host: Any) -> None:
    """Upstream's network tuning is in place: fq_codel queueing and BBR congestion control.

    Hint: `/etc/sysctl.d/30-peertube-tcp.conf` is written by the deploy; `sysctl -p` it outside a container.
    """
    tuning = host.file(SYSCTL)
    assert tuning.exists, f"{SYSCTL} is missing"
    settings = dict(re.findall(r"^([a-z0-9_.]+)\s*=\s*(\S+)$", tuning.content_string, re.MULTILINE))
    assert settings.get("net.core.default_qdisc") == "fq_codel", settings
    assert settings.get("net.ipv4.tcp_congestion_control") == "bbr", settings


def test_nginx_configuration_valid(host: Any, root: str) -> None:
    """nginx accepts its configuration (`nginx -t`) with PeerTube's site: upstream, resumable uploads, websockets.

    Hint: `nginx -t` names the file and line at fault.
    """
    check = host.run("nginx -t")
    assert check.rc == 0, check.stderr
    dump = host.run("nginx -T").stdout
    assert re.search(r"upstream peertube_backend \{\s*server 127\.0\.0\.1:9000;", dump), "no PeerTube upstream"
    assert "location ~ ^/api/v1/videos/(upload-resumable" in dump, "resumable uploads are not configured"
    assert re.search(r"location /socket\.io \{[^}]*Upgrade \$http_upgrade", dump), "socket.io is not a websocket"
    assert f"root {root}/storage;" in dump, "nginx does not serve the public videos from storage"


def test_security_headers(https_get: HttpsGet, domain: str) -> None:
    """The site answers over HTTPS with HSTS and nosniff, also on the video files' location.

    Hint: the web role's `anl-security-headers.conf`; `/etc/nginx/anl/peertube.locations.conf` includes it again
    in each location that adds a header.
    """
    for path in ("/", "/static/streaming-playlists/hls/anl-check/absent.m3u8"):
        status, headers, _ = https_get(domain, path)
        assert status, f"no HTTPS answer from {domain}{path}"
        hsts = headers.get("strict-transport-security", "")
        match = re.search(r"max-age=(\d+)", hsts)
        assert match and int(match.group(1)) >= 15552000, f"{path}: HSTS is {hsts!r}"
        assert headers.get("x-content-type-options") == "nosniff", f"{path}: no nosniff"


def test_rtmp_port_only_with_live(host: Any, plugin_vars: dict[str, Any]) -> None:
    """The firewall opens PeerTube live's RTMP port when live is on, and keeps it closed otherwise.

    Hint: set peertube_live_enabled, then deploy again (the base role writes the firewall).
    """
    port = int(plugin_vars.get("peertube_live_rtmp_port", 1935))
    rules = host.check_output("nft list table inet anl_filter")
    opened = re.search(rf"tcp dport {port} .*accept", rules) is not None
    assert opened is bool(plugin_vars.get("peertube_live_enabled", False)), \
        f"RTMP {port} {'open' if opened else 'closed'} with peertube_live_enabled={plugin_vars.get('peertube_live_enabled')}"


# --- app ---------------------------------------------------------------------

@pytest.mark.app
def test_release_in_versions(host: Any, root: str, plugin_vars: dict[str, Any]) -> None:
    """peertube-latest is a link to the release asked for, inside versions/.

    Hint: `ls -l /var/www/peertube/peertube-latest`; deploy the app step with the release in the cache.
    """
    link = host.file(f"{root}/peertube-latest")
    assert link.is_symlink, "peertube-latest is not a link"
    assert link.linked_to == f"{root}/versions/peertube-v{plugin_vars['peertube_version']}", link.linked_to


@pytest.mark.app
def test_service_runs_on_localhost_only(host: Any) -> None:
    """PeerTube runs, starts at boot and listens on 127.0.0.1:9000 only (nginx is its only client).

    Hint: `journalctl -u peertube` says why it stopped.
    """
    service = host.service("peertube")
    assert service.is_running and service.is_enabled, "peertube is not running or not enabled at boot"
    addresses = _listening(host, PEERTUBE_PORT)
    assert addresses and all(a in ("127.0.0.1", "::1") for a in addresses), f"PeerTube listens on {addresses}"


@pytest.mark.app
def test_api_config(https_get: HttpsGet, domain: str, plugin_vars: dict[str, Any],
                    anl_fact: Callable[[str, Any], None]) -> None:
    """/api/v1/config answers with the version deployed, and registrations as configured.

    Hint: a different serverVersion means another release runs; check peertube-latest and restart peertube.
    """
    status, _, body = https_get(domain, "/api/v1/config")
    assert status == 200, f"/api/v1/config: HTTP {status}"
    config = json.loads(body)
    assert config["serverVersion"] == plugin_vars["peertube_version"], config.get("serverVersion")
    assert config["signup"]["allowed"] is bool(plugin_vars.get("peertube_signup_enabled", False)), config["signup"]
    anl_fact("peertube", config["serverVersion"])


@pytest.mark.app
def test_nodeinfo_says_peertube(https_get: HttpsGet, domain: str) -> None:
    """/.well-known/nodeinfo leads to a nodeinfo document whose software is peertube (what federation reads).

    Hint: nginx must pass /.well-known/ to PeerTube.
    """
    status, _, body = https_get(domain, "/.well-known/nodeinfo")
    assert status == 200, f"/.well-known/nodeinfo: HTTP {status}"
    href = json.loads(body)["links"][0]["href"]
    status, _, body = https_get(domain, urllib.parse.urlsplit(href).path)
    assert status == 200 and json.loads(body)["software"]["name"] == "peertube"


@pytest.mark.app
def test_root_token_with_the_vault_password(https_get: HttpsGet, domain: str, host_address: str,
                                            anl_secret: Callable[[str], Any]) -> None:
    """A token for root is obtained with the vault's password (the password is never printed).

    Hint: the password was set on the first start only; `npm run reset-password -- -u root` in peertube-latest.
    """
    status, _, body = https_get(domain, "/api/v1/oauth-clients/local")
    assert status == 200, f"/api/v1/oauth-clients/local: HTTP {status}"
    client = json.loads(body)
    form = urllib.parse.urlencode({"client_id": client["client_id"], "client_secret": client["client_secret"],
                                   "grant_type": "password", "username": "root",
                                   "password": anl_secret("peertube_root_password").reveal()})
    status, data = _https_post(host_address, domain, "/api/v1/users/token", form)
    assert status == 200, f"token for root: HTTP {status}"
    assert json.loads(data).get("access_token"), "no access token for root"


@pytest.mark.app
def test_followed_instances(https_get: HttpsGet, domain: str, plugin_vars: dict[str, Any]) -> None:
    """This instance follows every host of peertube_follow_hosts.

    Hint: deploy the app step again; a refused follow shows in Administration > Federation.
    """
    status, _, body = https_get(domain, "/api/v1/server/following?count=100")
    assert status == 200, f"/api/v1/server/following: HTTP {status}"
    followed = {row["following"]["host"] for row in json.loads(body)["data"]}
    missing = set(plugin_vars.get("peertube_follow_hosts", [])) - followed
    assert not missing, f"not followed: {sorted(missing)}"
