"""Runs of any lifecycle step: ansible-runner in a fresh private data dir.

execute: run the step, whose first play (the release gate,
anl_stack.deploy.release_gate) reads each host's Debian release and stops
the run before any change where a host cannot run it (refused, exit 2),
with events fed to a run model and to the caller's display -> a run folder
with log, events.jsonl and summary.json -> optional idempotence re-run
(nothing may change).

Secrets reach Ansible only through the encrypted ``vault.yml`` and the
vault password file; what we write (log, events, summary) is also scrubbed
of every secret value as a second line of defence.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets as pysecrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from anl_stack.adapters import runner
from anl_stack.core.errors import ErrorRecord, ExitCode
from anl_stack.core.files import ensure_folder, new_file, write_file
from anl_stack.core.i18n import _
from anl_stack.deploy import recipes, release_gate, replay
from anl_stack.deploy.events import DisplayFactory, RunModel, is_censored, quiet_display
from anl_stack.deploy.prepare import Prepared
from anl_stack.inventory.model import InventoryPaths
from anl_stack.plugin_api import GENERATED_INVENTORY
from anl_stack.plugins.digest import content_digest


@dataclass
class Options:
    limit: str | None = None
    tags: str | None = None
    skip_tags: str | None = None
    idempotence: bool = False
    check: bool = False
    #: run kind shown and recorded (default: plan or deploy); e.g. a lifecycle step name
    kind: str | None = None
    #: copy the ansible-runner private data dir here before removing it (tests)
    keep_runner_dir: Path | None = None
    #: how the caller shows progress (the CLI's displays); silent by default
    display: DisplayFactory = quiet_display
    #: also called with every event (to read a task's result, e.g. the snapshots a host lists)
    on_event: Callable[[dict[str, Any]], None] | None = None


@dataclass
class RunReport:
    kind: str                    # plan | deploy | idempotence
    folder: Path
    model: RunModel
    status: str
    rc: int | None
    canceled: bool

    @property
    def failed_hosts(self) -> list[str]:
        return sorted(h.name for h in self.model.hosts.values() if h.failed or h.unreachable)


@dataclass
class Result:
    """Everything a command prints and its exit code."""

    plugins: list[str]
    reports: list[RunReport] = field(default_factory=list)
    generated_secrets: list[str] = field(default_factory=list)
    exit_code: ExitCode = ExitCode.OK
    records: list[ErrorRecord] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "summary": True,
            "plugins": self.plugins,
            "exit_code": int(self.exit_code),
            "generated_secrets": self.generated_secrets,
            "runs": [
                {"kind": r.kind, "folder": str(r.folder), "status": r.status, "canceled": r.canceled,
                 **r.model.summary()}
                for r in self.reports
            ],
            "errors": [r.to_dict() for r in self.records],
        }


def new_run_folder(paths: InventoryPaths, kind: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = paths.runs / f"{stamp}-{kind}-{pysecrets.token_hex(3)}"
    ensure_folder(folder, root=paths.root, mode=0o700)
    return folder


def run_once(prep: Prepared, kind: str, options: Options, stop: threading.Event) -> RunReport:
    folder = new_run_folder(prep.target.paths, kind)
    model = RunModel(check_mode=options.check)
    display = options.display(model)
    cmdline = ["--diff"] + (["--check"] if options.check else [])
    request = runner.RunRequest(
        inventories=[prep.target.paths.root, Path(GENERATED_INVENTORY)], envvars=prep.env,
        playbook=Path("project/site.yml"), files=prep.files, cmdline=cmdline,
        limit=options.limit, tags=options.tags, skip_tags=options.skip_tags,
    )
    keep = options.keep_runner_dir / kind if options.keep_runner_dir else None
    with new_file(folder / "events.jsonl", mode=0o600) as events_file:

        def on_event(event: dict[str, Any]) -> None:
            # Masked first: the model's error messages, every display and the caller see no secret.
            event = prep.scrub.data(event)
            model.feed(event)
            display.event(event)
            if options.on_event is not None:
                options.on_event(event)
            stored = dict(event)
            if is_censored(event):
                stored.pop("stdout", None)
            events_file.write(prep.scrub(json.dumps(stored, default=str, ensure_ascii=False)) + "\n")

        with display:
            outcome = runner.run(request, on_event, stop=stop, tick=display.tick, keep_dir=keep)
    write_file(folder / "log", prep.scrub(outcome.stdout), mode=0o600)
    replay.write(folder, root=prep.target.paths.root, files=prep.files, env=prep.env,
                 inventory=prep.target.paths.root, scrub=prep.scrub,
                 options=replay.options_of(cmdline, limit=options.limit, tags=options.tags,
                                           skip_tags=options.skip_tags))
    report = RunReport(kind, folder, model, outcome.status, outcome.rc, outcome.canceled)
    summary = {"kind": kind, "plugins": [p.name for p in prep.plugins], "inventory": str(prep.target.paths.root),
               "status": outcome.status, "rc": outcome.rc, "canceled": outcome.canceled,
               "check_mode": options.check, "limit": options.limit, "tags": options.tags,
               "skip_tags": options.skip_tags, "digests": _digests(prep.plugins), **model.summary()}
    write_file(folder / "summary.json", prep.scrub(json.dumps(summary, indent=2, default=str)), mode=0o600)
    return report


def _digests(plugins: list[Any]) -> dict[str, str]:
    """Content digest of each plugin run: what makes a run summary evidence (plugins evidence)."""
    return {p.name: content_digest(Path(p.path)) for p in plugins}


def execute(prep: Prepared, options: Options, *, stop: threading.Event | None = None) -> Result:
    """Plan or deploy (and re-run for idempotence); a host the release gate refuses stops the run
    before any change (AnlError, exit 2)."""
    stop = stop or threading.Event()
    result = Result([p.name for p in prep.plugins], generated_secrets=prep.generated_secrets)
    kind = options.kind or ("plan" if options.check else "deploy")
    gate = release_gate.GateWatch()
    first = run_once(prep, kind, replace(options, on_event=_both(gate, options.on_event)), stop)
    result.reports.append(first)
    if first.canceled:
        result.exit_code = ExitCode.INTERRUPTED
        result.records.append(ErrorRecord(interrupted_message(first)))
        return result
    release_gate.raise_refusal(gate, prep.inventory, prep.plugins, prep.hosts)
    # In check mode ansible-playbook also fails where a task depends on an earlier change.
    planned_around = options.check and any(h.depends for h in first.model.hosts.values())
    bad_status = first.status != "successful" and not planned_around
    if first.failed_hosts or first.model.errors or first.model.no_hosts_matched or bad_status:
        result.exit_code = ExitCode.FAILED
        result.records += [ErrorRecord(f"{e['task']}: {e['message']}", str(first.folder / "log"), None, e["host"],
                                       None) for e in first.model.errors]
        if first.model.no_hosts_matched:
            result.records.append(ErrorRecord(_("no host matched (check --limit)"), key="--limit"))
        if not result.records:
            ended = _("ansible-playbook ended with status {status} (rc {rc})").format(status=first.status, rc=first.rc)
            result.records.append(ErrorRecord(ended, str(first.folder / "log")))
        return result
    if kind == "deploy":
        # What the hosts now run, kept for an upgrade's rollback (anl_stack.deploy.recipes).
        for plugin in prep.plugins:
            recipes.keep(prep.target.paths, plugin, [h for h in prep.hosts if h in prep.inventory.groups.get(
                plugin.name, [])])
    if options.idempotence and not options.check:
        second = run_once(prep, "idempotence", options, stop)
        result.reports.append(second)
        if second.canceled:
            result.exit_code = ExitCode.INTERRUPTED
            result.records.append(ErrorRecord(interrupted_message(second)))
            return result
        changed = [c for c in second.model.changes]
        if changed or second.failed_hosts or second.status != "successful":
            result.exit_code = ExitCode.FAILED
            result.records += [ErrorRecord(_("changed on the second run (not idempotent)"), str(second.folder / "log"),
                                           None, f"{c.host}: {c.label}") for c in changed]
            result.records += [ErrorRecord(f"{e['task']}: {e['message']}", str(second.folder / "log"), None,
                                           e["host"]) for e in second.model.errors]
    return result


def _both(first: Callable[[dict[str, Any]], None],
          second: Callable[[dict[str, Any]], None] | None) -> Callable[[dict[str, Any]], None]:
    def on_event(event: dict[str, Any]) -> None:
        first(event)
        if second is not None:
            second(event)
    return on_event


def interrupted_message(report: RunReport) -> str:
    m = report.model
    changed = sorted({c.label for c in m.changes if not c.depends_on_earlier})
    done = _("interrupted during task {task!r} after {count} task(s)").format(task=m.task, count=m.tasks_done)
    what = (_("changed so far: {tasks}").format(tasks=", ".join(changed)) if changed
            else _("nothing was changed yet"))
    again = _("run the same command again to converge (log: {folder})").format(folder=report.folder)
    return f"{done}; {what}; {again}"

