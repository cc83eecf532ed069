"""Pure helpers of the baseline checks: parse what a host prints, decide.

They take text (or JSON) and return findings, so they are tested without a
host; ``test_baseline.py`` runs the commands and calls them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable

# --- SSH -----------------------------------------------------------------


def sshd_settings(text: str) -> dict[str, str]:
    """``sshd -T`` output as {keyword: value} (keywords lower-case)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key:
            out.setdefault(key.lower(), value.strip().lower())
    return out


def ssh_password_problems(settings: dict[str, str]) -> list[str]:
    problems = []
    for key in ("passwordauthentication", "kbdinteractiveauthentication", "permitemptypasswords"):
        if settings.get(key, "no") != "no":
            problems.append(f"{key} is {settings[key]}")
    return problems


# --- firewall (nft -j list ruleset) -----------------------------------------

#: Matches that only let in traffic that is not a new connection to a port.
_HARMLESS_KEYS = {("meta", "iif"), ("meta", "iifname"), ("ct", "state"), ("meta", "l4proto"),
                  ("payload", "icmp"), ("payload", "icmpv6"), ("meta", "nfproto"), ("ct", "status")}
_HARMLESS_L4 = {"icmp", "icmpv6", "ipv6-icmp", 1, 58}


@dataclass
class Firewall:
    """What the input path of an nftables ruleset lets in."""

    default_deny: bool
    base_chains: list[str]
    #: (protocol, port) accepted by a rule
    open_ports: set[tuple[str, int]]
    #: rules that accept new traffic to every port (described)
    open_all: list[str]


