"""Run one anl-stack command per commune of a fleet, ``parallel`` communes at a time.

Each commune runs in its own process, ``anl-stack ACTION PLUGINS -i
COMMUNE --json``: its own inventory, vault, settings and run folder, and a
failure (or a crash) stays inside it, so the other communes go on. What the
process prints is kept in the fleet's run folder (``<fleet>/.anl-stack/
fleet-runs/<date>-<action>/<commune>.stdout|.stderr``) and its last JSON
object read as the commune's summary.

Exit code of the fleet: 0 when every commune succeeded; 2 only when every
commune was refused (exit 2: nothing was touched anywhere); 1 otherwise
(a commune failed, or was refused while others ran); 130 on Ctrl-C, after
the running communes were stopped.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anl_stack.core.errors import ErrorRecord, ExitCode
from anl_stack.core.files import ensure_folder
from anl_stack.core.i18n import N_, child_locale_env
from anl_stack.fleet.communes import FLEET_STATE, Commune

#: The outcome of one commune, from its exit code.
OK, FAILED, REFUSED, INTERRUPTED = N_("ok"), N_("failed"), N_("refused"), N_("interrupted")
#: Lines of a commune's error output kept in the summary (the whole output stays in its file).
ERROR_LINES = 5


@dataclass
class CommuneResult:
    commune: str
    exit_code: int
    elapsed: float
    stdout: Path
    stderr: Path
    summary: dict[str, Any] | None = None
    message: str = ""
    #: What the commune ran, after ``anl-stack`` (the fleet's command, its inventory, --json).
    command: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        if self.exit_code == ExitCode.OK:
            return OK
        if self.exit_code == ExitCode.REFUSED:
            return REFUSED
        if self.exit_code == ExitCode.INTERRUPTED:
            return INTERRUPTED
        return FAILED

    def to_dict(self, root: Path) -> dict[str, Any]:
        return {"commune": self.commune, "outcome": self.outcome, "exit_code": self.exit_code,
                "elapsed_s": round(self.elapsed, 1), "command": self.command, "summary": self.summary,
                "message": self.message,
                "stdout": str(self.stdout.relative_to(root)), "stderr": str(self.stderr.relative_to(root))}


@dataclass
class FleetResult:
    root: Path
    action: str
    folder: Path
    results: list[CommuneResult] = field(default_factory=list)
    skipped: list[ErrorRecord] = field(default_factory=list)
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return int(ExitCode.INTERRUPTED)
        codes = [r.exit_code for r in self.results]
        if all(code == ExitCode.OK for code in codes):
            return int(ExitCode.OK)
        if all(code == ExitCode.REFUSED for code in codes):
            return int(ExitCode.REFUSED)
        return int(ExitCode.FAILED)

    def counts(self) -> dict[str, int]:
        out = {OK: 0, FAILED: 0, REFUSED: 0, INTERRUPTED: 0}
        for r in self.results:
            out[r.outcome] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"fleet": str(self.root), "action": self.action, "folder": str(self.folder),
                "exit_code": self.exit_code, "counts": self.counts(),
                "communes": [r.to_dict(self.folder) for r in sorted(self.results, key=lambda r: r.commune)],
                "skipped": [s.to_dict() for s in self.skipped]}


def _last_json(text: str) -> dict[str, Any] | None:
    """The last JSON object a command printed on a line of its own (its summary)."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return None


def _whole_json(text: str) -> dict[str, Any] | None:
    """A command that prints one indented JSON document (verify --json)."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class _Children:
    """The commune processes running now, so that Ctrl-C stops each of them (its whole process group)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[bytes]] = set()
        self.stopping = threading.Event()

    def add(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._running.add(proc)

    def remove(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._running.discard(proc)

    def interrupt(self) -> None:
        self.stopping.set()
        with self._lock:
            for proc in self._running:
                try:
                    os.killpg(proc.pid, signal.SIGINT)  # anl-stack stops its Ansible run cleanly on SIGINT
                except ProcessLookupError:
                    pass


def _run_commune(commune: Commune, command: Sequence[str], folder: Path, children: _Children) -> CommuneResult:
    stdout, stderr = folder / f"{commune.name}.stdout", folder / f"{commune.name}.stderr"
    started = time.monotonic()
    argv = [sys.executable, "-m", "anl_stack", *command, "-i", str(commune.inventory), "--json"]
    with stdout.open("wb") as out, stderr.open("wb") as err:
        if children.stopping.is_set():
            return CommuneResult(commune.name, int(ExitCode.INTERRUPTED), 0.0, stdout, stderr, command=argv[3:])
        # A process group of its own: Ctrl-C in the terminal reaches the fleet, which stops each commune.
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=child_locale_env(),
                                start_new_session=True)
        children.add(proc)
        try:
            code = proc.wait()
        finally:
            children.remove(proc)
    text = stdout.read_text(encoding="utf-8", errors="replace")
    errors = [line for line in stderr.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    summary = _last_json(text) if command[0] != "verify" else (_whole_json(text) or _last_json(text))
    message = ""
    if code != ExitCode.OK:
        lines = _error_lines(summary) + errors
        message = "\n".join(lines[-ERROR_LINES:])
    return CommuneResult(commune.name, code, time.monotonic() - started, stdout, stderr, summary, message,
                         argv[3:])


def _error_lines(summary: dict[str, Any] | None) -> list[str]:
    """The errors a command reported in its JSON output (with --json, refusals are printed there)."""
    found = []
    for entry in (summary or {}).get("errors", []) or []:
        if isinstance(entry, dict) and entry.get("message"):
            fields = {k: entry.get(k) for k in ("message", "file", "line", "key", "expected")}
            found.append(ErrorRecord(**fields).format())  # type: ignore[arg-type]
    return found


def new_fleet_folder(root: Path, action: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    runs = root / FLEET_STATE / "fleet-runs"
    folder, suffix = runs / f"{stamp}-{action}", 1
    while folder.exists():
        suffix += 1
        folder = runs / f"{stamp}-{action}-{suffix}"
    ensure_folder(folder, root=root, mode=0o700)
    return folder


def run_fleet(root: Path, communes: Sequence[Commune], command: Sequence[str], *, parallel: int,
              skipped: Sequence[ErrorRecord] = (),
              progress: Callable[[str, CommuneResult | None], None] | None = None) -> FleetResult:
    """Run ``anl-stack COMMAND -i COMMUNE --json`` for each commune, ``parallel`` at a time.

    ``command`` is the action and its arguments (``["deploy", "streaming", "--tags", "stack"]``);
    ``progress(commune, None)`` is called when a commune starts, ``progress(commune, result)`` when it ends.
    """
    folder = new_fleet_folder(root, command[0])
    result = FleetResult(root, command[0], folder, skipped=list(skipped))
    children = _Children()
    report = progress or (lambda _commune, _result: None)

    def one(commune: Commune) -> CommuneResult:
        if not children.stopping.is_set():
            report(commune.name, None)
        return _run_commune(commune, command, folder, children)

    pool = ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="commune")
    try:
        futures = [pool.submit(one, commune) for commune in communes]
        for future in as_completed(futures):
            done = future.result()
            result.results.append(done)
            report(done.commune, done)
    except KeyboardInterrupt:
        result.interrupted = True
        children.interrupt()
        for future in futures:
            future.cancel()
        pool.shutdown(wait=True)
        result.results = [f.result() for f in futures if f.done() and not f.cancelled()]
    finally:
        pool.shutdown(wait=True)
    (folder / "summary.json").write_text(json.dumps(result.to_dict(), ensure_ascii=False, indent=2) + "\n",
                                         encoding="utf-8")
    return result
