"""The base role's system hardening (ANSSI BP-028 minimal and intermediate, CIS Debian), still in place.

Expected values are the base role's defaults overridden by the host's
inventory (anl_stack/verify/baseline/hardening.py). A measure a container
cannot apply (the kernel is the host machine's) is reported as not
applicable, with the reason; the same check applies on a real server.
"""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from anl_stack.core.i18n import _
from anl_stack.plugin_api import NOT_APPLICABLE
from anl_stack.verify.baseline import checks, hardening, remote

#: The header our templates write (ansible_managed): the units anl-stack's roles wrote.
MANAGED_HEADER = "Ansible managed"
UNITS_DIR = "/etc/systemd/system"


@pytest.fixture(scope="module")
def container(host: Any) -> str:
    """The container technology the host runs in, or "" on a real or virtual machine."""
    virt = host.run("systemd-detect-virt --container")
    return virt.stdout.strip() if virt.rc == 0 and virt.stdout.strip() != "none" else ""


def _needs_hardening(anl_hostvars: dict[str, Any], switch: str = "base_hardening_enabled") -> None:
    for name in ("base_hardening_enabled", switch):
        if not hardening.expected(anl_hostvars, name):
            pytest.skip(f"{NOT_APPLICABLE} " + _("turned off in the inventory ({name}: false)").format(name=name))


def _read(host: Any, path: str) -> str:
    file = host.file(path)
    assert file.exists, _("{path} is missing").format(path=path)
    return str(file.content_string)


def test_sysctl_hardened(host: Any, anl_hostvars: dict[str, Any], container: str) -> None:
    """The kernel and network settings of the hardening are live (no redirects, no source routing, rp_filter...).

    Hint: re-run the deploy, or `sysctl --system` to load /etc/sysctl.d/60-anl-hardening.conf; a later file in
    /etc/sysctl.d/ with another value wins. Keys and values: `base_sysctl_network`, `base_sysctl_kernel`.
    """
    _needs_hardening(anl_hostvars, "base_sysctl_hardening_enabled")
    wanted = {**hardening.expected(anl_hostvars, "base_sysctl_network"),
              **hardening.expected(anl_hostvars, "base_sysctl_kernel")}
    live: dict[str, str | None] = {}
    for key in wanted:
        proc = host.file("/proc/sys/" + key.replace(".", "/"))
        live[key] = proc.content_string if proc.exists else None
    problems, skipped = hardening.sysctl_drift(wanted, live, bool(container))
    assert not problems, _("live sysctl values: {problems}").format(problems=_("; ").join(problems))
    if skipped and not [k for k in wanted if k not in skipped]:
        pytest.skip(f"{NOT_APPLICABLE} " + _("inside a container ({container}): kernel settings are the host "
                                             "machine's").format(container=container))


def test_login_defs_umask_and_hashing(host: Any, anl_hostvars: dict[str, Any]) -> None:
    """New files are private to their group (UMASK 027) and passwords are hashed at a high cost (login.defs).

    Hint: re-run the deploy, or set the keys named in /etc/login.defs (`base_login_defs` in the inventory).
    """
    _needs_hardening(anl_hostvars, "base_login_defs_enabled")
    problems = hardening.login_defs_drift(hardening.expected(anl_hostvars, "base_login_defs"),
                                          _read(host, "/etc/login.defs"))
    assert not problems, "/etc/login.defs: " + _("; ").join(problems)


def test_ssh_limits(host: Any, anl_hostvars: dict[str, Any]) -> None:
    """SSH limits guesses and offers no tunnels (MaxAuthTries, no forwarding), logs key fingerprints (VERBOSE).

    Hint: re-run the deploy (the base role writes /etc/ssh/sshd_config.d/00-anl-hardening.conf); an earlier drop-in
    setting another value wins in sshd: look for it with `sshd -T` and `grep -r` in /etc/ssh/.
    """
    _needs_hardening(anl_hostvars, "base_ssh_hardening_enabled")
    settings = checks.sshd_settings(remote.output(host, "sshd -T"))
    problems = hardening.sshd_drift(anl_hostvars, settings)
    assert not problems, _("sshd effective config: {problems}").format(problems=_("; ").join(problems))


