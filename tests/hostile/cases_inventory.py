"""Inventories: duplicate keys, YAML that is not data, commune names that leave their folder, --limit, size."""

from __future__ import annotations

from tests.hostile.model import HOSTS, SETTINGS, Case, Where, inventory

CHECK = ["inventory", "check", "-i", "{inv}"]
PLAN = ["plan", "hello", "-i", "{inv}"]
HOSTS_FILE = "{inv}/hosts.yml"
ANL_FILE = "{inv}/group_vars/all/anl.yml"

# --- keys given twice: Ansible keeps the last without a word ------------------------------

DUP_HOSTS = {
    "top-level": ("all:\n  hosts: {}\n" + HOSTS, "all", 10),
    "hosts-section": (HOSTS.replace("  children:", "  hosts:\n    srv2: {}\n  children:"), "all.hosts", None),
    "children-section": (HOSTS + "  children:\n    hello: {}\n", "all.children", None),
    "group": (HOSTS + "    hello:\n      hosts: {}\n", "all.children.hello", None),
    "host": (HOSTS.replace("  children:", "    srv1:\n      ansible_host: 127.0.0.2\n  children:"),
             "all.hosts.srv1", None),
    "host-variable": (HOSTS.replace("      ansible_port: 9\n", "      ansible_port: 9\n      ansible_host: 10.0.0.1\n"),
                      "all.hosts.srv1.ansible_host", None),
    "flow-mapping": (HOSTS.replace("        srv1: {}", "        srv1: {ansible_user: a, ansible_user: root}"),
                     "all.children.hello.hosts.srv1.ansible_user", None),
    "group-vars": (HOSTS.replace("all:\n", "all:\n  vars:\n    hello_message: one\n    hello_message: two\n", 1),
                   "all.vars.hello_message", None),
}
DUP_FILES = {
    "settings": ("group_vars/all/anl.yml", SETTINGS + "anl_domain: autre.fr\n", "anl_domain", PLAN),
    "settings-nested": ("group_vars/all/anl.yml",
                        SETTINGS + "anl_artifact_pins:\n  x: sha256:aa\n  x: sha256:bb\n", "anl_artifact_pins.x",
                        ["artifacts", "fetch", "hello", "-i", "{inv}"]),
    "group-vars-file": ("group_vars/hello.yml", "hello_message: a\nhello_message: b\n", "hello_message",
                        ["deploy", "hello", "-i", "{inv}"]),
    "host-vars-file": ("host_vars/srv1.yml", "ansible_port: 22\nansible_port: 2222\n", "ansible_port",
                       ["verify", "hello", "-i", "{inv}"]),
    "vars-folder-file": ("group_vars/all/more/extra.yml", "anl_lab: false\nanl_lab: true\n", "anl_lab", CHECK),
    "json-vars-file": ("host_vars/srv1.json", '{"ansible_user": "a", "ansible_user": "root"}\n', "ansible_user",
                       CHECK),
    "private-settings": (".anl-stack/settings.yml",
                         "vault_password_file: /nowhere\nvault_password_file: {outside}/vault-passwords/stolen.txt\n",
                         "vault_password_file", ["secrets", "list", "-i", "{inv}"]),
}


def _dup_hosts(name: str, text: str, key: str) -> Case:
    return Case(f"inventory-duplicate-{name}", "Duplicate keys in inventories", lambda w: inventory(w, hosts=text),
                CHECK, HOSTS_FILE, key, text="key given twice", line=True)


def _dup_file(name: str, rel: str, text: str, key: str, argv: list[str]) -> Case:
    def build(w: Where) -> None:
        content = w.fill(text)
        inventory(w, **({"settings": content} if rel.endswith("all/anl.yml") else {"files": {rel: content}}))

    return Case(f"inventory-duplicate-{name}", "Duplicate keys in inventories", build, argv, "{inv}/" + rel, key,
                text="key given twice", line=True)


# --- YAML that is not plain data -------------------------------------------------------------

ODD = {
    # name: (file, content, key, text)
    "python-object-tag": ("group_vars/all/anl.yml",
                          SETTINGS + 'x: !!python/object/apply:os.system ["touch {outside}/pwned"]\n', None,
                          "not valid YAML"),
    "python-name-tag": ("hosts.yml", HOSTS.replace("ansible_port: 9", "ansible_port: !!python/name:os.system"),
                        None, "not valid YAML"),
    "two-documents": ("hosts.yml", HOSTS + "---\n" + HOSTS, None, "not valid YAML"),
    "undefined-alias": ("hosts.yml", HOSTS.replace("ansible_port: 9", "ansible_port: *nowhere"), None,
                        "not valid YAML"),
    "latin-1-bytes": ("group_vars/all/anl.yml", SETTINGS.encode() + "hello_message: \"Mairie d'\xe9t\xe9\"\n".encode("latin-1"),
                      None, "cannot read"),
    "nul-byte": ("hosts.yml", HOSTS.replace("127.0.0.1", "127.0.0.1\0"), None, "not valid YAML"),
    "long-simple-key": ("group_vars/all/anl.yml", SETTINGS + "k" * 2000 + ": v\n", None, "not valid YAML"),
    "merge-of-a-list": ("group_vars/all/anl.yml", SETTINGS + "x:\n  <<: [1, 2]\n", None, "not valid YAML"),
    "deep-json-vars": ("host_vars/srv1.json", '{"a": ' + "[" * 80 + "1" + "]" * 80 + "}\n", "a...", "levels deep"),
    "oversized-settings": ("group_vars/all/anl.yml", SETTINGS + ("x_" + "y" * 60 + ": 1\n") * 560_000, "size",
                           "bytes"),
}


