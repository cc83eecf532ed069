"""`anl-stack verify` on a real lab host with the hello test plugin deployed.

One shared host (``vfault``), deployed under a French locale the machine may
lack: the deploy spoke French, verify passes (its report in French); then, one at a
time, a fault is planted, verify exits 1 naming the check, the fault is
repaired and verify passes again. The JUnit file is parsed and the HTML
report is rendered by headless Chromium.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.lab


def _ssh(host: Any, command: str) -> str:
    done = host.ssh(command)
    assert done.returncode == 0, f"{command}: {done.stderr}"
    return str(done.stdout)


@pytest.fixture(scope="module")
def hello_host(deployed_hello_host: Any) -> Any:
    # The deploy installed the pending security updates (base role), so the
    # baseline passes as deployed.
    return deployed_hello_host


def _verify(run_verify: Any, host: Any, *args: str,
            env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    done = run_verify("--lab", host.name, "--json", *args, env=env)
    try:
        data = json.loads(done.stdout)
    except ValueError:
        pytest.fail(f"verify printed no JSON (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done, data


def _failed(data: dict[str, Any]) -> set[str]:
    return {f"{c['suite']}/{c['check']}" for c in data["checks"] if c["outcome"] in ("failed", "error")}


#: Under a French locale (a French commune's workstation), installed on this machine or not.
FRENCH = {"LANG": "fr_FR.UTF-8", "LC_ALL": "", "LC_MESSAGES": "", "LANGUAGE": "", "ANL_STACK_LANG": ""}


def test_deploy_speaks_french_under_a_french_locale(hello_host: Any) -> None:
    """The shared host's deploy ran under LANG=fr_FR.UTF-8 (tests/fixtures/verify.py): it worked, in French.

    Where the locale is missing, Ansible used to stop at start-up, and the
    deploy said "host runs an unknown system".
    """
    from tests.fixtures.verify import DEPLOY_RUNS

    done = DEPLOY_RUNS[hello_host.name]
    assert done.returncode == 0
    assert "Déploiement — " in done.stdout and " modifiés=" in done.stdout and " injoignables=0" in done.stdout
    assert "TÂCHE " in done.stdout  # the progress lines
    assert "unknown system" not in done.stdout + done.stderr and "système inconnu" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_verify_passes_after_deploy(hello_host: Any, run_verify: Any, tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    report = tmp_path / "report.md"
    # Under the French locale (see above): the checks parse remote output under C.UTF-8, the report is French.
    done, data = _verify(run_verify, hello_host, "--junit", str(junit), "--report", str(report), env=FRENCH)
    assert done.returncode == 0, f"failed checks: {_failed(data)}\n" + "\n".join(
        f"{c['check']}: {c['message']}" for c in data["checks"] if c["outcome"] in ("failed", "error"))
    outcomes = {c["check"]: c["outcome"] for c in data["checks"]}
    assert outcomes["test_time_synchronised"] == "n/a"        # a container shares the controller's clock
    assert outcomes["test_nginx_running"] == "passed"
    assert outcomes["test_https_hsts"] == "passed"
    assert outcomes["test_tls_matches_mozilla_intermediate"] == "passed"  # the role's TLS settings
    assert outcomes["test_reload_keeps_serving"] == "not run"  # live, no --live-test
    for check in ("test_sysctl_hardened", "test_login_defs_umask_and_hashing", "test_ssh_limits", "test_legal_banner",
                  "test_unused_network_protocols_blocked", "test_maintenance_tools_installed"):
        assert outcomes[check] == "passed", check  # the base role's hardening, as deployed
    assert outcomes["test_audit_running"] == "n/a"  # the audit subsystem is the host machine's
    assert outcomes["test_anl_units_sandboxed"] == "n/a"  # hello writes no unit of its own
    # JUnit parses and agrees
    suite = ET.parse(junit).getroot()
    cases = list(suite.iter("testcase"))
    assert cases and not any(c.find("failure") is not None or c.find("error") is not None for c in cases)
    text = report.read_text()
    assert "| hello | 0.1.0 | 1.0.0 | `sha256:" in text and hello_host.name in text and "trixie" in text
    assert "# Rapport de vérification — lab vfault" in text and "**Résultat :** RÉUSSI" in text
    assert f"## Vérifications sur {hello_host.name}" in text and "| test_nginx_running | hello | **RÉUSSI** |" in text
    assert "locale" not in done.stderr.lower()  # no locale warning or error from Ansible, ssh or the host


def test_live_checks_run_with_live_test(hello_host: Any, run_verify: Any) -> None:
    done, data = _verify(run_verify, hello_host, "hello", "--live-test", "--mark", "live")
    assert done.returncode == 0, _failed(data)
    ran = {c["check"]: c["outcome"] for c in data["checks"]}
    assert ran["test_reload_keeps_serving"] == "passed"
    assert ran["test_nginx_running"] == "not run"


@dataclass
class Fault:
    check: str
    plant: str
    repair: str
    #: commune setting to add to the inventory instead of (or as well as) a command
    setting: str | None = None
    #: words the failing check's message must contain
    names: tuple[str, ...] = ()
    #: further checks the same plant makes fail
    also: tuple[str, ...] = ()


SETTINGS_LINE = "anl_verify_disk_max_used_percent: 1\n"
FAULTS = {
    "stopped service": Fault("hello/test_nginx_running", "systemctl stop nginx", "systemctl start nginx"),
    "world-readable config": Fault("hello/test_token_file_not_world_readable",
                                   "chmod 0644 /etc/nginx/snippets/hello-token.conf",
                                   "chmod 0600 /etc/nginx/snippets/hello-token.conf"),
    "undeclared port": Fault("baseline/test_only_declared_ports_reachable",
                             "nft add rule inet anl_filter input tcp dport 8081 accept",
                             "systemctl reload nftables"),
    "firewall flushed": Fault("baseline/test_firewall_default_deny", "nft flush ruleset",
                              "systemctl restart nftables"),
    "ssh password login": Fault("baseline/test_ssh_password_login_off",
                                "sed -i '1i PasswordAuthentication yes # planted' /etc/ssh/sshd_config",
                                "sed -i '/# planted$/d' /etc/ssh/sshd_config"),
    "unattended upgrades off": Fault("baseline/test_unattended_security_upgrades",
                                     "echo 'APT::Periodic::Unattended-Upgrade \"0\";' > /etc/apt/apt.conf.d/99zz-planted",
                                     "rm /etc/apt/apt.conf.d/99zz-planted"),
    "nginx workers as root": Fault("baseline/test_services_not_as_root",
                                   "sed -i 's/^user www-data;/user root; # planted/' /etc/nginx/nginx.conf"
                                   " && systemctl restart nginx",
                                   "sed -i 's/^user root; # planted/user www-data;/' /etc/nginx/nginx.conf"
                                   " && systemctl restart nginx"),
    "disk above threshold": Fault("baseline/test_enough_free_disk", "true", "true", setting=SETTINGS_LINE),
    "legacy TLS accepted": Fault("baseline/test_https_tls12_or_later",
                                 "cp /etc/nginx/nginx.conf /root/nginx.conf.planted && sed -i"
                                 " -e 's/ssl_protocols TLSv1.2 TLSv1.3;/ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;/'"
                                 " -e 's/^\\(\\s*ssl_ciphers \\).*;/\\1DEFAULT:@SECLEVEL=0;/' /etc/nginx/nginx.conf"
                                 " && systemctl reload nginx",
                                 "mv /root/nginx.conf.planted /etc/nginx/nginx.conf && systemctl reload nginx"),
    "legacy TLS beyond the profile": Fault("baseline/test_tls_matches_mozilla_intermediate",
                                           "cp /etc/nginx/nginx.conf /root/nginx.conf.planted && sed -i"
                                           " -e 's/ssl_protocols TLSv1.2 TLSv1.3;/ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;/'"
                                           " -e 's/^\\(\\s*ssl_ciphers \\).*;/\\1DEFAULT:@SECLEVEL=0;/' /etc/nginx/nginx.conf"
                                           " && systemctl reload nginx",
                                           "mv /root/nginx.conf.planted /etc/nginx/nginx.conf && systemctl reload nginx",
                                           names=("outside the profile",)),
    "no HSTS header": Fault("baseline/test_https_hsts",
                            "cp /etc/nginx/snippets/anl-security-headers.conf /root/headers.planted"
                            " && sed -i '/Strict-Transport-Security/d' /etc/nginx/snippets/anl-security-headers.conf"
                            " && systemctl reload nginx",
                            "mv /root/headers.planted /etc/nginx/snippets/anl-security-headers.conf"
                            " && systemctl reload nginx"),
    # One plant for the hardening checks (one verify pair instead of five): each drift names its check.
    "hardening undone": Fault("baseline/test_sysctl_hardened",
                              "sysctl -qw net.ipv4.conf.all.accept_redirects=1"
                              " && sed -i 's/^MaxAuthTries 3$/MaxAuthTries 6 # planted/'"
                              " /etc/ssh/sshd_config.d/00-anl-hardening.conf"
                              " && sed -i 's/^UMASK.*/UMASK\t\t022 # planted/' /etc/login.defs"
                              " && mv /etc/modprobe.d/anl-unused-protocols.conf /root/modprobe.planted"
                              " && printf '# Ansible managed\\n[Service]\\nExecStart=/bin/true\\n'"
                              " > /etc/systemd/system/anl-planted.service && systemctl daemon-reload",
                              "sysctl -qw net.ipv4.conf.all.accept_redirects=0"
                              " && sed -i 's/^MaxAuthTries 6 # planted$/MaxAuthTries 3/'"
                              " /etc/ssh/sshd_config.d/00-anl-hardening.conf"
                              " && sed -i 's/^UMASK.*# planted$/UMASK\t\t027/' /etc/login.defs"
                              " && mv /root/modprobe.planted /etc/modprobe.d/anl-unused-protocols.conf"
                              " && rm /etc/systemd/system/anl-planted.service && systemctl daemon-reload",
                              names=("net.ipv4.conf.all.accept_redirects = 1",),
                              also=("baseline/test_ssh_limits", "baseline/test_login_defs_umask_and_hashing",
                                    "baseline/test_unused_network_protocols_blocked",
                                    "baseline/test_anl_units_sandboxed")),
    "no security suite": Fault("baseline/test_security_suite_in_apt_sources",
                               "mkdir -p /root/apt.planted && for f in $(grep -l -- -security /etc/apt/sources.list"
                               " /etc/apt/sources.list.d/* 2>/dev/null); do cp -a --parents $f /root/apt.planted"
                               " && rm $f; done",
                               "cp -a /root/apt.planted/etc/apt/. /etc/apt/ && rm -r /root/apt.planted"),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_planted_fault_is_named_then_repaired(name: str, hello_host: Any, run_verify: Any) -> None:
    fault = FAULTS[name]
    settings = Path(hello_host.inventory) / "group_vars" / "all" / "anl.yml"
    original = settings.read_text()
    try:
        _ssh(hello_host, fault.plant)
        if fault.setting:
            settings.write_text(original + fault.setting)
        done, data = _verify(run_verify, hello_host)
        assert done.returncode == 1
        for check in (fault.check, *fault.also):
            assert check in _failed(data), f"{name}: {check} not among the failed {_failed(data)}"
        row = next(c for c in data["checks"] if f"{c['suite']}/{c['check']}" == fault.check)
        assert row["hint"], "a failing check carries a remediation hint"
        for words in fault.names:
            assert words in row["message"], f"{name}: {words!r} not in {row['message']!r}"
    finally:
        settings.write_text(original)
        _ssh(hello_host, fault.repair)
    done, data = _verify(run_verify, hello_host)
    assert done.returncode == 0, f"after repairing {name}: still failing {_failed(data)}"


@pytest.mark.browser
def test_html_report_renders_in_chromium(hello_host: Any, run_verify: Any, tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not installed (scripts/bootstrap.sh installs it)")
    report = tmp_path / "report.html"
    done, data = _verify(run_verify, hello_host, "--report", str(report))
    assert done.returncode == 0, _failed(data)
    dom = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chromium'}", "--dump-dom", report.as_uri()],
        capture_output=True, text=True, timeout=120, check=True).stdout
    assert '<span id="verdict" class="verdict-PASSED">PASSED</span>' in dom
    assert 'data-check="test_time_synchronised" data-outcome="n/a"' in dom
    assert dom.count("data-check=") == len(data["checks"])
