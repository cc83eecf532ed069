"""`anl-stack backup` / `restore`: refusals before any host is touched (exit 2)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from anl_stack.cli import cli


def run(*args: str):  # noqa: ANN201 - click's Result
    return CliRunner().invoke(cli, list(args))


def test_plugin_without_backup_step_is_refused(isolated_dirs: Path) -> None:
    result = run("backup", "streaming", "--lab", "nolab")
    assert result.exit_code == 2, result.output
    assert "backup: plugin 'streaming' has no backup step (backup.yml is missing)" in result.stderr
    assert "expected: a plugin that provides backup.yml: " in result.stderr
    assert "nextcloud" in result.stderr  # names a plugin that has the step


def test_plugin_without_restore_step_is_refused(isolated_dirs: Path) -> None:
    result = run("restore", "streaming", "--lab", "nolab", "--from", "20261128-100000")
    assert result.exit_code == 2
    assert "has no restore step" in result.stderr


def test_unknown_lab_host_is_refused(isolated_dirs: Path) -> None:
    result = run("backup", "nextcloud", "--lab", "nolab")
    assert result.exit_code == 2
    assert "no lab host named 'nolab'" in result.stderr


def test_unknown_plugin_is_refused(isolated_dirs: Path) -> None:
    result = run("backup", "nextclud", "--lab", "nolab")
    assert result.exit_code == 2
    assert "nextcloud" in result.stderr  # did you mean


def test_bad_backup_names_are_refused(isolated_dirs: Path) -> None:
    result = run("restore", "nextcloud", "--lab", "nolab", "--from", "../etc")
    assert result.exit_code == 2 and "is not a backup name" in result.stderr
    result = run("backup", "nextcloud", "--lab", "nolab", "--name", "a/b")
    assert result.exit_code == 2 and "is not a backup name" in result.stderr


def test_restore_needs_from(isolated_dirs: Path) -> None:
    result = run("restore", "nextcloud", "--lab", "nolab")
    assert result.exit_code == 2 and "--from" in result.stderr