def test_legal_banner(host: Any, anl_hostvars: dict[str, Any]) -> None:
    """A legal banner is shown before login, locally and over SSH.

    Hint: set `base_legal_banner` (it names the commune by default) and re-run the deploy; sshd needs
    `Banner /etc/issue.net`.
    """
    _needs_hardening(anl_hostvars)
    if "base_legal_banner" in anl_hostvars and not str(anl_hostvars["base_legal_banner"]).strip():
        pytest.skip(f"{NOT_APPLICABLE} " + _("no banner wanted (base_legal_banner is empty in the inventory)"))
    for path in ("/etc/issue", "/etc/issue.net"):
        assert _read(host, path).strip(), _("{path} is empty").format(path=path)
    banner = checks.sshd_settings(remote.output(host, "sshd -T")).get("banner", "none")
    assert banner == "/etc/issue.net", _("sshd banner is {banner} (expected /etc/issue.net)").format(banner=banner)


def test_unused_network_protocols_blocked(host: Any, anl_hostvars: dict[str, Any]) -> None:
    """Network protocols a server does not use (dccp, sctp, rds, tipc) can never be loaded.

    Hint: re-run the deploy (it writes /etc/modprobe.d/anl-unused-protocols.conf); `modprobe --showconfig`
    must list `install NAME /bin/false` for each.
    """
    _needs_hardening(anl_hostvars)
    wanted = set(hardening.expected(anl_hostvars, "base_disabled_network_protocols"))
    if not wanted:
        pytest.skip(f"{NOT_APPLICABLE} " + _("no protocol to block (base_disabled_network_protocols is empty)"))
    if host.exists("modprobe"):
        config = host.check_output("modprobe --showconfig")
    else:  # no kmod (a minimal container): read the files kmod would read
        config = host.run("cat /etc/modprobe.d/*.conf /run/modprobe.d/*.conf /usr/lib/modprobe.d/*.conf "
                          "/lib/modprobe.d/*.conf 2>/dev/null; true").stdout
    missing = wanted - hardening.blocked_modules(config)
    assert not missing, _("can still be loaded: {protocols}").format(protocols=", ".join(sorted(missing)))


def test_maintenance_tools_installed(host: Any, anl_hostvars: dict[str, Any]) -> None:
    """needrestart (services to restart after updates), apt-listchanges and debsums (package checksums) are installed.

    Hint: `apt-get install needrestart apt-listchanges debsums` or re-run the deploy (`base_hardening_packages`).
    """
    _needs_hardening(anl_hostvars)
    wanted = list(hardening.expected(anl_hostvars, "base_hardening_packages"))
    if not wanted:
        pytest.skip(f"{NOT_APPLICABLE} " + _("no maintenance tool wanted (base_hardening_packages is empty)"))
    missing = [name for name in wanted if not host.package(name).is_installed]
    assert not missing, _("not installed: {packages}").format(packages=", ".join(missing))


def test_audit_running(host: Any, anl_hostvars: dict[str, Any], container: str) -> None:
    """auditd records security events (logins, privilege use) on the server.

    Hint: `apt-get install auditd && systemctl enable --now auditd`, or re-run the deploy (`base_auditd_enabled`).
    """
    _needs_hardening(anl_hostvars, "base_auditd_enabled")
    if container:
        pytest.skip(f"{NOT_APPLICABLE} " + _("inside a container ({container}): the kernel's audit subsystem "
                                             "(and process accounting) belongs to the host machine")
                    .format(container=container))
    service = host.service("auditd")
    assert service.is_enabled and service.is_running, _("auditd is not enabled and running")


def test_anl_units_sandboxed(host: Any) -> None:
    """The services anl-stack's roles write run sandboxed (no privilege gain, private /tmp, system read-only).

    Hint: the unit named lost its sandboxing lines (a local edit or a drop-in that resets them); re-run the
    deploy, and check `systemctl cat UNIT` and `systemd-analyze security UNIT`.
    """
    listing = host.run(f"grep -l -s -F {shlex.quote(MANAGED_HEADER)} {UNITS_DIR}/*.service")
    units = [path.rsplit("/", 1)[1] for path in listing.stdout.split()]
    if not units:
        pytest.skip(f"{NOT_APPLICABLE} " + _("no service unit written by anl-stack on this host"))
    gaps: list[str] = []
    for unit in units:
        props = ",".join(hardening.SANDBOX)
        missing = hardening.unit_sandbox_gaps(host.check_output(f"systemctl show -p {props} {shlex.quote(unit)}"))
        if missing:
            gaps.append(f"{unit} ({', '.join(missing)})")
    assert not gaps, _("not sandboxed: {units}").format(units=_("; ").join(gaps))
