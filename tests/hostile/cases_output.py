"""Where anl-stack is told to write: folders, unwritable places, links; and `init` with bad names."""

from __future__ import annotations

from tests.hostile.cases_artifacts import BLOB, GOOD_ENTRY, SHA, _index, _plugin
from tests.hostile.model import HOSTS, Case, Where, inventory, link, make_unwritable, write

HOSTILE_HOSTS = HOSTS.replace("    hello:\n", "    hostile:\n")


def _cached(w: Where) -> None:
    """An inventory whose one plugin has its artifact in the cache: `artifacts bundle` needs no download."""
    _plugin(w)
    inventory(w, hosts=HOSTILE_HOSTS)
    write(w.home / "cache" / "artifacts" / "index.json", _index(GOOD_ENTRY))
    write(w.home / "cache" / "artifacts" / "blobs" / SHA, BLOB)


def _bundle(name: str, output: str, prepare: object, text: str) -> Case:
    def build(w: Where) -> None:
        _cached(w)
        prepare(w)  # type: ignore[operator]

    return Case(f"bundle-output-{name}", "Output paths: bundle -o, verify --report/--junit", build,
                ["artifacts", "bundle", "-i", "{inv}", "-o", output], output, "--output", text=text,
                absent=("{case}/**/*.part", "{case}/**/.*.tmp", "{case}/*.part"))


def _report(name: str, option: str, output: str, prepare: object, text: str) -> Case:
    def build(w: Where) -> None:
        inventory(w)
        prepare(w)  # type: ignore[operator]

    return Case(f"verify-{option.strip('-')}-{name}", "Output paths: bundle -o, verify --report/--junit", build,
                ["verify", "hello", "-i", "{inv}", option, output], output, option, text=text,
                absent=("{home}/state/**/verify*", "{inv}/.anl-stack/runs/*"))


def _nothing(w: Where) -> None:
    return None


def _folder(rel: str):  # noqa: ANN202 - small builders of the table below
    return lambda w: (w.case / rel).mkdir(parents=True)


def _locked(w: Where) -> None:
    make_unwritable(w.case / "locked")


def _file(w: Where) -> None:
    write(w.case / "file.txt", "x")


def _link(rel: str):  # noqa: ANN202
    return lambda w: link(w.case / rel, w.outside / "shadow")


def _outputs(name: str) -> dict[str, tuple[str, object, str]]:
    """Places a command is told to write ``name`` in: (path, how the case prepares it, message)."""
    return {
        "folder": ("{case}/" + name, _folder(name), "is a folder"),
        "unwritable-folder": ("{case}/locked/" + name, _locked, "cannot write"),
        "below-unwritable-folder": ("{case}/locked/a/b/" + name, _locked, "cannot write"),
        "below-a-file": ("{case}/file.txt/" + name, _file, "not in a folder"),
        "link-to-outside": ("{case}/" + name, _link(name), "symbolic link"),
    }


INIT = ["init", "--domain", "exemple.fr", "--email", "dsi@exemple.fr"]
COMMUNE_NAMES = {
    "300-characters": "a" * 300,
    "parent-folders": "../../outside/x",
    "slash": "a/b",
    "dot-dot": "..",
    "hidden": ".exemple",
    "upper-case": "Exemple",
    "trailing-newline": "exemple\n",
    "space": "mairie exemple",
}


def _init_name(name: str, commune: str) -> Case:
    return Case(f"init-commune-{name}", "init: commune names, unwritable folders", _nothing,
                [*INIT, "--dir", "{case}", commune], "{case}", "COMMUNE", text="is not a commune name",
                absent=("{case}/inventories", "{home}/config/vault-passwords/*"))


def _init_locked(name: str, prepare: object, file: str, key: str, text: str, absent: tuple[str, ...]) -> Case:
    return Case(f"init-{name}", "init: commune names, unwritable folders", prepare,  # type: ignore[arg-type]
                [*INIT, "--dir", "{case}/target", "exemple"], file, key, text=text, absent=absent)


CASES: list[Case] = [
    *[_bundle(name, out, prep, text) for name, (out, prep, text) in _outputs("bundle.tar").items()],
    # (a folder given as --report or --junit is refused by the option itself, as a usage error)
    *[_report(name, "--report", out, prep, text) for name, (out, prep, text) in _outputs("report.md").items()
      if name != "folder"],
    *[_report(name, "--junit", out, prep, text) for name, (out, prep, text) in _outputs("junit.xml").items()
      if name in ("unwritable-folder", "link-to-outside", "below-a-file")],
    *[_init_name(name, commune) for name, commune in COMMUNE_NAMES.items()],
    _init_locked("immutable-target", lambda w: make_unwritable(w.case / "target"), "{case}/target/inventories/exemple/hosts.yml",
                 "--dir", "cannot write", ("{home}/config/vault-passwords/exemple.txt", "{case}/target/inventories")),
    _init_locked("immutable-password-folder",
                 lambda w: make_unwritable(w.home / "config" / "vault-passwords"),
                 "{home}/config/vault-passwords/exemple.txt", "vault_password_file", "cannot write",
                 ("{case}/target/inventories", "{home}/config/vault-passwords/exemple.txt")),
    _init_locked("target-is-a-file", lambda w: write(w.case / "target" / "inventories" / "exemple", "x"),
                 "{case}/target/inventories/exemple", "--dir", "is not a folder",
                 ("{home}/config/vault-passwords/exemple.txt",)),
    _init_locked("target-is-a-link", lambda w: link(w.case / "target" / "inventories" / "exemple", w.outside / "folder"),
                 "{case}/target/inventories/exemple", "--dir", "symbolic link",
                 ("{home}/config/vault-passwords/exemple.txt", "{outside}/folder/hosts.yml")),
]

