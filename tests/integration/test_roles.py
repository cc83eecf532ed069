"""The shared roles on real lab hosts, Debian 13 and 12.

One host per release, used in sequence. A non-root deploy user (sudo
NOPASSWD, its own key) applies base + web with a small static site, twice
(second run changed=0), then postgresql, mariadb, redis and php_fpm, twice.
The checks then look at the host from the controller: firewall, SSH, HTTPS.
The security suite is removed from the host's APT sources first, so the
base role has to add it back from the host's own mirror. Debian 13 runs
under Ansible's linear strategy, Debian 12 under Mitogen
(tests.fixtures.lab.ENGINE_BY_RELEASE).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fixtures.lab import engine_env
from tests.integration.roles_support import (
    DATA,
    PlaybookRun,
    probe_tcp,
    run_playbook,
    ssh,
    write_inventory,
)

pytestmark = pytest.mark.lab

DEPLOY_USER = "deploy"
DB_PASSWORD = "roles-Test-8d1f3c"
UNDECLARED_PORT = 8081
# Declared, but only for an address that is not the controller.
RESTRICTED_PORT = 8443


@dataclass
class RolesHost:
    host: object
    key: Path
    inventory: Path
    domain: str
    runs: dict[str, PlaybookRun] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return self.host.address  # type: ignore[attr-defined]

    def root(self, command: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
        return self.host.ssh(command, timeout=timeout)  # type: ignore[attr-defined]

    def deploy(self, command: str, **kw: object) -> subprocess.CompletedProcess[str]:
        return ssh(self.address, DEPLOY_USER, self.key, command, **kw)  # type: ignore[arg-type]


def _prepare_host(host: object, tmp: Path) -> Path:
    """Deploy user with sudo and its own key; a password too, to show it stops working."""
    key = tmp / "deploy_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    pub = key.with_suffix(".pub").read_text().strip()
    script = f"""set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq sudo >/dev/null
