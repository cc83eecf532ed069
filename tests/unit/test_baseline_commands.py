"""The baseline's commands, run for real against this machine (testinfra's local backend).

Settings reach the host's shell through testinfra; a value must stay one
word of a command, never become a command of its own.
"""

from __future__ import annotations

from pathlib import Path

import testinfra

from anl_stack.verify.baseline import test_baseline as baseline


def test_disk_paths_never_run_as_commands(tmp_path: Path) -> None:
    host = testinfra.get_host("local://")
    marker = tmp_path / "ran"
    hostile = [f"'; touch {marker}; '", f"$(touch {marker})", f"`touch {marker}`", f"/; touch {marker}"]
    settings = {"anl_verify_disk_paths": ["/", *hostile], "anl_verify_disk_max_used_percent": 100}
    # The check still measures the real path among them (it asserts df found one).
    baseline.test_enough_free_disk(host, settings)
    assert not marker.exists(), "a disk path setting was run by the host's shell"
