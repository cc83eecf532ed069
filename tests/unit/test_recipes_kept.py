"""The recipes a deploy keeps for an upgrade's rollback, and the refusals when none is known."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from anl_stack.core.errors import AnlError
from anl_stack.deploy import recipes
from anl_stack.deploy.prepare import site_playbook
from anl_stack.inventory.model import InventoryPaths
from anl_stack.plugins import get_plugin
from anl_stack.plugins.digest import content_digest


def test_a_deploy_keeps_its_recipe_once_and_records_the_hosts(tmp_path: Path) -> None:
    paths = InventoryPaths(tmp_path)
    plugin = get_plugin("streaming")
    folder = recipes.keep(paths, plugin, ["srv1", "srv2"])
    assert content_digest(folder) == content_digest(plugin.path), "the kept copy is not the deployed recipe"
    stamp = (folder / "plugin.yml").stat().st_mtime_ns
    assert recipes.keep(paths, plugin, ["srv1"]) == folder
    assert (folder / "plugin.yml").stat().st_mtime_ns == stamp, "a kept recipe was copied again"
    record = recipes.deployed(paths, "streaming", ["srv1", "srv2"])
    assert record["version"] == str(plugin.manifest.version) and record["folder"] == str(folder)


def test_no_recorded_deploy_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AnlError) as error:
        recipes.deployed(InventoryPaths(tmp_path), "streaming", ["srv1"])
    assert "no deploy of streaming on srv1 recorded" in str(error.value) and error.value.exit_code == 2


def test_hosts_on_different_recipes_are_refused(tmp_path: Path) -> None:
    paths = InventoryPaths(tmp_path)
    recipes.keep(paths, get_plugin("streaming"), ["srv1"])
    recipes.keep(paths, get_plugin("nextcloud"), ["srv2"])
    record_file = recipes.store(paths, "nextcloud") / recipes.RECORD
    moved = recipes.store(paths, "streaming") / recipes.RECORD
    data = {**json.loads(moved.read_text()), **json.loads(record_file.read_text())}
    moved.write_text(json.dumps(data))
    with pytest.raises(AnlError, match="run different recipes"):
        recipes.deployed(paths, "streaming", ["srv1", "srv2"])


def test_a_deploy_with_partner_servers_creates_their_accounts_first() -> None:
    plugin = get_plugin("streaming")
    plays = site_playbook([plugin], "deploy", partners=True)
    assert plays.index("backup-partner.yml") < plays.index("streaming/playbook.yml")
    assert "backup-partner.yml" not in site_playbook([plugin], "backup", partners=True)
    assert "backup-partner.yml" not in site_playbook([plugin], "deploy")


def test_an_upgrade_from_an_unsupported_recipe_is_refused() -> None:
    from anl_stack.deploy.upgrade import refuse_unsupported

    plugin = get_plugin("streaming")
    refuse_unsupported(plugin, "0.0.9")
    refuse_unsupported(plugin, "0.1.0")
    with pytest.raises(AnlError) as error:
        refuse_unsupported(plugin, "0.0.5")
    assert "does not upgrade from 0.0.5: The upgrade starts from a 0.0.9" in str(error.value)
    assert error.value.exit_code == 2