id {DEPLOY_USER} >/dev/null 2>&1 || useradd -m -s /bin/bash {DEPLOY_USER}
echo '{DEPLOY_USER}:Not-a-key-42' | chpasswd
install -d -m 700 -o {DEPLOY_USER} -g {DEPLOY_USER} /home/{DEPLOY_USER}/.ssh
echo '{pub}' > /home/{DEPLOY_USER}/.ssh/authorized_keys
chown {DEPLOY_USER}: /home/{DEPLOY_USER}/.ssh/authorized_keys && chmod 600 /home/{DEPLOY_USER}/.ssh/authorized_keys
echo '{DEPLOY_USER} ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/{DEPLOY_USER} && chmod 440 /etc/sudoers.d/{DEPLOY_USER}
# Keep only the main suite: the base role must add the security suite itself.
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  awk 'BEGIN{{RS="";ORS="\\n\\n"}} !/-security/' /etc/apt/sources.list.d/debian.sources > /tmp/s && mv /tmp/s /etc/apt/sources.list.d/debian.sources
fi
[ -f /etc/apt/sources.list ] && sed -i '/-security/d' /etc/apt/sources.list || true
"""
    proc = host.ssh(script, timeout=600)  # type: ignore[attr-defined]
    assert proc.returncode == 0, proc.stderr
    return key


@pytest.fixture(scope="module", params=["13", "12"])
def roles_host(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RolesHost]:
    from tests.fixtures.lab import _down_quietly, require_lab

    require_lab()
    from anl_stack import lab

    release = request.param
    name = f"rt{release}"
    host = lab.up(name, release)
    try:
        tmp = tmp_path_factory.mktemp(f"roles{release}")
        key = _prepare_host(host, tmp)
        domain = f"www.{host.domain}"
        variables = {
            "anl_commune": "roles-test", "anl_domain": host.domain,
            "anl_admin_email": f"admin@{host.domain}", "anl_tls_mode": "selfsigned",
            "roles_test_domain": domain, "base_fail2ban_enabled": True,
            "anl_firewall_ports": [
                {"port": 80, "protocol": "tcp", "allow_from": []},
                {"port": 443, "protocol": "tcp", "allow_from": []},
                {"port": RESTRICTED_PORT, "protocol": "tcp", "allow_from": ["192.0.2.10", "2001:db8::10"]},
            ],
        }
        inventory = write_inventory(tmp / "hosts.yml", name, host.address, DEPLOY_USER, key, variables)
        yield RolesHost(host, key, inventory, domain)
    finally:
        _down_quietly(name)


@pytest.fixture(scope="module")
def converged(roles_host: RolesHost) -> RolesHost:
    """base + web applied twice by the deploy user."""
    for run in ("base_web_1", "base_web_2"):
        roles_host.runs[run] = run_playbook(roles_host.inventory, DATA / "base_web.yml",
                                            engine_env=engine_env(roles_host.host.release))  # type: ignore[attr-defined]
        assert roles_host.runs[run].rc == 0, roles_host.runs[run].output[-6000:]
    return roles_host


@pytest.fixture(scope="module")
def databases(converged: RolesHost) -> RolesHost:
    for run in ("databases_1", "databases_2"):
        converged.runs[run] = run_playbook(converged.inventory, DATA / "databases.yml",
                                           extra_vars=[f"roles_test_db_password={DB_PASSWORD}"],
                                           engine_env=engine_env(converged.host.release))  # type: ignore[attr-defined]
        assert converged.runs[run].rc == 0, converged.runs[run].output[-6000:]
    return converged


def _name(h: RolesHost) -> str:
    return h.host.name  # type: ignore[attr-defined]


# --- base ---------------------------------------------------------------------

def test_base_web_second_run_changes_nothing(converged: RolesHost) -> None:
    run = converged.runs["base_web_2"]
    assert run.recap(_name(converged))["changed"] == 0, run.changed_tasks()
    assert converged.runs["base_web_1"].recap(_name(converged))["changed"] > 0


def test_deploy_user_still_logs_in_with_its_key(converged: RolesHost) -> None:
    proc = converged.deploy("sudo -n true && id -un")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == DEPLOY_USER


def test_password_login_is_refused(converged: RolesHost) -> None:
    sshd = converged.root("sshd -T")
    assert re.search(r"^passwordauthentication no$", sshd.stdout, re.M), sshd.stdout
    assert re.search(r"^kbdinteractiveauthentication no$", sshd.stdout, re.M)
    assert re.search(r"^permitrootlogin (without-password|prohibit-password)$", sshd.stdout, re.M)
    # The server itself offers only publickey now, even for a user with a password.
    proc = converged.deploy("true", extra=["-o", "PubkeyAuthentication=no",
                                           "-o", "PreferredAuthentications=password,keyboard-interactive",
                                           "-o", "IdentitiesOnly=yes"])
    assert proc.returncode != 0
    assert "Permission denied (publickey)" in proc.stderr, proc.stderr


def test_firewall_is_default_deny(converged: RolesHost) -> None:
    rules = converged.root("nft list table inet anl_filter")
    assert rules.returncode == 0, rules.stderr
    assert re.search(r"hook input priority filter; policy drop;", rules.stdout), rules.stdout
    assert "ct state established,related accept" in rules.stdout
    assert converged.root("systemctl is-enabled nftables").stdout.strip() == "enabled"


def test_only_declared_ports_are_reachable(converged: RolesHost) -> None:
    started = converged.root(f"systemd-run --unit=roles-probe-{UNDECLARED_PORT} --collect "
                             f"python3 -m http.server {UNDECLARED_PORT} --bind 0.0.0.0")
    assert started.returncode == 0, started.stderr
    try:
        local = converged.root(
            "for i in 1 2 3 4 5 6 7 8 9 10; do python3 -c \"import urllib.request as u; "
            f"print(u.urlopen('http://127.0.0.1:{UNDECLARED_PORT}/').status)\" 2>/dev/null && exit 0; sleep 0.5; done; exit 1")
        assert local.stdout.strip() == "200", "the probe server must listen on the host"
        assert probe_tcp(converged.address, UNDECLARED_PORT) == "filtered"
        assert probe_tcp(converged.address, RESTRICTED_PORT) == "filtered"
        assert probe_tcp(converged.address, 443) == "open"
        assert probe_tcp(converged.address, 80) == "open"
        assert probe_tcp(converged.address, 22) == "open"
    finally:
        converged.root(f"systemctl stop roles-probe-{UNDECLARED_PORT}")


def test_firewall_reload_keeps_the_ssh_session(converged: RolesHost) -> None:
    proc = converged.deploy("sudo -n systemctl reload nftables && sleep 1 && echo still-here")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "still-here"


def test_security_suite_is_added_from_the_hosts_mirror(converged: RolesHost) -> None:
    codename = converged.host.codename  # type: ignore[attr-defined]
    source = converged.root("cat /etc/apt/sources.list.d/anl-security.sources")
    assert source.returncode == 0, source.stderr
    assert f"Suites: {codename}-security" in source.stdout
    assert re.search(r"^URIs: \S+/debian-security$", source.stdout, re.M), source.stdout
    policy = converged.root("apt-cache policy")
    assert f"n={codename}-security" in policy.stdout, policy.stdout


def test_unattended_security_upgrades_are_on(converged: RolesHost) -> None:
    config = converged.root("apt-config dump APT::Periodic")
    assert 'APT::Periodic::Unattended-Upgrade "1";' in config.stdout
    assert 'APT::Periodic::Update-Package-Lists "1";' in config.stdout
    dry = converged.root("unattended-upgrade --dry-run --debug 2>&1 | grep -i 'allowed origins'")
    assert f"codename={converged.host.codename}-security" in dry.stdout, dry.stdout  # type: ignore[attr-defined]
    timers = converged.root("systemctl is-enabled apt-daily.timer apt-daily-upgrade.timer")
    assert timers.stdout.split() == ["enabled", "enabled"], timers.stdout


def test_time_sync_reported_not_applicable_in_a_container(converged: RolesHost) -> None:
    virt = converged.root("systemd-detect-virt --container")
    assert virt.stdout.strip() == "systemd-nspawn"
    output = converged.runs["base_web_1"].output
    assert "Time synchronisation: not applicable" in output
    assert "shares the host machine's clock" in output
    # Nothing was installed that would fail to start here.
    assert converged.root("systemctl is-active systemd-timesyncd").stdout.strip() != "active"


def test_fail2ban_guards_ssh(converged: RolesHost) -> None:
    assert converged.root("systemctl is-active fail2ban").stdout.strip() == "active"
    jail = converged.root("fail2ban-client status sshd")
    assert jail.returncode == 0 and "Status for the jail: sshd" in jail.stdout, jail.stdout + jail.stderr


# --- base: system hardening ---------------------------------------------------

def test_sshd_hardening_is_live_and_the_deploy_user_still_logs_in(converged: RolesHost) -> None:
    sshd = converged.root("sshd -T").stdout
    for line in ("maxauthtries 3", "allowtcpforwarding no", "x11forwarding no", "allowagentforwarding no",
                 "permittunnel no", "loglevel VERBOSE", "clientaliveinterval 300", "banner /etc/issue.net"):
        assert re.search(rf"^{line}$", sshd, re.M | re.I), f"{line!r} not in sshd -T"
    # After the reload, a new connection with the key still works (Ansible's own path).
    proc = converged.deploy("sudo -n cat /etc/issue.net")
    assert proc.returncode == 0, proc.stderr
    assert "commune de roles-test" in proc.stdout and "journalisées" in proc.stdout, proc.stdout


def test_login_defs_umask_and_hash_cost(converged: RolesHost) -> None:
    defs = converged.root("cat /etc/login.defs").stdout
    assert re.search(r"^UMASK\s+027$", defs, re.M)
    assert re.search(r"^YESCRYPT_COST_FACTOR\s+8$", defs, re.M)
    assert re.search(r"^SHA_CRYPT_MIN_ROUNDS\s+65536$", defs, re.M)


def test_network_sysctls_applied_kernel_ones_written_and_reported(converged: RolesHost) -> None:
    conf = converged.root("cat /etc/sysctl.d/60-anl-hardening.conf").stdout
    assert "kernel.kptr_restrict = 2" in conf and "fs.suid_dumpable = 0" in conf
    live = converged.root("sysctl -n net.ipv4.conf.all.accept_redirects net.ipv4.conf.all.send_redirects "
                          "net.ipv4.conf.all.log_martians net.ipv4.tcp_syncookies net.ipv6.conf.all.accept_ra")
    assert live.stdout.split() == ["0", "0", "1", "1", "0"], live.stdout
    output = converged.runs["base_web_1"].output
    assert "kernel.*, fs.* and vm.* belong to the host machine" in output
    assert "auditd not applicable inside a container" in output


def test_unused_protocols_tools_and_no_auditd_in_a_container(converged: RolesHost) -> None:
    modprobe = converged.root("cat /etc/modprobe.d/anl-unused-protocols.conf").stdout
    for proto in ("dccp", "sctp", "rds", "tipc"):
        assert f"install {proto} /bin/false" in modprobe
    pkgs = converged.root("dpkg-query -W -f='${Package} ${Status}\\n' needrestart apt-listchanges debsums auditd")
    installed = {l.split()[0] for l in pkgs.stdout.splitlines() if l.endswith("install ok installed")}
    assert installed == {"needrestart", "apt-listchanges", "debsums"}, pkgs.stdout
    assert "$nrconf{restart} = 'l';" in converged.root("cat /etc/needrestart/conf.d/50-anl.conf").stdout


# --- web ----------------------------------------------------------------------

def _curl(h: RolesHost, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["curl", "-sS", "--max-time", "10", "--resolve", f"{h.domain}:443:{h.address}",
                           "--resolve", f"{h.domain}:80:{h.address}", *args],
                          capture_output=True, text=True, timeout=30)


def test_https_serves_the_site_with_security_headers(converged: RolesHost) -> None:
    proc = _curl(converged, "-k", "-D", "-", f"https://{converged.domain}/")
    assert proc.returncode == 0, proc.stderr
    head, _, body = re.split(r"(\r?\n){2}", proc.stdout, maxsplit=1)
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in head.splitlines()[1:])}
    assert head.startswith(("HTTP/2 200", "HTTP/1.1 200")), head
    assert "anl-stack roles test" in body, repr(proc.stdout[-600:])
    hsts = re.fullmatch(r"max-age=(\d+).*", headers["strict-transport-security"])
    assert hsts and int(hsts.group(1)) >= 15552000
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"]
    assert headers["x-frame-options"] in ("SAMEORIGIN", "DENY")
    assert headers["server"] == "nginx", "server_tokens off hides the version"


def test_self_signed_certificate_names_the_site(converged: RolesHost) -> None:
    pem = converged.root(f"cat /etc/ssl/anl/{converged.domain}.crt").stdout
    proc = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName"], input=pem,
                          capture_output=True, text=True, timeout=30)
    assert f"DNS:{converged.domain}" in proc.stdout, proc.stdout + proc.stderr
    assert converged.root(f"stat -c %a /etc/ssl/anl/{converged.domain}.key").stdout.strip() == "600"


def test_http_redirects_to_https_except_acme_challenges(converged: RolesHost) -> None:
    proc = _curl(converged, "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", f"http://{converged.domain}/a?b=1")
    assert proc.stdout == f"301 https://{converged.domain}/a?b=1", proc.stdout
    # The role makes the challenge folder (0755, whatever the session's umask: 027 on Debian 13
    # through pam_umask); the token is made readable as certbot makes its own.
    token = "/var/www/anl-acme/.well-known/acme-challenge/roles-test"
    made = converged.root(f"echo token-ok > {token} && chmod 0644 {token}")
    assert made.returncode == 0, f"the role made no challenge folder: {made.stderr}"
    try:
        proc = _curl(converged, f"http://{converged.domain}/.well-known/acme-challenge/roles-test")
        assert proc.stdout.strip() == "token-ok"
    finally:
        converged.root("rm -f /var/www/anl-acme/.well-known/acme-challenge/roles-test")


@pytest.mark.parametrize(("version", "accepted"), [("-tls1_1", False), ("-tls1_2", True), ("-tls1_3", True)])
def test_tls_versions(converged: RolesHost, version: str, accepted: bool) -> None:
    # SECLEVEL=0 lets this client offer TLS 1.1, so a refusal comes from the server.
    proc = subprocess.run(["openssl", "s_client", version, "-cipher", "DEFAULT@SECLEVEL=0",
                           "-connect", f"{converged.address}:443", "-servername", converged.domain],
                          input="", capture_output=True, text=True, timeout=30)
    negotiated = re.search(r"Protocol\s*:\s*(TLSv[\d.]+)", proc.stdout) or re.search(
        r"New, (TLSv[\d.]+),", proc.stdout)
    assert (proc.returncode == 0 and negotiated is not None) == accepted, proc.stdout[-1500:] + proc.stderr[-800:]


# --- databases, redis, php-fpm ----------------------------------------------

LOCAL_ADDRESSES = {"127.0.0.1", "[::1]", "::1"}


def _listeners(h: RolesHost, port: int) -> set[str]:
    out = h.root(f"ss -ltnH 'sport = :{port}'").stdout
    return {line.split()[3].rsplit(":", 1)[0] for line in out.splitlines() if line.strip()}


def test_database_roles_second_run_changes_nothing(databases: RolesHost) -> None:
    run = databases.runs["databases_2"]
    assert run.recap(_name(databases))["changed"] == 0, run.changed_tasks()
    assert DB_PASSWORD not in databases.runs["databases_1"].output, "no_log must hide passwords"


@pytest.mark.parametrize(("service", "port"), [("postgresql", 5432), ("mariadb", 3306), ("redis-server", 6379)])
def test_database_services_listen_on_localhost_only(databases: RolesHost, service: str, port: int) -> None:
    assert databases.root(f"systemctl is-active {service}").stdout.strip() == "active"
    listeners = _listeners(databases, port)
    assert listeners, f"{service} does not listen on {port}"
    assert listeners <= LOCAL_ADDRESSES, listeners


def test_database_users_can_connect(databases: RolesHost) -> None:
    pg = databases.root(f"PGPASSWORD={DB_PASSWORD} psql -h 127.0.0.1 -U rolestest -d rolestest -tAc 'select 41+1'")
    assert pg.stdout.strip() == "42", pg.stderr
    my = databases.root(f"mariadb -h 127.0.0.1 -u rolestest -p{DB_PASSWORD} rolestest -N -e 'select 41+1'")
    assert my.stdout.strip() == "42", my.stderr


def test_redis_socket_is_open_to_its_group(databases: RolesHost) -> None:
    proc = databases.root("runuser -u www-data -- redis-cli -s /run/redis/redis-server.sock ping")
    assert proc.stdout.strip() == "PONG", proc.stderr
    denied = databases.root("runuser -u nobody -- redis-cli -s /run/redis/redis-server.sock ping")
    assert "PONG" not in denied.stdout


def test_php_fpm_version_pool_and_settings(databases: RolesHost) -> None:
    version = {"13": "8.4", "12": "8.2"}[databases.host.release]  # type: ignore[attr-defined]
    assert databases.root(f"systemctl is-active php{version}-fpm").stdout.strip() == "active"
    sock = databases.root(f"stat -c '%U %G' /run/php/php{version}-fpm-rolestest.sock")
    assert sock.stdout.strip() == "www-data www-data", sock.stderr
    assert databases.root(f"test -e /etc/php/{version}/fpm/pool.d/www.conf").returncode != 0
    info = databases.root(f"php-fpm{version} -i")
    assert re.search(r"^memory_limit => 256M", info.stdout, re.M), info.stdout[-500:]
    assert re.search(r"^apc\.enabled => ", info.stdout, re.M), "APCu from php_fpm_packages"
