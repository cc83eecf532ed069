"""The baseline's commands, run for real against this machine (testinfra's local backend).

Settings reach the host's shell through testinfra; a value must stay one
word of a command, never become a command of its own.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import testinfra

from anl_stack.plugin_api import NOT_APPLICABLE
from anl_stack.verify.baseline import test_baseline as baseline


def test_disk_paths_never_run_as_commands(tmp_path: Path) -> None:
    host = testinfra.get_host("local://")
    marker = tmp_path / "ran"
    hostile = [f"'; touch {marker}; '", f"$(touch {marker})", f"`touch {marker}`", f"/; touch {marker}"]
    settings = {"anl_verify_disk_paths": ["/", *hostile], "anl_verify_disk_max_used_percent": 100}
    # The check still measures the real path among them (it asserts df found one).
    baseline.test_enough_free_disk(host, settings)
    assert not marker.exists(), "a disk path setting was run by the host's shell"


def _plugin_with_data(tmp_path: Path, folders: list[Path]) -> dict[str, str]:
    """A backup settings file as the backup role writes it; the check's host variables pointing at it."""
    config = tmp_path / "backup"
    (config / "plugins").mkdir(parents=True)
    (config / "plugins" / "demo.json").write_text(json.dumps({"plugin": "demo", "paths": [str(f) for f in folders]}))
    return {"backup_config_dir": str(config)}


def test_world_writable_data_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = testinfra.get_host("local://")
    monkeypatch.chdir(tmp_path)  # where an unquoted `$(touch ran)` would write
    # The data folder's own name is what reaches the shell.
    data = tmp_path / "rec $(touch ran)"
    data.mkdir()
    open_file, open_dir, fine, elsewhere = data / "open.mp4", data / "2026-12-01", data / "fine.mp4", tmp_path / "x"
    for path in (open_file, fine, elsewhere):
        path.write_text("")
    open_dir.mkdir()
    for path, mode in ((data, 0o755), (open_file, 0o666), (open_dir, 0o777), (fine, 0o644), (elsewhere, 0o666)):
        os.chmod(path, mode)
    (data / "link").symlink_to(elsewhere)  # a link is 0777 itself; what it points to is not the plugin's
    hostvars = _plugin_with_data(tmp_path, [data, tmp_path / "missing"])
    with pytest.raises(AssertionError) as failure:
        baseline.test_plugin_data_not_world_writable(host, {"plugins": ["demo"]}, hostvars)
    message = str(failure.value)
    assert f"demo: {open_file} (-rw-rw-rw-)" in message and f"demo: {open_dir} (drwxrwxrwx)" in message
    assert str(fine) not in message and "link" not in message and str(elsewhere) not in message
    assert not (tmp_path / "ran").exists(), "a data folder's name was run by the host's shell"

    for path in (open_file, open_dir):
        os.chmod(path, 0o755)
    baseline.test_plugin_data_not_world_writable(host, {"plugins": ["demo"]}, hostvars)


def test_no_data_folder_is_not_applicable(tmp_path: Path) -> None:
    host = testinfra.get_host("local://")
    with pytest.raises(pytest.skip.Exception, match=f"^{NOT_APPLICABLE}"):
        baseline.test_plugin_data_not_world_writable(host, {"plugins": ["demo"]},
                                                     {"backup_config_dir": str(tmp_path / "none")})


def test_backup_config_dir_is_the_backup_roles_default(project_root: Path) -> None:
    """The baseline finds the plugins' data folders where the backup role writes them by default."""
    import yaml

    from anl_stack.plugin_api import BACKUP_CONFIG_DIR

    defaults = yaml.safe_load((project_root / "playbooks/roles/backup/defaults/main.yml").read_text())
    assert defaults["backup_config_dir"] == BACKUP_CONFIG_DIR
