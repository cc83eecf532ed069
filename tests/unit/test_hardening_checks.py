"""The hardening checks' reading of a host's settings (anl_stack/verify/baseline/hardening.py)."""

from __future__ import annotations

from anl_stack.verify.baseline import checks, hardening


def test_expected_values_are_the_role_defaults_unless_the_inventory_sets_them() -> None:
    assert hardening.expected({}, "base_ssh_max_auth_tries") == 3
    assert hardening.expected({"base_ssh_max_auth_tries": 5}, "base_ssh_max_auth_tries") == 5
    assert hardening.expected({}, "base_login_defs")["UMASK"] == "027"


def test_sysctl_drift_names_each_key_and_leaves_the_host_kernel_to_containers() -> None:
    wanted = {"net.ipv4.tcp_syncookies": 1, "kernel.kptr_restrict": 2, "net.ipv6.conf.all.accept_ra": 0}
    live = {"net.ipv4.tcp_syncookies": "0\n", "kernel.kptr_restrict": "0\n", "net.ipv6.conf.all.accept_ra": None}
    problems, skipped = hardening.sysctl_drift(wanted, live, in_container=True)
    assert problems == ["net.ipv4.tcp_syncookies = 0 (expected 1)"] and skipped == ["kernel.kptr_restrict"]
    problems, skipped = hardening.sysctl_drift(wanted, live, in_container=False)
    assert problems == ["kernel.kptr_restrict = 0 (expected 2)", "net.ipv4.tcp_syncookies = 0 (expected 1)"]
    assert skipped == []
    # A key this kernel lacks is not a drift; a value with tabs (ip_local_port_range) compares by words.
    assert hardening.sysctl_drift({"net.ipv4.ip_local_port_range": "1024 65000"},
                                  {"net.ipv4.ip_local_port_range": "1024\t65000\n"}, False) == ([], [])


def test_login_defs_drift_reads_the_last_setting_and_ignores_comments() -> None:
    text = "# UMASK 077\nUMASK\t\t022\nUMASK 027\nSHA_CRYPT_MIN_ROUNDS 5000\n"
    assert hardening.login_defs_drift({"UMASK": "027", "SHA_CRYPT_MIN_ROUNDS": 65536,
                                       "YESCRYPT_COST_FACTOR": 8}, text) == [
        "SHA_CRYPT_MIN_ROUNDS is 5000 (expected 65536)", "YESCRYPT_COST_FACTOR is not set (expected 8)"]


SSHD_T = """maxauthtries 3
allowtcpforwarding no
allowagentforwarding no
permittunnel no
loglevel VERBOSE
clientaliveinterval 300
clientalivecountmax 2
"""


def test_sshd_drift_against_the_role_and_the_inventory() -> None:
    settings = checks.sshd_settings(SSHD_T)
    assert hardening.sshd_drift({}, settings) == []
    loose = checks.sshd_settings(SSHD_T.replace("maxauthtries 3", "maxauthtries 6")
                                 .replace("allowtcpforwarding no", "allowtcpforwarding yes"))
    assert hardening.sshd_drift({}, loose) == ["allowtcpforwarding yes (expected no)",
                                               "maxauthtries 6 (expected at most 3)"]
    # Forwarding allowed on purpose in the inventory is not a drift; fewer tries than the limit is fine.
    assert hardening.sshd_drift({"base_ssh_allow_tcp_forwarding": True, "base_ssh_max_auth_tries": 6}, loose) == []


def test_blocked_modules_from_modprobe_config() -> None:
    config = "install dccp /bin/false\nblacklist sctp\ninstall rds /bin/true\ninstall tipc /sbin/modprobe --ignore\n"
    assert hardening.blocked_modules(config) == {"dccp", "rds"}  # a blacklist alone still loads on request


def test_unit_sandbox_gaps() -> None:
    show = ("NoNewPrivileges=yes\nPrivateTmp=yes\nProtectSystem=full\nProtectKernelTunables=yes\n"
            "ProtectKernelModules=yes\nProtectControlGroups=yes\n")
    assert hardening.unit_sandbox_gaps(show) == []
    assert hardening.unit_sandbox_gaps(show.replace("PrivateTmp=yes", "PrivateTmp=no")
                                       .replace("ProtectSystem=full", "ProtectSystem=no")) == [
        "PrivateTmp=no", "ProtectSystem=no"]
