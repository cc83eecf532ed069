"""YAML that costs more than it weighs or says less than it seems: alias bombs, loops, depth, duplicate keys."""

from __future__ import annotations

from collections.abc import Callable

from tests.hostile.model import HOSTS, SETTINGS, Case, Where, inventory, plugin, write

# --- shapes: each is (top-level keys as YAML lines, the key an error must name) -------------


def _list_bomb() -> tuple[list[str], str]:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 9)]
    return lines, "l8"


def _map_bomb() -> tuple[list[str], str]:
    lines = ["m0: &m0 {" + ", ".join(f"k{j}: v" for j in range(9)) + "}"]
    lines += [f"m{i}: &m{i} {{" + ", ".join(f"k{j}: *m{i - 1}" for j in range(9)) + "}" for i in range(1, 7)]
    return lines, "m6"


def _key_bomb() -> tuple[list[str], str]:
    # Aliases used as mapping keys: expanded when the key is built or compared.
    lines = ["k0: &k0 [a, b, c, d, e, f, g, h, i]"]
    lines += [f"k{i}: &k{i} [" + ", ".join([f"*k{i - 1}"] * 9) + "]" for i in range(1, 7)]
    lines += ["bomb:", "  ? *k6", "  : boom"]
    return lines, "bomb"


def _wide_bomb() -> tuple[list[str], str]:
    # No nesting: one list of a thousand items repeated 150 times (quadratic, not exponential).
    return ["w: &w [" + ", ".join(["x"] * 1000) + "]", "wide: [" + ", ".join(["*w"] * 150) + "]"], "wide"


def _list_loop() -> tuple[list[str], str]:
    return ["selfref: &a [one, *a]"], "selfref[1]"


def _map_loop() -> tuple[list[str], str]:
    return ["selfmap: &m {name: x, again: *m}"], "selfmap.again"


def _deep_loop() -> tuple[list[str], str]:
    return ["outer: &o", "  inner:", "    - {back: *o}"], "outer.inner[0].back"


def _flow_depth() -> tuple[list[str], str]:
    return ["deep: " + "[" * 70 + "x" + "]" * 70], "deep..."


def _block_depth() -> tuple[list[str], str]:
    lines = ["nested:"] + [" " * (2 * (i + 1)) + f"n{i}:" for i in range(69)] + [" " * 140 + "leaf: x"]
    return lines, "nested.n0..."


BOMBS = {"list": _list_bomb, "map": _map_bomb, "keys": _key_bomb, "wide": _wide_bomb}
LOOPS = {"list": _list_loop, "map": _map_loop, "deep": _deep_loop}
DEPTHS = {"flow": _flow_depth, "block": _block_depth}


def _indent(lines: list[str], by: int) -> str:
    return "".join(" " * by + line + "\n" for line in lines)


# --- where a shape is put, and the command that reads it ------------------------------------
# name -> (builder of the case from the shape's lines, argv, file, key prefix)

def _in_hosts(lines: list[str]) -> Callable[[Where], None]:
    return lambda w: inventory(w, hosts=HOSTS.replace("all:\n", "all:\n  vars:\n" + _indent(lines, 4), 1))


def _in_file(rel: str, base: str = "") -> Callable[[list[str]], Callable[[Where], None]]:
    def make(lines: list[str]) -> Callable[[Where], None]:
        content = base + _indent(lines, 0)
        return lambda w: inventory(w, **({"settings": content} if rel == "group_vars/all/anl.yml"
                                         else {"files": {rel: content}}))
    return make


def _in_manifest(lines: list[str]) -> Callable[[Where], None]:
    def build(w: Where) -> None:
        folder = plugin(w)
        write(folder / "plugin.yml", (folder / "plugin.yml").read_text() + _indent(lines, 0))
    return build


def _in_role_spec(lines: list[str]) -> Callable[[Where], None]:
    def build(w: Where) -> None:
        folder = plugin(w)
        spec = folder / "roles" / "hostile" / "meta" / "argument_specs.yml"
        write(spec, spec.read_text() + _indent(lines, 0))
        inventory(w)
    return build


PLACES: dict[str, tuple[Callable[[list[str]], Callable[[Where], None]], list[str], str, str]] = {
    "hosts": (_in_hosts, ["inventory", "check", "-i", "{inv}"], "{inv}/hosts.yml", "all.vars."),
    "settings": (_in_file("group_vars/all/anl.yml", SETTINGS), ["plan", "hello", "-i", "{inv}"],
                 "{inv}/group_vars/all/anl.yml", ""),
    "group_vars": (_in_file("group_vars/hello.yml"), ["deploy", "hello", "-i", "{inv}"],
                   "{inv}/group_vars/hello.yml", ""),
    "host_vars": (_in_file("host_vars/srv1.yml"), ["verify", "hello", "-i", "{inv}"],
                  "{inv}/host_vars/srv1.yml", ""),
    "vars_folder": (_in_file("group_vars/all/more/extra.yml"), ["artifacts", "fetch", "hello", "-i", "{inv}"],
                    "{inv}/group_vars/all/more/extra.yml", ""),
    "private": (_in_file(".anl-stack/settings.yml"), ["plan", "hello", "-i", "{inv}"],
                "{inv}/.anl-stack/settings.yml", ""),
    "manifest": (_in_manifest, ["plugins", "show", "hostile"], "{plugins}/hostile/plugin.yml", ""),
    "role_spec": (_in_role_spec, ["inventory", "check", "-i", "{inv}"],
                  "{plugins}/hostile/roles/hostile/meta/argument_specs.yml", ""),
}


def _cases(category: str, kind: str, shapes: dict[str, Callable[[], tuple[list[str], str]]], places: list[str],
           text: str) -> list[Case]:
    out = []
    for place in places:
        make, argv, file, prefix = PLACES[place]
        for shape_name, shape in shapes.items():
            lines, key = shape()
            out.append(Case(f"yaml-{kind}-{shape_name}-in-{place}", category, make(lines), argv, file,
                            prefix + key, text=text, line=True))
    return out


CASES: list[Case] = [
    *_cases("YAML alias bombs", "bomb", BOMBS, list(PLACES), "aliases expand this document"),
    *_cases("YAML aliases that loop", "loop", LOOPS, ["hosts", "settings", "manifest"], "a loop"),
    *_cases("YAML nested too deep", "depth", DEPTHS, ["hosts", "settings", "manifest"], "levels deep"),
]
