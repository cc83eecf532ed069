"""Plugins from someone else: links out of the folder or in a loop, reserved names, keys and specs outside."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.hostile.model import HOSTS, Case, Where, inventory, link, plugin, write

HOSTILE = "{plugins}/hostile"
MANIFEST = HOSTILE + "/plugin.yml"
HOSTILE_HOSTS = HOSTS.replace("    hello:\n", "    hostile:\n")

SHOW = ["plugins", "show", "hostile"]
CHECK = ["plugins", "check", HOSTILE, "--no-lint"]
PLAN = ["plan", "hostile", "-i", "{inv}"]
INVENTORY_CHECK = ["inventory", "check", "-i", "{inv}"]
VERIFY = ["verify", "hostile", "-i", "{inv}"]
REVIEW = ["plugins", "review", HOSTILE, "--by", "Commune d'Exemple", "--reviewer", "DSI"]

# name: (link inside the plugin, its target (placeholders), commands to run it with)
LINKS: dict[str, tuple[str, str, list[list[str]]]] = {
    "manifest-to-shadow": ("plugin.yml", "{outside}/shadow", [SHOW, CHECK, PLAN, INVENTORY_CHECK]),
    "task-file-to-shadow": ("roles/hostile/tasks/main.yml", "{outside}/shadow", [CHECK, PLAN]),
    "fiche-to-shadow": ("docs/fr.md", "{outside}/shadow", [SHOW]),
    "verify-test-to-shadow": ("verify/test_hello.py", "{outside}/shadow", [VERIFY]),
    "templates-folder-outside": ("roles/hostile/templates", "{outside}/folder", [CHECK]),
    "review-record-to-shadow": ("reviews/2026-01-01-x.yml", "{outside}/shadow", [SHOW]),
    "self-loop": ("files/loop", "loop", [SHOW]),
    "two-link-loop": ("files/a", "b", [PLAN]),
    "folder-to-plugin-root": ("roles/up", "../..", [CHECK, REVIEW]),
    "folder-to-case-folder": ("files/top", "../../..", [SHOW]),
    "folder-to-filesystem-root": ("files/root", "/", [CHECK]),
    "dangling": ("files/gone", "nowhere", [SHOW]),
    "deep-nested-to-shadow": ("files/a/b/c/d/e/f", "{outside}/shadow", [SHOW]),
    "absolute-into-outside": ("files/abs", "{outside}/folder/inside.txt", [PLAN]),
    "signing-key-to-outside": ("keys/signing.asc", "{outside}/key.asc", [["artifacts", "fetch", "hostile"]]),
}


def _link_case(name: str, rel: str, target: str, argv: list[str]) -> Case:
    def build(w: Where) -> None:
        folder = plugin(w)
        if name == "two-link-loop":
            link(folder / "files" / "b", "a")
        link(folder / rel, w.fill(target))
        inventory(w, hosts=HOSTILE_HOSTS)

    command = "-".join(a for a in argv[:2] if not a.startswith("{"))
    absent = (HOSTILE + "/reviews/*commune*",) if argv is REVIEW else ()
    return Case(f"plugin-link-{name}-{command}", "Links in plugin folders (outside, loops)", build, argv,
                f"{HOSTILE}/{rel}", rel, text="symbolic link", absent=absent)


# --- names Ansible or anl-stack already use ----------------------------------------------------

RESERVED = ("all", "ungrouped", "localhost", "ansible", "anl", "hostvars", "groups", "group_names", "omit",
            "environment", "playbook_dir", "web", "backup", "postgresql")


def _reserved(name: str, argv: list[str]) -> Case:
    def build(w: Where) -> None:
        plugin(w, name)
        inventory(w, hosts=HOSTS.replace("    hello:\n", f"    {name}:\n"))

    return Case(f"plugin-reserved-name-{name}-{argv[0]}", "Reserved plugin names", build, [w.replace("NAME", name)
                for w in argv], f"{{plugins}}/{name}/plugin.yml", "name", text="reserved" if name not in (
                    "web", "backup", "postgresql") else "shared role", line=True)


# --- manifests and role specs that reach out -------------------------------------------------------

def _with_artifact(signature: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["deployment"]["artifacts"] = [{"name": "hostile-app", "version": "1.0.0",
                                            "url": "http://127.0.0.1:9/app.tar.gz", "signature": signature}]
    return change


FINGERPRINT = "0123456789ABCDEF0123456789ABCDEF01234567"
KEY_FILES = {
    "parent-folders": "../../../outside/key.asc",
    "absolute": "/etc/ssl/private/key.asc",
    "dot-dot-inside": "keys/../../hostile-other/key.asc",
}


def _key_file(name: str, value: str, argv: list[str]) -> Case:
    def build(w: Where) -> None:
        plugin(w, changes=_with_artifact({"url": "http://127.0.0.1:9/app.tar.gz.asc", "key_file": value,
                                          "fingerprint": FINGERPRINT}))

    return Case(f"plugin-key-file-{name}-{argv[0]}", "Plugin files outside the plugin (key_file)", build, argv,
                MANIFEST, "deployment.artifacts[0].signature.key_file", text="leaves the plugin folder", line=True)


SPECS = {
    "top-level-list": ("- argument_specs\n", "argument_specs"),
    "options-list": ("argument_specs:\n  main:\n    options: [hostile_message]\n", "argument_specs.main.options"),
    "option-text": ("argument_specs:\n  main:\n    options:\n      hostile_message: text\n",
                    "argument_specs.main.options.hostile_message"),
}


def _spec(name: str, text: str, key: str) -> Case:
    spec = HOSTILE + "/roles/hostile/meta/argument_specs.yml"

    def build(w: Where) -> None:
        write(plugin(w) / "roles" / "hostile" / "meta" / "argument_specs.yml", text)
        inventory(w, hosts=HOSTILE_HOSTS)

    return Case(f"plugin-role-spec-{name}", "Plugin role specs of the wrong shape", build, INVENTORY_CHECK, spec, key,
                text="not a mapping", line=True)


def _oversized_manifest(w: Where) -> None:
    folder = plugin(w)
    write(folder / "plugin.yml", (folder / "plugin.yml").read_text() + "# padding\n" * 3_500_000)


CASES: list[Case] = [
    *[_link_case(name, rel, target, argv) for name, (rel, target, commands) in LINKS.items() for argv in commands],
    *[_reserved(name, ["plugins", "show", "NAME"]) for name in RESERVED],
    *[_reserved(name, ["plan", "NAME", "-i", "{inv}"]) for name in RESERVED[:3]],
    Case("plugin-new-reserved-name", "Reserved plugin names", lambda w: None,
         ["plugins", "new", "all", "--dir", "{case}"], None, "name", text="reserved", absent=("{case}/all",)),
    *[_key_file(name, value, SHOW) for name, value in KEY_FILES.items()],
    _key_file("parent-folders-fetch", KEY_FILES["parent-folders"], ["artifacts", "fetch", "hostile"]),
    *[_spec(name, text, key) for name, (text, key) in SPECS.items()],
    Case("plugin-manifest-oversized", "Plugin manifests too large", _oversized_manifest, SHOW, MANIFEST, "size",
         text="bytes"),
]
