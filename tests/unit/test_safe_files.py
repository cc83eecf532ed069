"""The one file writer: planted links are refused, files appear whole with their mode."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from anl_stack.core.errors import AnlError
from anl_stack.core.files import ensure_folder, new_file, write_file, write_new_file


def test_writes_whole_file_with_mode_and_no_temporary_left(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "secret.yml"
    write_file(target, "x: 1\n", mode=0o600, root=tmp_path)
    assert target.read_text() == "x: 1\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    write_file(target, b"x: 2\n", mode=0o640, root=tmp_path)
    assert target.read_bytes() == b"x: 2\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in target.parent.iterdir()) == ["secret.yml"]


def test_link_at_target_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.write_text("precious\n")
    inventory = tmp_path / "inv"
    inventory.mkdir()
    (inventory / "ansible.cfg").symlink_to(outside)
    with pytest.raises(AnlError) as caught:
        write_file(inventory / "ansible.cfg", "[defaults]\n", root=inventory)
    assert "symbolic link" in caught.value.records[0].message
    assert caught.value.records[0].file == str(inventory / "ansible.cfg")
    assert outside.read_text() == "precious\n"
    assert sorted(p.name for p in inventory.iterdir()) == ["ansible.cfg"]


def test_linked_folder_below_root_is_not_entered(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    inventory = tmp_path / "inv"
    inventory.mkdir()
    (inventory / ".anl-stack").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(AnlError) as caught:
        write_file(inventory / ".anl-stack" / "ansible.cfg", "x\n", root=inventory)
    assert caught.value.records[0].file == str(inventory / ".anl-stack")
    assert list(elsewhere.iterdir()) == []
    with pytest.raises(AnlError):
        ensure_folder(inventory / ".anl-stack" / "runs", root=inventory)
    assert list(elsewhere.iterdir()) == []


def test_parent_names_refused(tmp_path: Path) -> None:
    with pytest.raises(AnlError):
        write_file(tmp_path / "inv" / ".." / "x", "x", root=tmp_path / "inv")
    assert not (tmp_path / "x").exists()


def test_new_file_refuses_existing_and_links(tmp_path: Path) -> None:
    with new_file(tmp_path / "log", mode=0o600) as handle:
        handle.write("one\n")
    assert (tmp_path / "log").read_text() == "one\n"
    assert stat.S_IMODE((tmp_path / "log").stat().st_mode) == 0o600
    with pytest.raises(AnlError, match="already exists"), new_file(tmp_path / "log"):
        pass
    (tmp_path / "planted").symlink_to("/etc/hostname")
    with pytest.raises(AnlError, match="symbolic link"), new_file(tmp_path / "planted"):
        pass


def test_write_new_file_never_replaces(tmp_path: Path) -> None:
    write_new_file(tmp_path / "record.json", "one\n")
    with pytest.raises(AnlError, match="already exists"):
        write_new_file(tmp_path / "record.json", "two\n")
    assert (tmp_path / "record.json").read_text() == "one\n"
    (tmp_path / "planted").symlink_to(tmp_path / "record.json")
    with pytest.raises(AnlError, match="symbolic link"):
        write_new_file(tmp_path / "planted", "two\n")
    assert (tmp_path / "record.json").read_text() == "one\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["planted", "record.json"], "a temporary file was left"


def test_failed_write_leaves_old_file(tmp_path: Path) -> None:
    target = tmp_path / "f"
    write_file(target, "old\n")

    class Boom(Exception):
        pass

    from anl_stack.core import files

    with pytest.raises(Boom), files._replacing(target, None, 0o644, 0o755) as handle:
        handle.write(b"new, half")
        raise Boom
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_dangling_link_in_place_of_a_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "runs").symlink_to(tmp_path / "nowhere")
    with pytest.raises(AnlError, match="symbolic link") as caught:
        write_file(folder / "runs" / "x", "x", root=tmp_path)
    assert caught.value.records[0].file == str(folder / "runs")
    assert not (tmp_path / "nowhere").exists()


def test_plan_does_not_write_through_a_link_planted_in_the_inventory(tmp_path: Path, test_plugins: Path,
                                                                      isolated_dirs: Path) -> None:
    from click.testing import CliRunner

    from anl_stack.cli import cli
    from anl_stack.inventory.model import create_inventory

    paths = create_inventory(tmp_path / "inv", commune="gieres", domain="gieres.fr", email="dsi@gieres.fr",
                             vault_password_file=tmp_path / "pw",
                             hosts={"children": {"hello": {"hosts": {"srv1": {"ansible_host": "192.0.2.1"}}}}})
    (tmp_path / "pw").write_text("a password\n")
    precious = tmp_path / "precious"
    precious.write_text("not anl-stack's\n")
    (paths.private / "ansible.cfg").symlink_to(precious)
    result = CliRunner().invoke(cli, ["plan", "hello", "-i", str(paths.root)])
    assert result.exit_code == 2, result.output
    assert f"{paths.private / 'ansible.cfg'}: is a symbolic link" in result.output
    assert precious.read_text() == "not anl-stack's\n"
