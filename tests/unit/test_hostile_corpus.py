"""The hostile-input corpus (tests/hostile): each input refused with exit 2, bounded, harmless.

Each case runs as a real ``anl-stack`` process (forked by tests/hostile/driver.py
from one interpreter that imported anl-stack once) under resource limits:
1 GiB of address space, 60 s of CPU, files of at most 64 MiB, no core file.
A case that needs more memory or time than that fails here, whatever the
clock says. Its HOME, XDG folders, TMPDIR and anl-stack folders are inside
its temporary folder; hostile links and paths aim at a sibling ``outside``
folder, which must come out unchanged.

For each case: exit code 2; no traceback; an error record (``--json``)
naming the case's file and key; the planted secret never printed; nothing
created or changed outside the case's folders (nor in the project's plugins
and inventories, nor in the user's real anl-stack folders); and the files the
case names as absent (a ``.part``, an orphan password file) do not exist.
"""

from __future__ import annotations

import glob
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.hostile.corpus import CASES
from tests.hostile.model import PROJECT, SECRET, TEST_PLUGINS, Case, Where, outside_files, undo_unwritable
from tests.unit.conftest import STARTING_ENVIRONMENT

LIMITS = {"RLIMIT_AS": 1 << 30, "RLIMIT_CPU": 60, "RLIMIT_FSIZE": 64 << 20, "RLIMIT_CORE": 0}
BY_NAME = {case.name: case for case in CASES}


def _environment(where: Where) -> dict[str, str]:
    home = where.home
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local" / "state"), "XDG_DATA_HOME": str(home / ".local" / "share"),
        "TMPDIR": str(home / "tmp"), "ANL_STACK_CONFIG_DIR": str(home / "config"),
        "ANL_STACK_CACHE_DIR": str(home / "cache"), "ANL_STACK_STATE_DIR": str(home / "state"),
        "ANL_STACK_PLUGINS_PATH": os.pathsep.join([str(TEST_PLUGINS), str(where.plugins)]),
    }


def _watched() -> list[dict[str, str]]:
    """Places no case may touch: the project's plugins and inventories, the user's real anl-stack folders."""
    real_home = Path(STARTING_ENVIRONMENT.get("HOME", "/root"))
    places = [PROJECT / "plugins", PROJECT / "inventories", TEST_PLUGINS, PROJECT / "tests" / "data",
              real_home / ".config" / "anl-stack", real_home / ".cache" / "anl-stack",
              real_home / ".local" / "state" / "anl-stack"]
    return [{"path": str(p), "mode": "tree"} for p in places]


def _driver_limits() -> None:
    # The driver itself, and so every case it forks, starts under the same bounds.
    for name, value in LIMITS.items():
        resource.setrlimit(getattr(resource, name), (value, value + 5 if name == "RLIMIT_CPU" else value))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("hostile")
    jobs = []
    try:
        for case in CASES:
            where = Where(base / case.name)
            for folder in (where.case, where.plugins, where.home / "tmp", where.outside):
                folder.mkdir(parents=True, exist_ok=True)
            outside_files(where)
            case.build(where)
            argv = [where.fill(a) for a in case.argv]
            jobs.append({
                "name": case.name, "argv": argv if "--json" in argv else [*argv, "--json"],
                "env": _environment(where), "cwd": str(where.case), "limits": {**LIMITS, **case.limits},
                "stdout": str(base / f"{case.name}.out"), "stderr": str(base / f"{case.name}.err"),
                "watch": [{"path": str(where.outside), "mode": "tree"}, {"path": str(where.root), "mode": "names"}],
            })
        job_file, results_file = base / "job.json", base / "results.json"
        job_file.write_text(json.dumps({"cases": jobs, "jobs": 2, "watch": _watched()}))
        subprocess.run([sys.executable, "-m", "tests.hostile.driver", str(job_file), str(results_file)],
                       cwd=PROJECT, preexec_fn=_driver_limits, check=True, timeout=1800)
        results = json.loads(results_file.read_text())
    finally:
        undo_unwritable()
    return {"base": base, "results": results}


def test_corpus_is_large_and_every_case_distinct() -> None:
    assert len(CASES) >= 150
    assert len(BY_NAME) == len(CASES), "two cases share a name"


def _records(stdout: str) -> list[dict[str, Any]]:
    for line in stdout.splitlines():
        if line.startswith('{"error"'):
            return json.loads(line)["errors"]
    return []


def _same_file(recorded: str | None, expected: str) -> bool:
    if not recorded:
        return False
    def norm(path: str) -> str:
        return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
    return norm(recorded) == norm(expected)


def _key_matches(recorded: str | None, expected: str) -> bool:
    if expected.endswith("..."):  # a path given by its first levels
        return bool(recorded) and recorded.startswith(expected[:-3])
    return recorded == expected


@pytest.mark.parametrize("name", list(BY_NAME))
def test_hostile_input_is_refused(name: str, corpus: dict[str, Any]) -> None:
    case: Case = BY_NAME[name]
    where = Where(corpus["base"] / name)
    result = corpus["results"][name]
    stdout = (corpus["base"] / f"{name}.out").read_text(errors="replace")
    stderr = (corpus["base"] / f"{name}.err").read_text(errors="replace")
    shown = f"exit {result['exit_code']}, cpu {result['cpu_seconds']} s\nstdout: {stdout[-3000:]}\nstderr: {stderr[-3000:]}"
    assert result["exit_code"] == 2, shown
    assert "Traceback" not in stdout + stderr, shown
    assert SECRET.strip() not in stdout + stderr, "the planted secret was printed"
    records = _records(stdout)
    assert records and all(r["message"] for r in records), shown
    if case.file is not None:
        records = [r for r in records if _same_file(r["file"], where.fill(case.file))]
        assert records, f"no error names {where.fill(case.file)}\n{shown}"
    if case.key is not None:
        records = [r for r in records if _key_matches(r["key"], case.key)]
        assert records, f"no error names the key {case.key}\n{shown}"
    if case.text is not None:
        assert any(case.text in r["message"] for r in records), f"no message holds {case.text!r}\n{shown}"
    if case.line:
        assert any(r["line"] for r in records), f"no line given\n{shown}"
    assert result["changed"] == [], f"written outside the case's folders: {result['changed']}"
    for pattern in case.absent:
        assert not glob.glob(where.fill(pattern), include_hidden=True, recursive=True), f"left behind: {pattern}"
