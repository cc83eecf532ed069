"""ansible-runner, used the way its pitfalls require (see docs/architecture.md, "A run").

- ``run_async`` with a fresh private data dir per run (files under ``env/``
  are written only if absent, so a reused folder keeps stale values);
- inventories as absolute paths (relative ones resolve against the
  runner's project folder);
- no secrets as extravars or envvars (both land on disk or on the command
  line): Ansible reads the encrypted vault itself, we pass only the
  password file's path;
- our own ``cancel_callback`` (otherwise ansible-runner installs SIGINT
  handlers it never restores), and we restore the previous handlers;
- an event handler that only enqueues and returns True (returning False
  loses stats; a slow handler stalls the pexpect loop).
"""

from __future__ import annotations

import os
import queue
import shlex
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anl_stack.core.i18n import CHILD_LOCALE_VARS


@dataclass
class RunRequest:
    """One ansible-playbook (or ad-hoc module) run."""

    #: absolute paths, or paths relative to the private data dir for generated files
    inventories: list[Path]
    envvars: dict[str, str]
    playbook: Path | None = None
    module: str | None = None
    module_args: str | None = None
    host_pattern: str | None = None
    cmdline: list[str] = field(default_factory=list)
    limit: str | None = None
    tags: str | None = None
    skip_tags: str | None = None
    forks: int | None = None
    #: files to place in the private data dir before the run (relative path -> text)
    files: dict[str, str] = field(default_factory=dict)


@dataclass
class RunOutcome:
    status: str                  # successful | failed | canceled | timeout
    rc: int | None
    stats: dict[str, Any] | None
    stdout: str
    canceled: bool


@contextmanager
def _interrupt_sets(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C / SIGTERM set ``stop`` (ansible-runner then kills the run); handlers restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _descendants(root: int) -> list[int]:
    """Every live descendant of ``root`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    out: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


class _Canceller:
    """Our cancel callback. ansible-runner kills only ansible-playbook's process
    group, but Ansible's workers call setsid() and would survive it, finishing
    their task unattended: stop them too."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.doomed: list[int] = []

    def __call__(self) -> bool:
        if not self.stop.is_set():
            return False
        if not self.doomed:
            self.doomed = _descendants(os.getpid())
            for pid in self.doomed:
                try:
                    os.kill(pid, signal.SIGTERM)
                except OSError:
                    pass
        return True

    def finish(self) -> None:
        time.sleep(0.2 if self.doomed else 0)
        for pid in self.doomed:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _absolute(paths: list[Path], private: Path) -> list[str]:
    # Relative entries name files generated into the private data dir.
    return [str(p if Path(p).is_absolute() else private / p) for p in paths]


def run(request: RunRequest, on_event: Callable[[dict[str, Any]], None], *,
        stop: threading.Event | None = None, tick: Callable[[], None] | None = None,
        keep_dir: Path | None = None) -> RunOutcome:
    """Run in a fresh private data dir; call ``on_event`` for each event, in the calling thread.

    ``tick`` is called about 4 times a second (to refresh an elapsed-time
    display). With ``keep_dir``, the private data dir is copied there
    before being removed (tests inspect ansible-runner's artifacts).
    """
    import ansible_runner  # lazily: heavy, and the CLI must start fast

    stop = stop or threading.Event()
    events: queue.Queue[dict[str, Any]] = queue.Queue()

    def handler(event: dict[str, Any]) -> bool:
        events.put_nowait(event)
        return True

    canceller = _Canceller(stop)
    private = Path(tempfile.mkdtemp(prefix="anl-run-"))
    try:
        for relative, text in request.files.items():
            target = private / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        kwargs: dict[str, Any] = dict(
            private_data_dir=str(private),
            inventory=_absolute(request.inventories, private),
            # ansible-runner adds os.environ: a locale missing here would stop Ansible (core/i18n.py).
            envvars={**request.envvars, **CHILD_LOCALE_VARS},
            quiet=True,
            event_handler=handler,
            cancel_callback=canceller,
            cmdline=" ".join(_quote(a) for a in request.cmdline) or None,
            limit=request.limit,
            tags=request.tags,
            skip_tags=request.skip_tags,
            forks=request.forks,
            settings={"suppress_ansible_output": True},
        )
        if request.playbook is not None:
            playbook = Path(request.playbook)
            kwargs["playbook"] = str(playbook if playbook.is_absolute() else private / playbook)
        else:
            kwargs.update(module=request.module, module_args=request.module_args,
                          host_pattern=request.host_pattern or "all")
        with _interrupt_sets(stop):
            thread, runner = ansible_runner.run_async(**kwargs)
            while thread.is_alive() or not events.empty():
                try:
                    on_event(events.get(timeout=0.25))
                    while True:
                        on_event(events.get_nowait())
                except queue.Empty:
                    pass
                if tick:
                    tick()
            thread.join()
            canceller.finish()
        stdout = ""
        try:
            stdout = runner.stdout.read()
        except (OSError, ValueError, AttributeError):
            pass
        stats = None
        try:
            stats = runner.stats
        except Exception:  # noqa: BLE001 - stats are best effort after a cancel
            stats = None
        outcome = RunOutcome(str(runner.status), runner.rc, stats, stdout, stop.is_set() or runner.status == "canceled")
        if keep_dir is not None:
            shutil.copytree(private, keep_dir, dirs_exist_ok=True, symlinks=True)
        return outcome
    finally:
        shutil.rmtree(private, ignore_errors=True)
        time.sleep(0)  # let ansible-runner's thread finish closing files


def _quote(arg: str) -> str:
    return shlex.quote(arg)