def _items(ruleset: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [entry[kind] for entry in ruleset.get("nftables", []) if kind in entry]


def _values(right: Any, sets: dict[tuple[str, str, str], list[Any]], family: str, table: str) -> list[int]:
    """Port numbers named by the right side of a match (number, set, range, @named set)."""
    if isinstance(right, bool):
        return []
    if isinstance(right, int):
        return [right]
    if isinstance(right, str):
        if right.startswith("@"):
            out: list[int] = []
            for element in sets.get((family, table, right[1:]), []):
                out += _values(element, sets, family, table)
            return out
        return [int(right)] if right.isdigit() else []
    if isinstance(right, dict):
        if "set" in right:
            out = []
            for element in right["set"]:
                out += _values(element, sets, family, table)
            return out
        if "range" in right:
            low, high = right["range"]
            return list(range(int(low), int(high) + 1))
        if "elem" in right:
            return _values(right["elem"].get("val"), sets, family, table)
        if "prefix" in right:
            return []
    if isinstance(right, list):
        out = []
        for element in right:
            out += _values(element, sets, family, table)
        return out
    return []


def _match_key(left: Any) -> tuple[str, str]:
    if isinstance(left, dict):
        for kind in ("payload", "meta", "ct"):
            if kind in left:
                inner = left[kind]
                return kind, str(inner.get("protocol") or inner.get("key") or "")
    return "other", ""


def _rule_text(rule: dict[str, Any]) -> str:
    parts = []
    for expr in rule.get("expr", []):
        if "match" in expr:
            m = expr["match"]
            kind, what = _match_key(m.get("left"))
            field = (m.get("left") or {}).get(kind, {}).get("field", "") if kind != "other" else ""
            parts.append(f"{what} {field} {m.get('op', '==')} {m.get('right')}".replace("  ", " ").strip())
        else:
            parts.extend(expr.keys())
    return f"{rule.get('family')} {rule.get('table')} {rule.get('chain')} handle {rule.get('handle')}: " + " ".join(parts)


Chain = tuple[str, str, str]  # (family, table, name)


def analyse_nft(ruleset: dict[str, Any]) -> Firewall:
    """Default-deny, open ports and accept-everything rules of the input hook."""
    sets = {(s["family"], s["table"], s["name"]): s.get("elem", []) for s in _items(ruleset, "set")}
    by_chain: dict[Chain, list[dict[str, Any]]] = {}
    for rule in _items(ruleset, "rule"):
        by_chain.setdefault((rule["family"], rule["table"], rule["chain"]), []).append(rule)
    deny_chains = _default_deny_chains(_items(ruleset, "chain"), by_chain)
    open_ports: set[tuple[str, int]] = set()
    open_all: list[str] = []
    for family, table, rule in _reachable_rules(deny_chains, by_chain):
        exprs = rule.get("expr", [])
        if not any("accept" in e for e in exprs):
            continue
        ports, harmless = _accepted(exprs, sets, family, table)
        if ports:
            open_ports.update(ports)
        elif not harmless:
            open_all.append(_rule_text(rule))
    return Firewall(bool(deny_chains), [f"{f} {t} {n}" for f, t, n in deny_chains], open_ports, open_all)


def _default_deny_chains(chains: list[dict[str, Any]], by_chain: dict[Chain, list[dict[str, Any]]]) -> list[Chain]:
    """Input filter base chains whose policy is drop, or whose last rule drops or rejects everything."""
    found = []
    for chain in chains:
        if chain.get("hook") != "input" or chain.get("type", "filter") != "filter" \
                or chain.get("family") not in ("inet", "ip", "ip6"):
            continue
        key = (chain["family"], chain["table"], chain["name"])
        last = by_chain.get(key, [])[-1:]
        final_drop = bool(last) and all("match" not in e for e in last[0].get("expr", [])) and any(
            ("drop" in e or "reject" in e) for e in last[0].get("expr", []))
        if chain.get("policy") == "drop" or final_drop:
            found.append(key)
    return found


def _reachable_rules(start: list[Chain], by_chain: dict[Chain, list[dict[str, Any]]]) -> list[tuple[str, str, dict[str, Any]]]:
    """(family, table, rule) of every rule in ``start`` and in the chains they jump or go to."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    seen: set[Chain] = set()
    todo = list(start)
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        seen.add(key)
        family, table, _ = key
        for rule in by_chain.get(key, []):
            for e in rule.get("expr", []):
                for verb in ("jump", "goto"):
                    if verb in e:
                        todo.append((family, table, e[verb]["target"]))
            out.append((family, table, rule))
    return out


def _accepted(exprs: list[dict[str, Any]], sets: dict[Chain, list[Any]], family: str,
              table: str) -> tuple[list[tuple[str, int]], bool]:
    """Ports an accepting rule opens, and whether it is harmless without ports (loopback, established...)."""
    ports: list[tuple[str, int]] = []
    harmless = False
    l4 = None
    for e in exprs:
        m = e.get("match")
        if not m:
            continue
        left = m.get("left") or {}
        kind, what = _match_key(left)
        if kind == "payload" and left["payload"].get("field") == "dport":
            proto = what if what in ("tcp", "udp") else (l4 or "tcp+udp")
            for port in _values(m.get("right"), sets, family, table):
                for p in (("tcp", "udp") if proto == "tcp+udp" else (proto,)):
                    ports.append((p, port))
        elif kind == "meta" and what == "l4proto":
            right = m.get("right")
            l4 = right if isinstance(right, str) else None
            named = right.get("set", []) if isinstance(right, dict) else [right]
            if named and all(isinstance(v, (str, int)) and v in _HARMLESS_L4 for v in named):
                harmless = True
        elif (kind, what) in _HARMLESS_KEYS:
            harmless = True
    return ports, harmless


# --- listening sockets (ss -Hlntu) ---------------------------------------------


@dataclass(frozen=True)
class Listener:
    protocol: str
    address: str
    port: int

    @property
    def loopback(self) -> bool:
        return self.address.startswith("127.") or self.address in ("::1", "localhost")


def listeners(text: str) -> list[Listener]:
    """Parse ``ss -Hlntu``: one Listener per socket."""
    out = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 5 or fields[0] not in ("tcp", "udp"):
            continue
        local = fields[4]
        address, _, port = local.rpartition(":")
        address = address.strip("[]").split("%")[0]
        if port.isdigit():
            out.append(Listener(fields[0], address, int(port)))
    return out


# --- HSTS -------------------------------------------------------------------


def hsts_max_age(header: str | None) -> int | None:
    if not header:
        return None
    match = re.search(r"max-age\s*=\s*\"?(\d+)", header, re.I)
    return int(match.group(1)) if match else None


# --- apt ----------------------------------------------------------------------


def apt_suites(text: str) -> list[str]:
    """Enabled ``deb`` suites from one-line and deb822 sources text."""
    suites: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("deb "):
            fields = re.sub(r"\[[^]]*\]", "", line).split()
            if len(fields) >= 3:
                suites.append(fields[2])
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.lstrip().startswith("#") or ":" not in line:
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "suites" in fields and "deb" in fields.get("types", "").split() \
                and fields.get("enabled", "yes").lower() != "no":
            suites += fields["suites"].split()
    return suites


def pending_security_updates(simulate: str) -> list[str]:
    """Packages that ``apt-get -s upgrade`` would take from a security suite."""
    out = []
    for line in simulate.splitlines():
        if line.startswith("Inst ") and re.search(r"-security|Debian-Security", line):
            out.append(line.split()[1])
    return out


def unattended_problems(apt_config: str) -> list[str]:
    """What ``apt-config dump`` shows missing for unattended security upgrades."""
    problems = []
    if not re.search(r'^APT::Periodic::Unattended-Upgrade "(?!0")\d+";', apt_config, re.M):
        problems.append('APT::Periodic::Unattended-Upgrade is not enabled')
    origins = re.findall(r'^Unattended-Upgrade::(?:Origins-Pattern|Allowed-Origins)::? "([^"]*)";',
                         apt_config, re.M)
    if not any("security" in o.lower() for o in origins):
        problems.append("no security origin in Unattended-Upgrade::Origins-Pattern")
    return problems


# --- disk and processes ------------------------------------------------------------


def df_used_percent(text: str) -> dict[str, int]:
    """``df -P`` output as {mount point: used percent}."""
    out = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 6 and fields[4].endswith("%"):
            out[fields[5]] = int(fields[4].rstrip("%"))
    return out


#: Processes that must not run as root: (label, regex on the command line).
UNPRIVILEGED = [
    ("nginx worker", r"^nginx: (worker|cache)"),
    ("php-fpm pool", r"^php-fpm: pool "),
    ("postgres", r"^(/usr/lib/postgresql/\S+/bin/)?postgres( |:|$)"),
    ("redis", r"^(/usr/bin/)?redis-server"),
    ("mariadb", r"^(/usr/sbin/)?(mariadbd|mysqld)"),
    ("peertube", r"peertube/dist/server"),
    ("mastodon", r"^(puma|sidekiq)"),
]


#: What ``root_services`` reads: user, systemd unit ("-" for none) and command line of every process;
#: ``-ww``: without a terminal (testinfra, SSH) ps would cut each line at 80 columns, inside the unit column.
PS_COMMAND = "ps -ww -eo user:32,unit:100,args --no-headers"


def root_services(ps: str, rules: Iterable[tuple[str, str]] = UNPRIVILEGED,
                  units: Iterable[tuple[str, str]] = ()) -> tuple[list[str], list[str]]:
    """From :data:`PS_COMMAND`: (services seen, services running as root).

    ``rules`` are (label, regex on the command line); ``units`` (label, systemd unit): the services
    plugins declare (``deployment.services``) come as either.
    """
    rules, units = list(rules), list(units)
    seen: list[str] = []
    as_root: list[str] = []
    for line in ps.splitlines():
        fields = line.split(None, 2)
        if len(fields) < 3:
            continue
        user, unit, args = fields
        labels = [label for label, pattern in rules if re.search(pattern, args)]
        labels += [label for label, name in units if unit == name]
        for label in labels:
            if label not in seen:
                seen.append(label)
            if user in ("root", "0") and label not in as_root:
                as_root.append(label)
    return seen, as_root


# --- plugin data folders ------------------------------------------------------------


def data_folders(backup_settings: str) -> list[str]:
    """The folders a plugin's backup keeps (``paths``), from its settings file on the host."""
    try:
        data = json.loads(backup_settings)
    except ValueError:
        return []
    paths = data.get("paths", []) if isinstance(data, dict) else []
    return [p for p in paths if isinstance(p, str) and p]


def world_writable(find_output: str) -> list[str]:
    """``find ... -printf '%M %p\\n'`` lines as "PATH (MODE)"."""
    out = []
    for line in find_output.splitlines():
        mode, _, path = line.partition(" ")
        if path:
            out.append(f"{path} ({mode})")
    return out
