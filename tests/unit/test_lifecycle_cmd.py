"""`anl-stack backup` / `restore`: refusals before any host is touched (exit 2)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from anl_stack.cli import cli

PROJECT = Path(__file__).resolve().parent.parent.parent


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


def carried_streaming_version() -> str:
    import yaml

    return str(yaml.safe_load((PROJECT / "plugins" / "streaming" / "plugin.yml").read_text())["version"])


def test_upgrade_to_another_recipe_version_is_refused_before_anything(isolated_dirs: Path) -> None:
    # Refused before the lab host is looked up: the operator reviewed 9.0.0, this anl-stack carries another.
    carried = carried_streaming_version()
    result = run("upgrade", "streaming", "--lab", "nolab", "--to", "9.0.0")
    assert result.exit_code == 2
    assert f"this anl-stack carries recipe streaming {carried}, not 9.0.0; nothing was changed" in result.stderr
    assert "--to" in result.stderr and "no lab host" not in result.stderr


def test_upgrade_to_a_bad_version_is_refused(isolated_dirs: Path) -> None:
    result = run("upgrade", "streaming", "--lab", "nolab", "--to", "latest!")
    assert result.exit_code == 2 and "'latest!' is not a version" in result.stderr


def test_upgrade_to_the_carried_version_goes_on(isolated_dirs: Path) -> None:
    # The carried version, also spelled with a trailing ".0": the next refusal is the missing lab host.
    carried = carried_streaming_version()
    for version in (carried, carried + ".0"):
        result = run("upgrade", "streaming", "--lab", "nolab", "--to", version)
        assert result.exit_code == 2 and "no lab host named 'nolab'" in result.stderr, result.stderr


def test_every_plugin_of_a_backup_is_checked_before_any_runs(isolated_dirs: Path) -> None:
    # The second name is wrong: refused before the first plugin's backup looks for its lab host.
    result = run("backup", "streaming", "nextclud", "--lab", "nolab")
    assert result.exit_code == 2
    assert "nextcloud" in result.stderr and "no lab host" not in result.stderr


def test_a_bad_snapshot_name_is_refused_before_a_new_server_is_deployed(isolated_dirs: Path) -> None:
    result = run("restore", "streaming", "-i", str(isolated_dirs / "none"), "--from", "lastest", "--to-host", "srv2")
    assert result.exit_code == 2 and "'lastest' is not a snapshot id" in result.stderr
