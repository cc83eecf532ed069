"""The baseline's commands, run for real against this machine (testinfra's local backend).

Settings reach the host's shell through testinfra; a value must stay one
word of a command, never become a command of its own.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
from pathlib import Path

import pytest
import testinfra

from anl_stack.plugin_api import MARKERS, NOT_APPLICABLE
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


class _LocalHostAsWwwData:
    """testinfra's local host; ``sudo`` is a no-op so the command itself runs on this machine."""

    def __init__(self) -> None:
        self._host = testinfra.get_host("local://")

    def sudo(self, user: str) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def run(self, command: str) -> object:
        return self._host.run(command)


def test_nextcloud_root_never_run_as_a_command(project_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                request: pytest.FixtureRequest) -> None:
    """The Nextcloud checks' occ command keeps the inventory's nextcloud_root one word."""
    for marker, meaning in MARKERS.items():  # the checks' own markers, registered by verify for its runs
        request.config.addinivalue_line("markers", f"{marker}: {meaning}")
    spec = importlib.util.spec_from_file_location("nextcloud_checks",
                                                  project_root / "plugins/nextcloud/verify/test_nextcloud.py")
    assert spec and spec.loader
    checks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(checks)
    occ_fixture = getattr(checks.occ, "_get_wrapped_function", None)
    make_occ = occ_fixture() if occ_fixture else checks.occ.__wrapped__
    monkeypatch.chdir(tmp_path)  # where an unquoted `$(touch ran)` would write
    occ = make_occ(_LocalHostAsWwwData(), {"nextcloud_root": "/srv/nc $(touch ran); touch ran2"}, "8.4")
    result = occ("status", "--output=json; touch ran3")
    assert result.rc != 0  # no php8.4 here, or no occ under that root: the command ran and failed
    assert not any((tmp_path / name).exists() for name in ("ran", "ran2", "ran3")), \
        "nextcloud_root or an occ argument was run by the host's shell"


def test_services_not_as_root_checks_what_plugins_declare() -> None:
    """A process a plugin declares (deployment.services) is checked: here one of this test's, run by its user."""
    import secrets
    import subprocess
    import sys

    host = testinfra.get_host("local://")
    tag = f"anl-probe-{secrets.token_hex(4)}"
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", tag])
    try:
        context = {"services": [{"plugin": "demo", "name": "demo daemon", "process": f" {tag}$"}]}
        if os.geteuid() == 0:
            with pytest.raises(AssertionError, match="running as root: .*demo daemon"):
                baseline.test_services_not_as_root(host, context)
        else:
            baseline.test_services_not_as_root(host, context)  # seen, and not root: passes
    finally:
        process.kill()
        process.wait()


def test_check_failures_and_reasons_speak_the_chosen_language(tmp_path: Path) -> None:
    """verify's checks run with the user's language (ANL_STACK_LANG): their messages are in it."""
    from anl_stack.core.i18n import set_language

    host = testinfra.get_host("local://")
    data = tmp_path / "data"
    data.mkdir()
    (data / "open.txt").write_text("")
    os.chmod(data / "open.txt", 0o666)
    hostvars = _plugin_with_data(tmp_path, [data])
    said = {}
    for lang in ("fr", "en"):
        set_language(lang)  # type: ignore[arg-type]
        try:
            with pytest.raises(AssertionError) as failure:
                baseline.test_plugin_data_not_world_writable(host, {"plugins": ["demo"]}, hostvars)
            with pytest.raises(pytest.skip.Exception) as skipped:
                baseline.test_plugin_data_not_world_writable(host, {"plugins": ["demo"]},
                                                             {"backup_config_dir": str(tmp_path / "none")})
            with pytest.raises(AssertionError) as no_disk:
                baseline.test_enough_free_disk(host, {"anl_verify_disk_paths": [str(tmp_path / "nowhere")]})
        finally:
            set_language(None)
        said[lang] = (str(failure.value), str(skipped.value), str(no_disk.value))
    assert said["fr"][0].startswith(f"modifiables par tous sous les dossiers de données : demo: {data / 'open.txt'}")
    assert said["en"][0].startswith(f"world-writable under the data folders: demo: {data / 'open.txt'}")
    assert said["fr"][1] == f"{NOT_APPLICABLE} aucun plugin de cet hôte n'y a de dossier de données (chemins de sauvegarde)"
    assert said["en"][1] == f"{NOT_APPLICABLE} no plugin of this host has a data folder (backup paths) on it"
    assert said["fr"][2].startswith("df n'a trouvé aucun de [") and said["en"][2].startswith("df found none of [")
