"""`anl-stack collection build`: the staged tree, the refusals, and what the archive holds.

The archive is built for real with ansible-galaxy (no network); the plain
ansible-playbook run of its playbooks on a host is in tests/integration/test_collection.py.
"""

from __future__ import annotations

import json
import re
import shutil
import tarfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from anl_stack import __version__
from anl_stack.cli import cli
from anl_stack.collection.content.filter.anl_firewall import firewall_ports as collection_ports
from anl_stack.collection.stage import stage
from anl_stack.core.paths import shared_roles, shared_roles_dir
from anl_stack.inventory.model import firewall_ports as engine_ports
from anl_stack.inventory.model import load_inventory
from anl_stack.plugin_api import LIFECYCLE
from anl_stack.plugins import discover_plugins

PROJECT = Path(__file__).resolve().parents[2]
FQCN = "anl.communes"


def recipe_plugins() -> list[Any]:
    return [p for p in discover_plugins() if p.recipe_available]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    stage(root, recipe_plugins(), namespace="anl", name="communes", version=__version__,
          requires_ansible=">=2.19,<2.20")
    return root


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_galaxy_yml_and_runtime(tree: Path) -> None:
    galaxy = load(tree / "galaxy.yml")
    assert (galaxy["namespace"], galaxy["name"], galaxy["version"]) == ("anl", "communes", __version__)
    assert galaxy["readme"] == "README.md" and (tree / "README.md").is_file()
    assert galaxy["license"] == ["AGPL-3.0-or-later"]
    # No Galaxy dependency: an offline install needs no server.
    assert galaxy["dependencies"] == {}
    assert load(tree / "meta" / "runtime.yml") == {"requires_ansible": ">=2.19,<2.20"}


def test_requires_ansible_is_the_pinned_ansible_core() -> None:
    from anl_stack.collection.build import requires_ansible

    pinned = next(d for d in tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["dependencies"]
                  if d.startswith("ansible-core"))
    assert sorted(requires_ansible().split(",")) == sorted(pinned.removeprefix("ansible-core").split(","))


def test_every_role_with_its_argument_specs(tree: Path) -> None:
    plugins = recipe_plugins()
    expected = {*shared_roles(), "gate", *(r.name for p in plugins for r in (p.path / "roles").iterdir())}
    assert {d.name for d in (tree / "roles").iterdir()} == expected
    sources = {r: shared_roles_dir() / r for r in shared_roles()}
    sources.update({r.name: r for p in plugins for r in (p.path / "roles").iterdir()})
    for role, source in sources.items():
        specs = source / "meta" / "argument_specs.yml"
        assert specs.is_file(), specs
        assert (tree / "roles" / role / "meta" / "argument_specs.yml").read_text() == specs.read_text()
        assert (tree / "roles" / role / "tasks" / "main.yml").read_text() == (source / "tasks" / "main.yml").read_text()
    assert (tree / "roles" / "gate" / "meta" / "argument_specs.yml").is_file()


