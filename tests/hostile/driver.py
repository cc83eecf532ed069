"""Run hostile cases as real ``anl-stack`` processes, each under its own resource limits.

``python -m tests.hostile.driver JOB.json RESULTS.json``. The driver imports
anl-stack once, then forks one child per case: the child is a fresh process
(its own exit code, its own memory and CPU limits, its own environment and
folder) that runs ``python -m anl_stack ARGS`` as the command line would
(``runpy`` on the package's ``__main__``), with stdout and stderr in files.
An exception that escapes is printed as Python prints it, so a traceback
shows. Forking saves the interpreter start and imports per case (most of the
cost of a refused command), which keeps a corpus of hundreds of cases fast.

Around each case the driver takes a snapshot of the places it watches (the
case's ``outside`` folder, the entries of its temporary folder, the project's
plugin and inventory folders, the user's real anl-stack folders) and reports
what changed.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import runpy
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

#: Imported before forking: what most commands need (pydantic models, discovery, the CLI).
PRELOAD = ("anl_stack.cli", "anl_stack.cli.inventory_cmd", "anl_stack.cli.deploy_cmd", "anl_stack.cli.plugins_cmd",
           "anl_stack.cli.artifacts_cmd", "anl_stack.cli.verify_cmd", "anl_stack.cli.secrets_cmd",
           "anl_stack.plugins.manifest", "anl_stack.inventory.check", "anl_stack.deploy.prepare",
           "anl_stack.artifacts.bundle", "anl_stack.catalog.fiche", "anl_stack.plugins.check")


IGNORED = {"__pycache__", ".pytest_cache"}


def snapshot(watch: list[dict[str, str]]) -> dict[str, Any]:
    """Per watched path: its entries (``names``) or every entry below it with times and sizes (``tree``)."""
    out: dict[str, Any] = {}
    for item in watch:
        path = Path(item["path"])
        if not path.exists() and not path.is_symlink():
            out[str(path)] = None
        elif item["mode"] == "names":
            out[str(path)] = sorted(os.listdir(path))
        elif path.is_dir() and not path.is_symlink():
            entries = {}
            for current, dirs, files in os.walk(path):
                # Bytecode caches come and go with other tests' imports: not a write of the case.
                dirs[:] = [d for d in dirs if d not in IGNORED]
                for name in dirs + [f for f in files if not f.endswith(".pyc")]:
                    full = os.path.join(current, name)
                    st = os.lstat(full)
                    entries[os.path.relpath(full, path)] = [st.st_mtime_ns, st.st_size, st.st_mode]
            out[str(path)] = entries
        else:
            st = os.lstat(path)
            out[str(path)] = [st.st_mtime_ns, st.st_size, st.st_mode]
    return out


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    found = []
    for path, was in before.items():
        now = after.get(path)
        if was == now:
            continue
        if isinstance(was, dict) and isinstance(now, dict):
            for rel in sorted(set(was) | set(now)):
                if was.get(rel) != now.get(rel):
                    found.append(f"{path}/{rel}: {'created' if rel not in was else 'removed' if rel not in now else 'changed'}")
        elif isinstance(was, list) and isinstance(now, list) and all(isinstance(n, str) for n in was + now):
            found += [f"{path}/{n}: created" for n in sorted(set(now) - set(was))]
            found += [f"{path}/{n}: removed" for n in sorted(set(was) - set(now))]
        else:
            found.append(f"{path}: {'created' if was is None else 'changed'}")
    return found


def _child(case: dict[str, Any]) -> None:
    """Become ``anl-stack ARGS`` for one case; never returns."""
    code: int = 1
    try:
        for fd, name in ((1, "stdout"), (2, "stderr")):
            target = os.open(case[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(target, fd)
            os.close(target)
        os.chdir(case["cwd"])
        os.environ.clear()
        os.environ.update(case["env"])
        tempfile.tempdir = None  # the parent's choice must not outlive its TMPDIR
        for name, value in case["limits"].items():
            soft = hard = value
            if name == "RLIMIT_CPU":
                hard = value + 5  # the soft limit sends SIGXCPU first
            resource.setrlimit(getattr(resource, name), (soft, hard))
        sys.argv = ["anl-stack", *case["argv"]]
        try:
            runpy.run_module("anl_stack", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as stop:
            if stop.code is None or isinstance(stop.code, int):
                code = stop.code or 0
            else:
                print(stop.code, file=sys.stderr)
                code = 1
        except BaseException:  # noqa: BLE001 - printed as Python would, so the harness sees a traceback
            traceback.print_exc()
            code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - a full disk must not hide the exit code
                pass
        os._exit(code)


def run(job: dict[str, Any]) -> dict[str, Any]:
    for module in PRELOAD:
        importlib.import_module(module)
    results: dict[str, Any] = {}
    pending = list(job["cases"])
    running: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
    while pending or running:
        while pending and len(running) < job.get("jobs", 1):
            case = pending.pop(0)
            before = snapshot(case["watch"] + job["watch"])
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(case)
            running[pid] = (case, before)
        pid, status, usage = os.wait4(-1, 0)
        case, before = running.pop(pid)
        results[case["name"]] = {
            "exit_code": os.waitstatus_to_exitcode(status),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
            "max_rss_kb": usage.ru_maxrss,
            "changed": changes(before, snapshot(case["watch"] + job["watch"])),
        }
    return results


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        job_data = json.load(handle)
    outcome = run(job_data)
    with open(sys.argv[2], "w", encoding="utf-8") as handle:
        json.dump(outcome, handle, indent=1)
