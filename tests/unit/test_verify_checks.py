"""The baseline's parsers and decisions, on real command output shapes."""

from __future__ import annotations

import json

from anl_stack.verify.baseline import checks


def _ruleset(policy: str = "drop", extra_rules: list[dict] | None = None) -> dict:
    rules = [
        {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 2,
                  "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}},
                                      "right": ["established", "related"]}}, {"accept": None}]}},
        {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 3,
                  "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lo"}},
                           {"accept": None}]}},
        {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 4,
                  "expr": [{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}},
                                      "right": {"set": ["icmp", "ipv6-icmp"]}}}, {"accept": None}]}},
        {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 5,
                  "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                                      "right": {"set": [22, 443]}}}, {"accept": None}]}},
    ] + [{"rule": r} for r in (extra_rules or [])]
    return {"nftables": [
        {"metainfo": {"version": "1.1.3"}},
        {"table": {"family": "inet", "name": "filter", "handle": 1}},
        {"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 1, "type": "filter",
                   "hook": "input", "prio": 0, "policy": policy}},
        *rules,
    ]}


def test_firewall_default_deny_and_declared_ports() -> None:
    fw = checks.analyse_nft(_ruleset())
    assert fw.default_deny
    assert fw.open_ports == {("tcp", 22), ("tcp", 443)}
    assert fw.open_all == []


def test_firewall_accept_policy_is_not_default_deny() -> None:
    assert not checks.analyse_nft(_ruleset(policy="accept")).default_deny
    assert not checks.analyse_nft({"nftables": []}).default_deny


def test_firewall_finds_an_added_port_and_an_accept_all_rule() -> None:
    added = {"family": "inet", "table": "filter", "chain": "input", "handle": 9,
             "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                                 "right": 8081}}, {"accept": None}]}
    from_anywhere = {"family": "inet", "table": "filter", "chain": "input", "handle": 10,
                     "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                                         "right": "10.0.0.9"}}, {"accept": None}]}
    fw = checks.analyse_nft(_ruleset(extra_rules=[added, from_anywhere]))
    assert ("tcp", 8081) in fw.open_ports
    assert len(fw.open_all) == 1 and "handle 10" in fw.open_all[0]


def test_firewall_named_sets_ranges_and_jumps() -> None:
    ruleset = _ruleset()
    ruleset["nftables"] += [
        {"set": {"family": "inet", "table": "filter", "name": "udp_ok", "type": "inet_service",
                 "elem": [53, {"range": [60000, 60002]}]}},
        {"chain": {"family": "inet", "table": "filter", "name": "more", "handle": 7}},
        {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 11,
                  "expr": [{"jump": {"target": "more"}}]}},
        {"rule": {"family": "inet", "table": "filter", "chain": "more", "handle": 12,
                  "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}},
                                      "right": "@udp_ok"}}, {"accept": None}]}},
    ]
    fw = checks.analyse_nft(json.loads(json.dumps(ruleset)))
    assert {("udp", 53), ("udp", 60000), ("udp", 60001), ("udp", 60002)} <= fw.open_ports


def test_sshd_password_settings() -> None:
    text = "port 22\npasswordauthentication yes\nkbdinteractiveauthentication no\npermitemptypasswords no\n"
    assert checks.ssh_password_problems(checks.sshd_settings(text)) == ["passwordauthentication is yes"]
    good = text.replace("passwordauthentication yes", "passwordauthentication no")
    assert checks.ssh_password_problems(checks.sshd_settings(good)) == []


def test_listeners_parse_ss_output() -> None:
    text = ("tcp   LISTEN 0 511 0.0.0.0:443 0.0.0.0:*\n"
            "tcp   LISTEN 0 128 [::]:22 [::]:*\n"
            "tcp   LISTEN 0 244 127.0.0.1:5432 0.0.0.0:*\n"
            "udp   UNCONN 0 0 127.0.0.53%lo:53 0.0.0.0:*\n"
            "tcp   LISTEN 0 511 [::1]:6379 [::]:*\n")
    found = checks.listeners(text)
    assert [(s.protocol, s.port, s.loopback) for s in found] == [
        ("tcp", 443, False), ("tcp", 22, False), ("tcp", 5432, True), ("udp", 53, True), ("tcp", 6379, True)]