def _role_names(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith(("include_role", "import_role")):
                found.append(value["name"])
            elif key == "roles":
                found += [r if isinstance(r, str) else r.get("role", r.get("name")) for r in value]
            else:
                found += _role_names(value)
    elif isinstance(node, list):
        for item in node:
            found += _role_names(item)
    return found


def test_lifecycle_playbooks_qualified_with_the_gate_first(tree: Path) -> None:
    for plugin in recipe_plugins():
        for step in LIFECYCLE:
            name = plugin.name if step.name == "deploy" else f"{plugin.name}_{step.name}"
            path = tree / "playbooks" / f"{name}.yml"
            assert path.is_file() == (plugin.path / step.playbook).is_file(), path
            if not path.is_file():
                continue
            plays = load(path)
            gate = plays[0]
            assert gate["hosts"] == plugin.name and gate["gather_facts"] is True
            assert gate["tasks"][0]["ansible.builtin.import_role"]["name"] == f"{FQCN}.gate"
            assert gate["tasks"][0]["vars"] == {"gate_plugin": plugin.name, "gate_step": step.name}
            roles = _role_names(plays)
            assert roles, path
            assert all(r.startswith(f"{FQCN}.") for r in roles), (path, roles)
            assert all((tree / "roles" / r.removeprefix(f"{FQCN}.")).is_dir() for r in roles), roles
            for play in plays:
                target = play.get("ansible.builtin.import_playbook")
                if target is not None:
                    assert target == f"{FQCN}.{plugin.name}", (path, target)


def test_embedded_manifest_facts(tree: Path) -> None:
    facts = load(tree / "roles" / "gate" / "vars" / "main.yml")["gate_plugins"]
    for plugin in recipe_plugins():
        m = plugin.manifest
        embedded = facts[plugin.name]
        assert [(p["port"], p["protocol"], p.get("allow_from_setting")) for p in embedded["ports"]] == \
            [(p.port, p.protocol, p.allow_from_setting) for p in m.deployment.ports]
        assert sorted(embedded["releases"]) == sorted(k.removeprefix("debian-") for k, v in m.platforms.items()
                                                      if v.supported)
        for artifact in m.deployment.artifacts:
            pins = embedded["artifacts"][artifact.name][artifact.version]
            assert pins.get("sha256") == artifact.sha256 and pins.get("sha512") == artifact.sha512
        assert embedded["recipe"]["version"] == str(m.version)


def test_filter_computes_the_engines_ports(tree: Path, tmp_path: Path) -> None:
    """The collection's filter opens, per host, what the deploy engine opens (the example inventory)."""
    facts = load(tree / "roles" / "gate" / "vars" / "main.yml")["gate_plugins"]
    by_plugin = {name: f["ports"] for name, f in facts.items()}
    inventory = tmp_path / "inv"
    shutil.copytree(PROJECT / "inventories" / "exemple", inventory)
    hosts = load(inventory / "hosts.yml")
    # One host in two plugins' groups: ports of both, allow_from read from the settings.
    hosts["all"]["children"]["nextcloud"]["hosts"]["diffusion1"] = {}
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    inv = load_inventory(inventory)
    manifests = {p.name: p.manifest for p in recipe_plugins()}
    expected = engine_ports(inv, manifests)
    for host in inv.hosts:
        settings = inv.host_settings(host)
        assert collection_ports(inv.groups_of(host), by_plugin, settings) == expected[host], host
    assert {p["port"] for p in expected["diffusion1"]} >= {443, 1935}
    # A remove step closes the removed plugin's ports only.
    closed = collection_ports(inv.groups_of("diffusion1"), by_plugin, inv.host_settings("diffusion1"), ["streaming"])
    assert 1935 not in {p["port"] for p in closed} and 443 in {p["port"] for p in closed}
    # A port opened by a setting (PeerTube's live RTMP): closed, then open once the host turns it on.
    hosts["all"]["children"]["peertube"] = {"hosts": {"diffusion1": {}}}
    hosts["all"]["children"]["streaming"]["hosts"]["diffusion1"]["peertube_live_enabled"] = "yes"
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    inv = load_inventory(inventory)
    expected = engine_ports(inv, manifests)
    for host in inv.hosts:
        assert collection_ports(inv.groups_of(host), by_plugin, inv.host_settings(host)) == expected[host], host
    live = collection_ports(inv.groups_of("diffusion1"), by_plugin, inv.host_settings("diffusion1"), ["streaming"])
    assert 1935 in {p["port"] for p in live}


# --- the command: refusals and the archive ---------------------------------------------------------

def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize("args, key", [
    (["--namespace", "Anl"], "--namespace"),
    (["--name", "communes-2"], "--name"),
    (["--name", "9communes"], "--name"),
])
def test_bad_names_refused(tmp_path: Path, args: list[str], key: str) -> None:
    result = run("collection", "build", *args, "--output", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {key}: invalid {key} "), result.output
    assert not (tmp_path / "out").exists()


def test_output_that_is_a_file_refused(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    result = run("collection", "build", "--output", str(target))
    assert result.exit_code == 2 and "--output" in result.output and "not a folder" in result.output
    assert target.read_text() == "x"


def test_clashing_role_names_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plugin whose role is named like a shared one (web) is refused, naming both; nothing is written."""
    plugin = tmp_path / "plugins" / "clashy"
    shutil.copytree(PROJECT / "plugins" / "streaming", plugin, ignore=shutil.ignore_patterns("evidence", "reviews"))
    manifest = plugin / "plugin.yml"
    manifest.write_text(re.sub(r"(?m)^name: streaming$", "name: clashy",
                               manifest.read_text().replace("streaming_", "clashy_")))
    (plugin / "roles" / "streaming").rename(plugin / "roles" / "web")
    monkeypatch.setenv("ANL_STACK_PLUGINS_PATH", str(tmp_path / "plugins"))
    out = tmp_path / "out"
    result = run("collection", "build", "--output", str(out))
    assert result.exit_code == 2, result.output
    assert "role 'web' of plugin 'clashy'" in result.output and "shared roles" in result.output
    assert not out.exists() or list(out.iterdir()) == []


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    result = CliRunner().invoke(cli, ["collection", "build", "--output", str(out), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    path = Path(json.loads(result.output)["archive"])
    assert path.name == f"anl-communes-{__version__}.tar.gz"
    assert sorted(p.name for p in out.iterdir()) == [path.name]  # no staging folder left behind
    return path


def test_archive_holds_playbooks_and_roles(archive: Path) -> None:
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile("MANIFEST.json"))  # type: ignore[arg-type]
    assert manifest["collection_info"]["version"] == __version__
    assert {"playbooks/streaming.yml", "playbooks/streaming_backup.yml", "roles/base/tasks/main.yml",
            "roles/gate/vars/main.yml", "meta/runtime.yml", "plugins/filter/anl_firewall.py"} <= names


def test_archive_holds_no_secret_and_nothing_from_tests(archive: Path) -> None:
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.isfile()]
        texts = {m.name: tar.extractfile(m).read() for m in members}  # type: ignore[union-attr]
    names = list(texts)
    assert not [n for n in names if re.search(r"(^|/)(tests?|verify|evidence|reviews|inventories)/", n)], names
    assert not [n for n in names if n.endswith((".pyc", "vault.yml")) or "/." in n or n.startswith(".")], names
    for name, data in texts.items():
        assert b"$ANSIBLE_VAULT" not in data, name
        assert not re.search(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----", data), name


def test_existing_archive_refused_without_force(archive: Path) -> None:
    before = archive.stat().st_mtime_ns
    refused = run("collection", "build", "--output", str(archive.parent))
    assert refused.exit_code == 2 and "--force" in refused.output
    assert archive.stat().st_mtime_ns == before
    replaced = run("collection", "build", "--output", str(archive.parent), "--force")
    assert replaced.exit_code == 0, replaced.output
    assert sorted(p.name for p in archive.parent.iterdir()) == [archive.name]


def test_help() -> None:
    for args in (["collection", "--help"], ["collection", "build", "--help"], ["artifacts", "export", "--help"]):
        result = run(*args)
        assert result.exit_code == 0 and "Usage:" in result.output, args


# --- artifacts export (what anl_artifacts_dir points at) --------------------------------------------

def test_export_refuses_a_folder_in_use(tmp_path: Path) -> None:
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep").write_text("x")
    result = run("artifacts", "export", "streaming", "--output", str(used))
    assert result.exit_code == 2 and "not an empty folder" in result.output, result.output
    assert sorted(p.name for p in used.iterdir()) == ["keep"]


def test_export_refuses_a_missing_artifact_and_writes_nothing(tmp_path: Path) -> None:
    """The fast suite's own, empty, artifact cache: hls.js is missing; the fetch command is named."""
    result = run("artifacts", "export", "streaming", "--output", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert "hls.js" in result.output and "anl-stack artifacts fetch streaming" in result.output
    assert list(tmp_path.iterdir()) == []
