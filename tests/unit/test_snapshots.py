"""Choosing the snapshot a restore uses, and refusing one a recipe cannot take (pure logic)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from anl_stack.core.errors import AnlError
from anl_stack.deploy.snapshots import REPORT_PREFIX, Snapshot, choose, parse_report, refuse_newer, repository_order

SETTINGS = {"anl_backup_repositories": [{"name": "local", "path": "/r"}, {"name": "voisine", "partner": "p1"}]}


def snap(repo: str, sid: str, time: str, app: str | None = "1.2.2") -> Snapshot:
    return Snapshot(repo=repo, id=sid * 8, short_id=sid, time=time, host="srv1", plugin="streaming",
                    app_version=app)


SNAPS = [snap("local", "aaaaaaaa", "2026-12-01T10:00:00Z"), snap("voisine", "bbbbbbbb", "2026-12-01T10:00:00Z"),
         snap("local", "cccccccc", "2026-11-30T10:00:00Z")]


def test_off_host_repositories_come_first_when_the_server_is_gone() -> None:
    assert repository_order(SETTINGS, offsite_first=True) == ["voisine", "local"]
    assert repository_order(SETTINGS, offsite_first=False) == ["local", "voisine"]
    assert choose(SNAPS, "latest", ["voisine", "local"]).repo == "voisine"
    assert choose(SNAPS, "latest", ["local", "voisine"]).repo == "local"


def test_a_prefix_names_one_snapshot() -> None:
    assert choose(SNAPS, "cccccccc", ["local"]).short_id == "cccccccc"


@pytest.mark.parametrize(("wanted", "message"), [
    ("dddddddd", "no snapshot dddddddd"),
    ("../../etc", "is not a snapshot id"),
    ("abc", "is not a snapshot id"),
])
def test_unknown_or_bad_snapshot_ids_are_refused(wanted: str, message: str) -> None:
    with pytest.raises(AnlError) as error:
        choose(SNAPS, wanted, ["local"])
    assert message in str(error.value) and error.value.exit_code == 2


def test_latest_without_snapshots_is_refused() -> None:
    with pytest.raises(AnlError, match="no snapshot to restore"):
        choose([], "latest", ["local"])


def test_a_snapshot_of_a_newer_application_is_refused() -> None:
    plugin = SimpleNamespace(name="streaming", manifest=SimpleNamespace(app=SimpleNamespace(name="nginx-rtmp")))
    refuse_newer(snap("local", "aaaaaaaa", "t", app="1.2.2"), plugin, "1.2.2")
    refuse_newer(snap("local", "aaaaaaaa", "t", app="1.1.0"), plugin, "1.2.2")
    refuse_newer(snap("local", "aaaaaaaa", "t", app=None), plugin, "1.2.2")
    with pytest.raises(AnlError) as error:
        refuse_newer(snap("local", "aaaaaaaa", "t", app="1.3.0"), plugin, "1.2.2")
    assert "newer than the 1.2.2 the server runs; nothing was changed" in str(error.value)
    assert "a server that runs 1.3.0 or newer" in str(error.value)
    assert error.value.exit_code == 2


def test_the_version_the_server_runs_is_its_setting_before_the_recipes(tmp_path: Path) -> None:
    """A commune on Nextcloud 35 (nextcloud_version) restores its 35 snapshots; 34 is only the recipe's default."""
    from anl_stack.deploy.platforms import app_version
    from anl_stack.inventory.model import create_inventory, load_inventory

    create_inventory(tmp_path / "inv", commune="exemple", domain="exemple.fr", email="dsi@exemple.fr",
                     hosts={"hosts": {"srv1": {}, "srv2": {"nextcloud_version": "35.0.2"}},
                            "children": {"nextcloud": {"hosts": {"srv1": {}, "srv2": {}}}}},
                     vault_password_file=tmp_path / "pw")
    inv = load_inventory(tmp_path / "inv")
    plugin = SimpleNamespace(name="nextcloud", manifest=SimpleNamespace(app=SimpleNamespace(version="34.0.4")))
    assert app_version(inv, plugin, "srv1") == "34.0.4"
    assert app_version(inv, plugin, "srv2") == "35.0.2"


def test_a_host_report_is_read_and_unknown_keys_ignored() -> None:
    report = {"snapshots": [{"repo": "local", "id": "a" * 64, "short_id": "aaaaaaaa", "time": "t", "host": "srv1",
                             "plugin": "streaming", "size": 12, "paths": ["/x"], "future_key": 1}],
              "errors": ["repository voisine: cannot reach the SFTP server"]}
    found, errors = parse_report("srv1", REPORT_PREFIX + json.dumps(report))
    assert found[0].size == 12 and found[0].seen_from == "srv1"
    assert errors == ["repository voisine: cannot reach the SFTP server"]
