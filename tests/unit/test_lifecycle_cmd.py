"""`anl-stack backup` / `restore`: refusals before any host is touched (exit 2)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from anl_stack.cli import cli


def run(*args: str):  # noqa: ANN201 - click's Result
    return CliRunner().invoke(cli, list(args))


def test_plugin_without_upgrade_step_is_refused(isolated_dirs: Path) -> None:
    result = run("upgrade", "nextcloud", "--lab", "nolab")
    assert result.exit_code == 2, result.output
    assert "upgrade: plugin 'nextcloud' has no upgrade step (upgrade.yml is missing)" in result.stderr
    assert "expected: a plugin that provides upgrade.yml" in result.stderr


def test_unknown_lab_host_is_refused(isolated_dirs: Path) -> None:
    result = run("backup", "nextcloud", "--lab", "nolab")
    assert result.exit_code == 2
    assert "no lab host named 'nolab'" in result.stderr


def test_unknown_plugin_is_refused(isolated_dirs: Path) -> None:
    result = run("backup", "nextclud", "--lab", "nolab")
    assert result.exit_code == 2
    assert "nextcloud" in result.stderr  # did you mean


def test_bad_labels_are_refused(isolated_dirs: Path) -> None:
    result = run("backup", "streaming", "--lab", "nolab", "--label", "a/b")
    assert result.exit_code == 2 and "'a/b' is not a label" in result.stderr


def test_backups_of_an_unknown_lab_host_is_refused(isolated_dirs: Path) -> None:
    result = run("backups", "streaming", "--lab", "nolab", "--json")
    assert result.exit_code == 2 and "no lab host named 'nolab'" in result.stderr


def test_to_host_needs_an_inventory(isolated_dirs: Path) -> None:
    result = run("restore", "streaming", "--lab", "nolab", "--from", "latest", "--to-host", "srv2")
    assert result.exit_code == 2 and "--to-host needs a commune inventory" in result.stderr


def test_restore_needs_from(isolated_dirs: Path) -> None:
    result = run("restore", "nextcloud", "--lab", "nolab")
    assert result.exit_code == 2 and "--from" in result.stderr


def test_restore_tags_need_a_new_server(isolated_dirs: Path) -> None:
    result = run("restore", "nextcloud", "--lab", "nolab", "--from", "latest", "--tags", "stack")
    assert result.exit_code == 2
    assert "--tags applies to the deploy of a new server" in result.stderr and "--to-host HOST" in result.stderr


def test_restore_with_a_bad_marker_expression_is_refused_first(isolated_dirs: Path) -> None:
    # Refused before the lab host is even looked up: nothing is restored to then fail at the checks.
    result = run("restore", "nextcloud", "--lab", "nolab", "--from", "latest", "--mark", "not (app")
    assert result.exit_code == 2
    assert "invalid marker expression" in result.stderr and "no lab host" not in result.stderr
