"""``anl-stack upgrade``'s read-only checks (tag precheck) before its pre-upgrade backup.

The run of the upgrade step limited to the tag is replaced here by the result it
would give (the lab modules of peertube and mastodon run it for real): a failed
check that changed nothing refuses (exit 2) with its message; a check that
changed something, or an unreachable host, is a failure (exit 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from anl_stack.core.errors import AnlError, ErrorRecord, ExitCode
from anl_stack.deploy import upgrade
from anl_stack.deploy.engine import Result, RunReport
from anl_stack.deploy.events import RunModel, TaskChange
from anl_stack.plugin_api import PRECHECK_TAG


def result(tmp_path: Path, *, errors: list[dict[str, Any]] | None = None, changed: bool = False) -> Result:
    model = RunModel()
    errors = list(errors or [])
    model.errors = errors
    if changed:
        model.changes.append(TaskChange("h1", "a check that wrote a file", None))
    code = ExitCode.FAILED if errors or changed else ExitCode.OK
    return Result(["demo"], [RunReport("upgrade-precheck", tmp_path, model, "failed" if errors else "successful",
                                       2 if errors else 0, False)], exit_code=code,
                  records=[ErrorRecord(f"{e['task']}: {e['message']}") for e in errors])


def run(monkeypatch: pytest.MonkeyPatch, outcome: Result) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def fake(plugin: str, step: str, **kwargs: Any) -> tuple[None, Result]:
        seen.append({"plugin": plugin, "step": step, **kwargs})
        return None, outcome

    monkeypatch.setattr(upgrade, "run_lifecycle_step", fake)
    upgrade.refuse_by_precheck("demo", {"lab_name": "h1"}, display=upgrade.quiet_display)
    return seen


def test_passing_checks_let_the_upgrade_go_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (call,) = run(monkeypatch, result(tmp_path))
    assert call["step"] == "upgrade" and call["tags"] == PRECHECK_TAG and call["kind"] == "upgrade-precheck"


def test_a_failed_check_refuses_with_its_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    failed = result(tmp_path, errors=[{"host": "h1", "task": "Refuse a skipped series", "message": "go via 4.6"}])
    with pytest.raises(AnlError) as refused:
        run(monkeypatch, failed)
    assert refused.value.exit_code == ExitCode.REFUSED
    (record,) = refused.value.records
    assert record.message == "upgrade of demo refused on h1 before any change: go via 4.6"
    assert record.key == "Refuse a skipped series" and record.file == str(tmp_path / "log")


@pytest.mark.parametrize("kind", ["changed", "unreachable"])
def test_a_check_that_changed_something_or_an_unreachable_host_is_a_failure(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kind: str) -> None:
    error = {"host": "h1", "task": "t", "message": "m", **({"unreachable": True} if kind == "unreachable" else {})}
    with pytest.raises(AnlError) as failed:
        run(monkeypatch, result(tmp_path, errors=[error], changed=kind == "changed"))
    assert failed.value.exit_code == ExitCode.FAILED
