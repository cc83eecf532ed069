"""Fleets without lab hosts: the folder's communes, refusals, and the fleet's exit code and summary.

The communes here never reach a host: one has an invalid inventory (refused,
exit 2), one lists a host on a closed local port (its run fails, exit 1:
the release gate cannot read facts). Real anl-stack processes run each
commune; converging communes on lab hosts is tests/integration/test_fleet.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from anl_stack.cli import cli
from anl_stack.core.errors import AnlError
from anl_stack.fleet.communes import fleet_communes
from anl_stack.inventory.model import create_inventory

PROJECT = Path(__file__).resolve().parents[2]
TEST_PLUGINS = PROJECT / "tests" / "plugins"


def commune(fleet: Path, name: str, host: dict | None = None) -> Path:
    root = fleet / name
    password = fleet.parent / f"{name}.vault-password"
    password.write_text("un mot de passe de test\n")
    password.chmod(0o600)
    create_inventory(root, commune=name, domain=f"{name}.exemple.fr", email=f"dsi@{name}.exemple.fr",
                     hosts={"hosts": {"web1": host or {"ansible_host": "127.0.0.1", "ansible_port": 1}},
                            "children": {"hello": {"hosts": {"web1": {}}}}},
                     vault_password_file=password)
    return root


def broken(fleet: Path, name: str) -> Path:
    root = commune(fleet, name)
    (root / "hosts.yml").write_text("all: [not, a, mapping\n")
    return root


def invoke(*args: str) -> object:
    env = {"ANL_STACK_PLUGINS_PATH": str(TEST_PLUGINS)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the communes' processes inherit it
    try:
        return CliRunner().invoke(cli, ["--lang", "en", *args], prog_name="anl-stack")
    finally:
        for key, value in old.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)


def test_communes_are_the_sub_folders_with_an_inventory_and_links_are_skipped(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    commune(fleet, "b")
    commune(fleet, "a")
    (fleet / "notes").mkdir()
    (fleet / "c").symlink_to(fleet / "a")
    found, skipped = fleet_communes(fleet)
    assert [c.name for c in found] == ["a", "b"]
    assert len(skipped) == 1 and skipped[0].file == str(fleet / "c") and "link" in skipped[0].message
    assert [c.name for c in fleet_communes(fleet, ["b"])[0]] == ["b"]
    with pytest.raises(AnlError) as caught:
        fleet_communes(fleet, ["b", "zz"])
    record = caught.value.records[0]
    assert caught.value.exit_code == 2 and record.key == "--commune" and "zz" in record.message
    assert "a, b" in (record.expected or "")
    with pytest.raises(AnlError) as empty:
        fleet_communes(fleet / "notes")
    assert empty.value.records[0].key == "--fleet"


def test_fleet_options_that_name_one_communes_files_are_refused(tmp_path: Path) -> None:
    result = invoke("deploy", "hello", "--fleet", str(tmp_path), "-i", str(tmp_path))
    assert result.exit_code == 2 and "-i" in result.output and "--fleet" in result.output, result.output
    result = invoke("verify", "--commune", "a")
    assert result.exit_code == 2 and "needs --fleet" in result.output, result.output


def test_every_commune_refused_gives_2_and_nothing_ran(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    broken(fleet, "a")
    broken(fleet, "b")
    result = invoke("deploy", "hello", "--fleet", str(fleet), "--json")
    assert result.exit_code == 2, result.output
    summary = json.loads(result.stdout)
    assert summary["counts"] == {"ok": 0, "failed": 0, "refused": 2, "interrupted": 0}
    assert [c["commune"] for c in summary["communes"]] == ["a", "b"]
    a = summary["communes"][0]
    assert "hosts.yml" in a["message"]  # the commune's own refusal, naming its file
    assert (Path(summary["folder"]) / a["stderr"]).is_file()
    assert not list((fleet / "a").glob(".anl-stack/runs/*"))  # refused before any run folder


def test_one_commune_failing_and_one_refused_gives_1_with_each_reason(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    commune(fleet, "montagne")  # its host is a closed port: the run fails
    broken(fleet, "vallee")
    result = invoke("deploy", "hello", "--fleet", str(fleet), "--parallel", "2")
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Fleet deploy: 2 communes")
    assert any(line.split()[:2] == ["montagne", "failed"] for line in lines), result.stdout
    assert any(line.split()[:2] == ["vallee", "refused"] for line in lines), result.stdout
    assert "ok: 0, failed: 1, refused: 1, interrupted: 0" in result.stdout
    assert "montagne: started" in result.stderr and "vallee: refused in" in result.stderr
    summary = json.loads(next((fleet / ".anl-stack" / "fleet-runs").glob("*-deploy/summary.json")).read_text())
    failed = next(c for c in summary["communes"] if c["commune"] == "montagne")
    assert failed["exit_code"] == 1 and failed["summary"]["exit_code"] == 1
    assert yaml.safe_load((fleet / "montagne" / "hosts.yml").read_text())["all"]["hosts"]["web1"]["ansible_port"] == 1


def test_backup_takes_the_fleet_options_and_refuses_one_communes_files(tmp_path: Path) -> None:
    result = invoke("backup", "hello", "--fleet", str(tmp_path), "--vault-password-file", str(tmp_path / "pw"))
    assert result.exit_code == 2 and "--vault-password-file" in result.output, result.output
    result = invoke("backup", "hello", "--commune", "a")
    assert result.exit_code == 2 and "needs --fleet" in result.output, result.output


def test_backup_of_a_fleet_whose_communes_are_all_refused_gives_2(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    broken(fleet, "a")
    broken(fleet, "b")
    result = invoke("backup", "hello", "--fleet", str(fleet), "--label", "avant-travaux", "--repo", "local", "--json")
    assert result.exit_code == 2, result.output
    summary = json.loads(result.stdout)
    assert summary["action"] == "backup" and summary["counts"]["refused"] == 2, summary
    # Each commune ran the same backup, with the fleet's options, on its own inventory.
    a = summary["communes"][0]
    assert a["command"][:7] == ["backup", "hello", "--repo", "local", "--label", "avant-travaux", "-i"], a
    assert "hosts.yml" in a["message"]


def test_a_backup_summary_gives_the_snapshots_written() -> None:
    from anl_stack.cli.fleet_cli import _detail

    one = {"plugin": "hello", "reports": {"web1": {"snapshots": [{"repo": "local"}, {"repo": "voisine"}]}}}
    assert _detail(one) == "2 snapshots written"
    several = {"step": "backup", "plugins": [one, {"plugin": "x", "reports": {"web1": {"snapshots": []}}}]}
    assert _detail(several) == "2 snapshots written"
    deploy = {"runs": [{"hosts": {"web1": {"changed": 3, "failed": 0, "unreachable": 0}}}]}
    assert _detail(deploy) == "1 hosts, changed=3 failed=0"
