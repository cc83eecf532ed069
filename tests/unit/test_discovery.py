"""Plugin discovery: in-tree, entry points (real metadata), ANL_STACK_PLUGINS_PATH."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from anl_stack.core.errors import AnlError, ExitCode
from anl_stack.plugins import discover_plugins, get_plugin, require_recipe
from tests.unit.plugin_samples import manifest_data, write_plugin

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def install_distribution(site: Path, package: str, entry_name: str, *, plugin: str | None = None,
                         init_code: str = "") -> Path:
    """Lay out an installed distribution on ``site`` as pip does: the package and its .dist-info."""
    folder = site / package
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text(init_code)
    if plugin:
        write_plugin(site, plugin, folder=package)
    dist = site / f"{package}-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package.replace('_', '-')}\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text(f"[anl_stack.plugins]\n{entry_name} = {package}\n")
    (dist / "RECORD").write_text("")
    return folder


def run_list(env_extra: dict[str, str]) -> dict:
    """``anl-stack plugins list --json`` in a fresh interpreter (entry points are read per process)."""
    env = {**os.environ, **env_extra}
    result = subprocess.run([sys.executable, "-m", "anl_stack", "plugins", "list", "--json"],
                            capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    return {p["name"]: p for p in json.loads(result.stdout)["plugins"]}


def test_in_tree_folders_are_plugins_named_by_folder(tmp_path: Path) -> None:
    write_plugin(tmp_path, "alpha")
    write_plugin(tmp_path, "beta", recipe=True)
    (tmp_path / "empty").mkdir()
    (tmp_path / ".hidden").mkdir()
    found = discover_plugins(in_tree=tmp_path, plugins_path="", entry_points=False)
    assert [(p.name, p.source, p.loaded) for p in found] == [
        ("alpha", "in-tree", True), ("beta", "in-tree", True), ("empty", "in-tree", False)]
    assert [p.recipe_available for p in found] == [False, True, False]
    assert found[1].steps == {"deploy": tmp_path / "beta" / "playbook.yml"}
    assert found[2].error.records[0].message == "manifest not found"


def test_in_tree_name_must_match_folder(tmp_path: Path) -> None:
    write_plugin(tmp_path, "alpha", folder="beta")
    [plugin] = discover_plugins(in_tree=tmp_path, plugins_path="", entry_points=False)
    assert plugin.name == "beta" and not plugin.loaded
    assert plugin.error.records[0].key == "name"


def test_path_entries_take_plugin_folders_and_folders_of_plugins(tmp_path: Path) -> None:
    single = write_plugin(tmp_path / "one", "solo")
    write_plugin(tmp_path / "many", "first")
    write_plugin(tmp_path / "many", "second")
    (tmp_path / "many" / "notes").mkdir()  # not a plugin: ignored in a folder of plugins
    path = os.pathsep.join([str(single), str(tmp_path / "many"), str(tmp_path / "missing")])
    found = discover_plugins(in_tree=tmp_path / "none", plugins_path=path, entry_points=False)
    assert [(p.name, p.source) for p in found] == [
        ("solo", "path"), ("first", "path"), ("second", "path"), ("missing", "path")]
    assert found[-1].error.records[0].key == "ANL_STACK_PLUGINS_PATH"


def test_broken_plugin_is_listed_with_its_error(tmp_path: Path) -> None:
    data = manifest_data("broken")
    data["facts"]["requirements"]["ram_mb"] = {"value": "a lot"}
    write_plugin(tmp_path, data=data, folder="broken")
    write_plugin(tmp_path, "fine")
    found = {p.name: p for p in discover_plugins(in_tree=tmp_path, plugins_path="", entry_points=False)}
    assert found["fine"].loaded
    [record] = found["broken"].error.records
    assert record.key == "facts.requirements.ram_mb.value" and record.line
    with pytest.raises(AnlError) as caught:
        require_recipe(found["broken"])
    assert caught.value.records == [record]


def test_first_found_wins_and_later_is_shadowed(tmp_path: Path) -> None:
    write_plugin(tmp_path / "tree", "twin")
    later = write_plugin(tmp_path / "extra", "twin")
    found = discover_plugins(in_tree=tmp_path / "tree", plugins_path=str(tmp_path / "extra"), entry_points=False)
    [twin] = found
    assert twin.source == "in-tree"
    assert [(s.source, s.path) for s in twin.shadowed] == [("path", later)]
    assert twin.to_dict()["shadowed"] == [{"source": "path", "origin": str(later), "path": str(later)}]


def test_unknown_name_suggests_close_ones(tmp_path: Path) -> None:
    write_plugin(tmp_path, "nextcloud")
    found = discover_plugins(in_tree=tmp_path, plugins_path="", entry_points=False)
    with pytest.raises(AnlError) as caught:
        get_plugin("nextclod", found)
    assert caught.value.exit_code == ExitCode.REFUSED
    assert "did you mean nextcloud?" in caught.value.records[0].message


def test_require_recipe_refuses_without_playbook(tmp_path: Path) -> None:
    write_plugin(tmp_path, "ready", recipe=True)
    write_plugin(tmp_path, "later")
    found = {p.name: p for p in discover_plugins(in_tree=tmp_path, plugins_path="", entry_points=False)}
    assert require_recipe(found["ready"]).name == "ready"
    with pytest.raises(AnlError) as caught:
        require_recipe(found["later"], list(found.values()))
    assert caught.value.exit_code == ExitCode.REFUSED
    assert "recipe: not yet available" in str(caught.value)
    # What exists instead: its fiche, and the plugins that can be deployed.
    record = caught.value.records[0]
    assert "`anl-stack plugins show later`" in record.message
    assert record.expected is not None and record.expected.endswith("plugins with a recipe: ready")


def test_a_plugin_without_recipe_says_where_to_follow_its_progress(tmp_path: Path) -> None:
    write_plugin(tmp_path, "later")
    manifest = tmp_path / "later" / "plugin.yml"
    manifest.write_text(manifest.read_text().replace(
        "deployment:\n", "deployment:\n  progress: \"issue 42 of the collective's tracker\"\n", 1))
    found = discover_plugins(in_tree=tmp_path, plugins_path="", entry_points=False)
    with pytest.raises(AnlError) as caught:
        require_recipe(found[0], found)
    assert "follow its progress: issue 42 of the collective's tracker" in caught.value.records[0].message
    assert caught.value.records[0].expected.endswith("plugins with a recipe: none")


def test_entry_point_of_installed_distribution(tmp_path: Path) -> None:
    site = tmp_path / "site"
    marker = tmp_path / "imported"
    # The package must not be imported by discovery (importing must stay cheap).
    folder = install_distribution(site, "anl_plugin_ep", "epdemo", plugin="epdemo",
                                  init_code=f"open({str(marker)!r}, 'w').close()\n")
    install_distribution(site, "anl_plugin_noyaml", "noyaml")
    install_distribution(site, "anl_plugin_misnamed", "wrongname", plugin="epother")
    found = run_list({"PYTHONPATH": str(site), "ANL_STACK_PLUGINS_PATH": ""})
    ep = found["epdemo"]
    assert (ep["source"], ep["loaded"], ep["path"]) == ("entry point", True, str(folder))
    assert ep["origin"] == "anl-plugin-ep: epdemo = anl_plugin_ep"
    assert "no plugin.yml" in found["noyaml"]["error"][0]["message"]
    assert "differs from the manifest name" in found["wrongname"]["error"][0]["message"]
    assert not marker.exists()


def test_order_in_tree_then_entry_point_then_path(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install_distribution(site, "anl_plugin_a", "orderdemo", plugin="orderdemo")
    write_plugin(tmp_path / "extra", "orderdemo")
    # The project's own plugins/ folder holds nextcloud: it comes before both.
    install_distribution(site, "anl_plugin_nc", "nextcloud", plugin="nextcloud")
    write_plugin(tmp_path / "extra", "nextcloud")
    found = run_list({"PYTHONPATH": str(site), "ANL_STACK_PLUGINS_PATH": str(tmp_path / "extra")})
    assert found["orderdemo"]["source"] == "entry point"
    assert [s["source"] for s in found["orderdemo"]["shadowed"]] == ["path"]
    assert found["nextcloud"]["source"] == "in-tree"
    assert [s["source"] for s in found["nextcloud"]["shadowed"]] == ["entry point", "path"]
