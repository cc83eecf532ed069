"""A deploy to a lab host that does not exist yet refuses a missing artifact
before any lab host is booted."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from anl_stack.cli import cli


def test_missing_artifact_refused_before_the_lab_host_is_made(
        isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty_cache = isolated_dirs / "artifacts"
    empty_cache.mkdir()
    monkeypatch.setenv("ANL_STACK_ARTIFACTS_DIR", str(empty_cache))
    result = CliRunner().invoke(cli, ["deploy", "streaming", "--lab", "zz", "--json"])
    assert result.exit_code == 2, result.output
    assert "not in the artifact cache" in result.output
    assert "artifacts fetch streaming" in result.output
    lab_state = isolated_dirs / "state"
    assert not any(lab_state.rglob("zz*")), list(lab_state.rglob("*"))
