"""The security baseline every anl-stack host must meet.

Each check's docstring gives its one-line explanation (first line) and a
remediation hint (the ``Hint:`` line); the report shows both.
Settings (commune inventory, ``group_vars/all/anl.yml``):
``anl_verify_disk_max_used_percent`` (default 90) and
``anl_verify_disk_paths`` (default ``["/", "/var"]``).
A value from the settings or the host reaches the host's shell quoted
(``shlex``): testinfra runs every command through a shell.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

import pytest

from anl_stack.adapters import tls
from anl_stack.core.i18n import _
from anl_stack.plugin_api import BACKUP_CONFIG_DIR, NOT_APPLICABLE
from anl_stack.verify.baseline import checks, remote

DEFAULT_DISK_MAX_USED = 90
DEFAULT_DISK_PATHS = ["/", "/var"]
MIN_HSTS_MAX_AGE = 15552000  # 180 days
#: World-writable paths a failure names (the count tells how many more there are).
SHOWN_PATHS = 10


def _run(host: Any, command: str) -> str:
    return remote.output(host, command)


def test_ssh_password_login_off(host: Any) -> None:
    """SSH accepts keys only: a guessed or leaked password cannot open the server.

    Hint: set `PasswordAuthentication no` and `KbdInteractiveAuthentication no` (the base role does),
    remove any earlier drop-in in /etc/ssh/sshd_config.d/ that sets them to yes, reload ssh.
    """
    problems = checks.ssh_password_problems(checks.sshd_settings(_run(host, "sshd -T")))
    assert not problems, _("sshd effective config: {problems}").format(problems=_("; ").join(problems))


@pytest.fixture(scope="module")
def firewall(host: Any) -> checks.Firewall:
    return checks.analyse_nft(json.loads(_run(host, "nft -j list ruleset")))


def test_firewall_default_deny(host: Any, firewall: checks.Firewall) -> None:
    """The nftables firewall is loaded, enabled at boot, and drops what is not allowed.

    Hint: re-run the deploy (the base role writes /etc/nftables.conf with `policy drop` on input)
    and `systemctl enable --now nftables`.
    """
    assert firewall.default_deny, _("no input chain with policy drop in the live nftables ruleset")
    assert host.service("nftables").is_enabled, _("nftables.service is not enabled: the rules vanish at reboot")


def test_only_declared_ports_reachable(host: Any, firewall: checks.Firewall, declared_ports: list[dict[str, Any]],
                                       host_address: str) -> None:
    """Only the ports the host's plugins declare (and SSH) are open to the network.

    Hint: remove the extra rule from the firewall (re-run the deploy to restore the declared rules),
    or stop the service listening there; a plugin that needs a port declares it in plugin.yml.
    """
    declared = {(p.get("protocol", "tcp"), int(p["port"])) for p in declared_ports}
    problems = [_("firewall accepts everything: {rule}").format(rule=rule) for rule in firewall.open_all]
    extra = sorted(firewall.open_ports - declared)
    problems += [_("firewall opens undeclared {proto}/{port}").format(proto=proto, port=port) for proto, port in extra]
    for sock in checks.listeners(_run(host, "ss -Hlntu")):
        key = (sock.protocol, sock.port)
        if sock.loopback or key in declared or sock.protocol != "tcp":
            continue
        if tls.tcp_reachable(host_address, sock.port):
            problems.append(_("tcp/{port} ({address}) answers from the controller but is not declared")
                            .format(port=sock.port, address=sock.address))
    assert not problems, _("; ").join(sorted(set(problems)))


def test_https_tls12_or_later(web_domains: list[str], host_address: str) -> None:
    """Web sites speak TLS 1.2 or 1.3 only; TLS 1.0 and 1.1 are refused.

    Hint: re-run the deploy; the web role sets `ssl_protocols TLSv1.2 TLSv1.3` (check that no other
    nginx file sets older protocols, for example Debian's default nginx.conf).
    """
    problems = []
    for domain in web_domains:
        best = tls.tls_version(host_address, domain)
        if best not in ("TLSv1.2", "TLSv1.3"):
            problems.append(_("{domain}: negotiated {version}").format(domain=domain, version=best) if best
                            else _("{domain}: negotiated nothing").format(domain=domain))
        for legacy in tls.legacy_versions():
            got = tls.tls_version(host_address, domain, version=legacy)
            if got:
                problems.append(_("{domain}: accepts {version}").format(domain=domain, version=got))
    assert not problems, _("; ").join(problems)


def test_https_hsts(web_domains: list[str], host_address: str) -> None:
    """Web sites send Strict-Transport-Security (at least 180 days), so browsers never fall back to HTTP.

    Hint: re-run the deploy; the web role adds `Strict-Transport-Security "max-age=..."` with `always`.
    """
    problems = []
    for domain in web_domains:
        status, headers, _ = tls.https_headers(host_address, domain)
        age = checks.hsts_max_age(headers.get("strict-transport-security"))
        if age is None:
            problems.append(_("{domain}: no Strict-Transport-Security header (HTTP {status})")
                            .format(domain=domain, status=status))
        elif age < MIN_HSTS_MAX_AGE:
            problems.append(_("{domain}: HSTS max-age {age} < {minimum}").format(domain=domain, age=age,
                                                                                  minimum=MIN_HSTS_MAX_AGE))
    assert not problems, _("; ").join(problems)


def test_unattended_security_upgrades(host: Any) -> None:
    """Security updates install themselves every day (unattended-upgrades).

    Hint: re-run the deploy (base role), or `apt-get install unattended-upgrades` and
    `dpkg-reconfigure -plow unattended-upgrades`; unmask apt-daily-upgrade.timer.
    """
    assert host.package("unattended-upgrades").is_installed, _("unattended-upgrades is not installed")
    problems = checks.unattended_problems(_run(host, "apt-config dump"))
    timer = host.run("systemctl is-enabled apt-daily-upgrade.timer").stdout.strip()
    if timer not in ("enabled", "static", "enabled-runtime"):
        problems.append(_("apt-daily-upgrade.timer is {state}").format(state=timer) if timer
                        else _("apt-daily-upgrade.timer is missing"))
    assert not problems, _("; ").join(problems)


def test_security_suite_in_apt_sources(host: Any) -> None:
    """The Debian security suite is in the apt sources, so security fixes can arrive at all.

    Hint: add `<codename>-security` (URI .../debian-security) to /etc/apt/sources.list.d/debian.sources
    (the base role does) and run `apt-get update`.
    """
    codename = host.system_info.codename
    text = _run(host, "cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list "
                      "/etc/apt/sources.list.d/*.sources 2>/dev/null; true")
    suites = checks.apt_suites(text)
    assert f"{codename}-security" in suites, _("no {codename}-security suite in apt sources (suites: {suites})").format(
        codename=codename, suites=suites)


def test_no_pending_security_update(host: Any) -> None:
    """No security update is waiting to be installed (as of the host's last `apt-get update`).

    Hint: run `apt-get update && apt-get upgrade` (or let unattended-upgrades run), then verify again.
    """
    lists = host.run("ls /var/lib/apt/lists/ | grep -c -- '-security_.*Packages' ; true").stdout.strip()
    assert lists not in ("", "0"), _("the security suite's package index was never downloaded (run apt-get update)")
    pending = checks.pending_security_updates(_run(host, "apt-get -s -o Debug::NoLocking=1 upgrade"))
    assert not pending, _("{count} security update(s) pending: {packages}").format(count=len(pending),
                                                                                  packages=", ".join(pending[:10]))


def test_time_synchronised(host: Any) -> None:
    """The clock is synchronised (logs, certificates and tokens depend on it).

    Hint: `apt-get install systemd-timesyncd` (or chrony) and check `timedatectl`.
    """
    virt = host.run("systemd-detect-virt -c")
    if virt.rc == 0 and virt.stdout.strip() not in ("", "none"):
        pytest.skip(f"{NOT_APPLICABLE} " + _("inside a container ({container}), the clock is the host machine's and "
                                             "cannot be synchronised from here").format(container=virt.stdout.strip()))
    synced = host.run("timedatectl show -p NTPSynchronized --value").stdout.strip()
    assert synced == "yes", f"NTPSynchronized={synced or 'unknown'}"


def test_enough_free_disk(host: Any, anl_settings: dict[str, Any]) -> None:
    """The system disks keep enough free space (a full disk stops databases and logs).

    Hint: free space (old logs, `apt-get clean`, old backups) or grow the disk; the threshold is
    `anl_verify_disk_max_used_percent` in the commune settings.
    """
    limit = int(anl_settings.get("anl_verify_disk_max_used_percent", DEFAULT_DISK_MAX_USED))
    paths = [str(p) for p in anl_settings.get("anl_verify_disk_paths", DEFAULT_DISK_PATHS)]
    # testinfra runs a shell command: each path is one quoted word, whatever it holds.
    used = checks.df_used_percent(_run(host, f"df -P -- {shlex.join(paths)} 2>/dev/null; true"))
    assert used, _("df found none of {paths}").format(paths=paths)
    full = [_("{mount} at {percent}%").format(mount=mount, percent=pct) for mount, pct in sorted(used.items())
            if pct > limit]
    assert not full, _("above {limit}%: {disks}").format(limit=limit, disks=", ".join(full))


def test_services_not_as_root(host: Any, anl_host_context: dict[str, Any]) -> None:
    """Services that need no root rights do not have them (nginx workers, php-fpm pools, databases, apps).

    The known services, plus those the host's plugins declare (``deployment.services``: a systemd unit
    or a command-line pattern).
    Hint: set the service's `user` (nginx `user www-data;`, the php-fpm pool's `user =`, the unit's `User=`)
    back to its own account and restart it.
    """
    declared = anl_host_context.get("services", [])
    rules = [*checks.UNPRIVILEGED, *((s["name"], s["process"]) for s in declared if s.get("process"))]
    units = [(s["name"], s["unit"]) for s in declared if s.get("unit")]
    seen, as_root = checks.root_services(_run(host, checks.PS_COMMAND), rules, units)
    if not seen:
        pytest.skip(f"{NOT_APPLICABLE} " + _("none of the known or declared services runs on this host"))
    assert not as_root, _("running as root: {services}").format(services=", ".join(as_root))


def test_plugin_data_not_world_writable(host: Any, anl_host_context: dict[str, Any],
                                        anl_hostvars: dict[str, Any]) -> None:
    """No file or folder under a plugin's data folders (what its backup keeps) is writable by every account.

    Hint: find what wrote them that way (a service started with umask 0: `UMask=0022` in its unit, `umask 022`
    in its script) and fix it, then `find PATH ! -type l -perm -o+w -exec chmod o-w {} +` on the folder named.
    """
    config_dir = str(anl_hostvars.get("backup_config_dir") or BACKUP_CONFIG_DIR)
    walked: list[str] = []
    found: list[str] = []
    for plugin in anl_host_context.get("plugins", []):
        settings = host.file(f"{config_dir}/plugins/{plugin}.json")
        if not settings.exists:
            continue
        for folder in checks.data_folders(settings.content_string):
            if not folder.startswith("/"):
                found.append(_("{plugin}: data folder {folder!r} is not an absolute path").format(plugin=plugin,
                                                                                                  folder=folder))
                continue
            if not host.file(folder).exists:
                continue
            walked.append(folder)
            # Symbolic links are always 0777 and lead elsewhere: only the files themselves count.
            out = _run(host, f"find {shlex.quote(folder)} ! -type l -perm -o+w -printf '%M %p\\n'")
            found += [f"{plugin}: {entry}" for entry in checks.world_writable(out)]
    if not walked and not found:
        pytest.skip(f"{NOT_APPLICABLE} " + _("no plugin of this host has a data folder (backup paths) on it"))
    more = _(" and {count} more").format(count=len(found) - SHOWN_PATHS) if len(found) > SHOWN_PATHS else ""
    assert not found, _("world-writable under the data folders: {paths}").format(
        paths=_("; ").join(found[:SHOWN_PATHS]) + more)