def _odd(name: str, rel: str, content: str | bytes, key: str | None, text: str) -> Case:
    def build(w: Where) -> None:
        data = w.fill(content) if isinstance(content, str) else content
        if rel == "hosts.yml":
            inventory(w, hosts=data)
        elif rel == "group_vars/all/anl.yml":
            inventory(w, settings=data)
        else:
            inventory(w, files={rel: data})

    located = name not in ("oversized-settings", "latin-1-bytes", "nul-byte")
    return Case(f"inventory-odd-{name}", "YAML that is not plain data", build, CHECK, "{inv}/" + rel, key,
                text=text, line=located)


# --- commune names that name a file of the controller -----------------------------------------

COMMUNES = {
    "parent-folders": '"../../outside/vault-passwords/stolen"',
    "absolute": '"/etc/anl-stack/stolen"',
    "dot-dot": '".."',
    "slash": '"a/b"',
    "too-long": '"' + "a" * 300 + '"',
    "upper-case": '"Exemple"',
    "newline": '"exemple\\n"',
    "list": "[exemple]",
    "hidden": '".exemple"',
    "number": "12",
}


def _commune(name: str, value: str, argv: list[str]) -> Case:
    def build(w: Where) -> None:
        inventory(w, settings=SETTINGS.replace("anl_commune: exemple", f"anl_commune: {value}"),
                  files={"group_vars/all/vault.yml": "$ANSIBLE_VAULT;1.1;AES256\n3130\n"})

    command = argv[0]
    return Case(f"commune-{name}-{command}", "Commune names that would leave the config folder", build, argv,
                ANL_FILE, "anl_commune", text="is not a commune name", line=True)


# --- --limit that matches nothing --------------------------------------------------------------

LIMITS = {
    "unknown-host": ("srv2", PLAN),
    "one-of-two-unknown": ("srv1,srv2", PLAN),
    "colon-separated": ("srv1:nohost", ["deploy", "hello", "-i", "{inv}"]),
    "bad-regex": ("~[", PLAN),
    "limit-file": ("@{outside}/shadow", PLAN),
    "exclusion": ("!nohost", ["deploy", "hello", "-i", "{inv}"]),
    "intersection": ("&nogroup", PLAN),
    "wildcard": ("web*", PLAN),
    "group-typo": ("srv1,helo", ["remove", "hello", "-i", "{inv}"]),
    "verify-unknown-host": ("srv2", ["verify", "hello", "-i", "{inv}"]),
}


def _limit(name: str, value: str, argv: list[str]) -> Case:
    return Case(f"limit-{name}", "--limit matching no host", lambda w: inventory(w), [*argv, "--limit", value],
                HOSTS_FILE, "--limit")


# --- large inventories: refused within the limits -------------------------------------------

def _many_hosts(count: int) -> str:
    lines = ["all:", "  hosts:"]
    lines += [f"    h{i}:\n      ansible_host: 10.{i >> 16}.{(i >> 8) & 255}.{i & 255}" for i in range(count)]
    lines += ["  children:", "    hello:", "      hosts:"] + [f"        h{i}: {{}}" for i in range(count)]
    lines += ["    helo:", "      hosts:", "        h0: {}"]
    return "\n".join(lines) + "\n"


def _many_groups(count: int) -> str:
    lines = ["all:", "  hosts:", "    srv1: {ansible_host: 127.0.0.1}", "  children:"]
    lines += [f"    g{i}:\n      hosts:\n        srv1: {{}}" for i in range(count)]
    return "\n".join(lines) + "\n"


def _nested_groups(depth: int) -> str:
    lines = ["all:", "  hosts:", "    srv1: {ansible_host: 127.0.0.1}", "  children:"]
    for level in range(depth):
        lines += [" " * (4 + 4 * level) + f"n{level}:", " " * (6 + 4 * level) + "children:"]
    lines.append(" " * (4 + 4 * depth) + "hello: {hosts: {srv1: {}}, bogus: 1}")
    return "\n".join(lines) + "\n"


NESTED_KEY = "all" + "".join(f".children.n{i}" for i in range(14)) + ".children.hello.bogus"

CASES: list[Case] = [
    *[_dup_hosts(n, t, k) for n, (t, k, _) in DUP_HOSTS.items()],
    *[_dup_file(n, rel, t, k, argv) for n, (rel, t, k, argv) in DUP_FILES.items()],
    *[_odd(n, *spec) for n, spec in ODD.items()],
    *[_commune(n, v, PLAN) for n, v in COMMUNES.items()],
    *[_commune(n, v, ["secrets", "list", "-i", "{inv}"]) for n, v in list(COMMUNES.items())[:5]],
    *[_limit(n, v, argv) for n, (v, argv) in LIMITS.items()],
    Case("inventory-30000-hosts-one-typo", "Large inventories", lambda w: inventory(w, hosts=_many_hosts(30_000)),
         CHECK, HOSTS_FILE, "all.children.helo", text="names no known plugin", line=True),
    Case("inventory-5000-unknown-groups", "Large inventories", lambda w: inventory(w, hosts=_many_groups(5_000)),
         CHECK, HOSTS_FILE, "all.children.g4999", text="names no known plugin", line=True),
    Case("inventory-groups-nested-14-deep", "Large inventories", lambda w: inventory(w, hosts=_nested_groups(14)),
         CHECK, HOSTS_FILE, NESTED_KEY, text="unknown key", line=True),
]
