"""`collective sync`: federation settings from the other members' trusted, passing instances.

Commune files are signed for real with throw-away OpenPGP keys (fixtures of
test_collective.py) and read back through `collective verify`: a tampered
file, a failed verification, and addresses that are not plain https:// web
names are left out; the commune's own instances too.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from anl_stack.cli import cli
from anl_stack.collective import signatures
from anl_stack.collective.model import COMMUNE_TAG, COMMUNES_DIR, RECORD_TAG, SCHEMA, check_commune, dump
from anl_stack.collective.sync import sync
from anl_stack.core.errors import AnlError
from tests.unit.test_collective import COMMUNES, build_collective, keys  # noqa: F401 (a fixture)

DIGEST = "sha256:" + "0" * 64


def signed_commune_file(root: Path, label: str, keys: dict[str, str],  # noqa: F811
                        instances: list[tuple[str, str, str]]) -> Path:
    """The commune file of member LABEL listing (plugin, address, result), signed with its key."""
    commune, insee = COMMUNES[label]
    today = dt.date.today().isoformat()
    record = {RECORD_TAG: COMMUNE_TAG, "schema": SCHEMA, "commune": commune, "insee": insee,
              "fingerprint": keys[label], "published": today,
              "instances": [{"plugin": p, "address": a, "recipe_version": "0.1.0", "app_version": "1",
                             "digest": DIGEST, "result": r, "quality_level": 2, "since": today, "verified": today}
                            for p, a, r in instances],
              "reviews": [], "notes": []}
    target = root / COMMUNES_DIR / f"{insee}.yml"
    check_commune(target, record)
    text = dump(record, "# test commune file\n").encode("utf-8")
    signature, public_key = signatures.sign_bytes(text, keys[label])
    signatures.store_key(root, keys[label], public_key)
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(text)
    target.with_name(target.name + ".asc").write_bytes(signature)
    return target


@pytest.fixture
def collective(tmp_path: Path, keys: dict[str, str]) -> Path:  # noqa: F811
    root = build_collective(tmp_path / "anl", keys, "ABCD")
    signed_commune_file(root, "A", keys, [("nextcloud", "https://cloud.a.exemple.fr", "passed"),
                                          ("peertube", "https://video.a.exemple.fr/", "passed")])
    signed_commune_file(root, "B", keys, [("peertube", "https://video.b.exemple.fr", "passed"),
                                          ("mastodon", "https://social.b.exemple.fr", "passed")])
    tampered = signed_commune_file(root, "C", keys, [("peertube", "https://video.c.exemple.fr", "passed"),
                                                     ("mastodon", "https://social.c.exemple.fr", "failed")])
    tampered.write_text(tampered.read_text().replace("video.c", "video.pirate"))
    signed_commune_file(root, "D", keys, [("peertube", "http://video.d.exemple.fr", "passed"),
                                          ("nextcloud", "https://cloud.d.exemple.fr/index.php", "passed"),
                                          ("mastodon", "https://social.d.exemple.fr", "failed")])
    return root


def commune_inventory(tmp_path: Path, settings: dict[str, Any] | None = None) -> Path:
    root = tmp_path / "inventaire-b"
    (root / "group_vars" / "all").mkdir(parents=True)
    groups = {name: {"hosts": {"srv1": {}}} for name in ("nextcloud", "peertube", "mastodon")}
    (root / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"srv1": {"ansible_host": "192.0.2.20"}},
                                                            "children": groups}}))
    (root / "group_vars" / "all" / "anl.yml").write_text(yaml.safe_dump(
        {"anl_commune": "bessans", "anl_domain": "b.exemple.fr", "anl_admin_email": "dsi@b.exemple.fr",
         **(settings or {})}))
    return root


def test_the_other_members_passing_instances_fill_the_settings(tmp_path: Path, collective: Path) -> None:
    inventory = commune_inventory(tmp_path)
    result = sync(collective, inventory, insee="73002")
    assert result.after == {"mastodon_allowed_domains": [],  # B's own server left out, C's and D's failed
                            "nextcloud_trusted_servers": ["https://cloud.a.exemple.fr"],
                            "peertube_follow_hosts": ["video.a.exemple.fr"],
                            "peertube_redundancy_hosts": ["video.a.exemple.fr"]}
    assert result.written
    assert sorted(r.key for r in result.ignored) == ["instances.nextcloud.address", "instances.peertube.address"]
    written = yaml.safe_load((inventory / "group_vars" / "all" / "collective.yml").read_text())
    assert written == result.after
    # The commune's own files are untouched; a second sync changes nothing.
    again = sync(collective, inventory, insee="73002")
    assert not again.written and again.changes() == {}


def test_a_setting_the_commune_sets_itself_is_refused_and_nothing_written(tmp_path: Path, collective: Path) -> None:
    inventory = commune_inventory(tmp_path, {"peertube_follow_hosts": ["video.ailleurs.fr"]})
    with pytest.raises(AnlError) as refused:
        sync(collective, inventory, insee="73002")
    record = refused.value.records[0]
    assert refused.value.exit_code == 2 and record.key == "peertube_follow_hosts"
    assert record.file and record.file.endswith("anl.yml") and record.line
    assert not (inventory / "group_vars" / "all" / "collective.yml").exists()
    with pytest.raises(AnlError) as outsider:
        sync(collective, commune_inventory(tmp_path / "x"), insee="38185")
    assert outsider.value.records[0].key == "--insee"


def test_cli_dry_run_writes_nothing_then_sync_writes(tmp_path: Path, collective: Path) -> None:
    inventory = commune_inventory(tmp_path)
    runner = CliRunner()
    dry = runner.invoke(cli, ["--lang", "en", "collective", "sync", str(collective), "-i", str(inventory),
                              "--insee", "73002", "--dry-run"])
    assert dry.exit_code == 0 and "peertube_follow_hosts: video.a.exemple.fr" in dry.output, dry.output
    assert "nothing written" in dry.output
    assert not (inventory / "group_vars" / "all" / "collective.yml").exists()
    done = runner.invoke(cli, ["--lang", "fr", "collective", "sync", str(collective), "-i", str(inventory),
                               "--insee", "73002", "--json"])
    assert done.exit_code == 0 and '"written": true' in done.output, done.output


def test_plan_reads_back_what_sync_wrote_for_the_planned_plugins(tmp_path: Path, collective: Path) -> None:
    from anl_stack.collective.sync import synced_settings
    from anl_stack.inventory.model import load_inventory

    inventory = commune_inventory(tmp_path)
    assert synced_settings(load_inventory(inventory), ["peertube"]) == {}  # nothing synced yet
    sync(collective, inventory, insee="73002")
    assert synced_settings(load_inventory(inventory), ["peertube", "streaming"]) == {
        "peertube_follow_hosts": ["video.a.exemple.fr"], "peertube_redundancy_hosts": ["video.a.exemple.fr"]}