def test_apt_suites_one_line_and_deb822() -> None:
    text = ("deb http://mirror/debian trixie main\n"
            "# deb http://mirror/debian-security trixie-security main\n\n"
            "Types: deb\nURIs: http://mirror/debian-security\nSuites: trixie-security\nComponents: main\n\n"
            "Types: deb\nURIs: http://x\nSuites: other-security\nEnabled: no\n")
    suites = checks.apt_suites(text)
    assert "trixie" in suites and "trixie-security" in suites and "other-security" not in suites
    assert "trixie-security" not in checks.apt_suites("# deb http://mirror/debian-security trixie-security main\n")


def test_pending_security_updates_from_simulation() -> None:
    out = ("Inst libssl3t64 [3.5.1-1] (3.5.1-1+deb13u1 Debian-Security:13/stable-security [amd64])\n"
           "Inst base-files [13.8] (13.9 Debian:13.9/stable [amd64])\n"
           "Conf libssl3t64 (3.5.1-1+deb13u1 Debian-Security:13/stable-security [amd64])\n")
    assert checks.pending_security_updates(out) == ["libssl3t64"]


def test_unattended_upgrades_config() -> None:
    on = ('APT::Periodic::Unattended-Upgrade "1";\n'
          'Unattended-Upgrade::Origins-Pattern:: "origin=Debian,codename=trixie-security,label=Debian-Security";\n')
    assert checks.unattended_problems(on) == []
    off = on.replace('Unattended-Upgrade "1"', 'Unattended-Upgrade "0"')
    assert checks.unattended_problems(off) == ["APT::Periodic::Unattended-Upgrade is not enabled"]


def test_df_and_root_services() -> None:
    df = "Filesystem 1024-blocks Used Available Capacity Mounted on\noverlay 100 93 7 93% /\n"
    assert checks.df_used_percent(df) == {"/": 93}
    ps = ("root     nginx.service           nginx: master process /usr/sbin/nginx\n"
          "www-data nginx.service           nginx: worker process\n"
          "root     php8.4-fpm.service      php-fpm: pool www\n"
          "postgres postgresql@17-main.service /usr/lib/postgresql/17/bin/postgres -D /var/lib/postgresql/17/main\n"
          "root     prosody.service         lua5.4 /usr/bin/prosody -F\n"
          "turn     -                       /usr/bin/turnserver -c /etc/turnserver.conf\n")
    seen, as_root = checks.root_services(ps)
    assert seen == ["nginx worker", "php-fpm pool", "postgres"]
    assert as_root == ["php-fpm pool"]


def test_root_services_covers_what_plugins_declare() -> None:
    """A plugin's declared unit or command line is checked like the known services."""
    ps = ("root     prosody.service         lua5.4 /usr/bin/prosody -F\n"
          "turn     -                       /usr/bin/turnserver -c /etc/turnserver.conf\n"
          "root     -                       /usr/bin/turnserver-helper\n")
    rules = [*checks.UNPRIVILEGED, ("coturn", r"^/usr/bin/turnserver( |$)")]
    seen, as_root = checks.root_services(ps, rules, [("prosody", "prosody.service")])
    assert (seen, as_root) == (["prosody", "coturn"], ["prosody"])
    assert checks.root_services(ps) == ([], [])


def test_hsts_max_age() -> None:
    assert checks.hsts_max_age("max-age=63072000; includeSubDomains") == 63072000
    assert checks.hsts_max_age(None) is None
    assert checks.hsts_max_age("includeSubDomains") is None
