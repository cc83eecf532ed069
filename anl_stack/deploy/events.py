"""What a run is doing: ansible-runner events reduced to a model.

The reducer is pure (events in, model out) so it is tested without Ansible.
In check mode, a failure that follows an earlier change on the same host
(a service not installed yet, a file not written yet) is classified as
"depends on earlier changes", not as an error.
"""

from __future__ import annotations

import difflib
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

CENSORED_MARK = "the output has been hidden"

HOST_EVENTS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
}


@dataclass
class HostState:
    name: str
    state: str = "waiting"          # waiting | running | ok | changed | failed | unreachable | skipped
    task: str = ""
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    depends: int = 0                # check mode: tasks that depend on earlier changes
    messages: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"ok": self.ok, "changed": self.changed, "failed": self.failed,
                "unreachable": self.unreachable, "skipped": self.skipped}


@dataclass
class TaskChange:
    host: str
    task: str
    role: str | None
    diff: str = ""
    censored: bool = False
    depends_on_earlier: bool = False
    handler: bool = False

    @property
    def label(self) -> str:
        return f"{self.role} : {self.task}" if self.role else self.task


def is_censored(event: dict[str, Any]) -> bool:
    res = (event.get("event_data") or {}).get("res") or {}
    text = json.dumps(res, default=str) if res else ""
    return CENSORED_MARK in text or bool(res.get("censored"))


def _diff_text(res: dict[str, Any]) -> str:
    diffs = res.get("diff")
    if not diffs:
        return ""
    out: list[str] = []
    for diff in diffs if isinstance(diffs, list) else [diffs]:
        if not isinstance(diff, dict):
            continue
        if diff.get("prepared"):
            out.append(str(diff["prepared"]).rstrip())
        before, after = diff.get("before"), diff.get("after")
        if isinstance(before, str) and isinstance(after, str):
            name_b = diff.get("before_header", "before")
            name_a = diff.get("after_header", "after")
            out.append("".join(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                                    str(name_b), str(name_a))).rstrip())
        elif before != after and (before or after):
            out.append(f"- {before}\n+ {after}")
    return "\n".join(o for o in out if o)


#: Check-mode failures that only mean "an earlier step has not run": on a
#: fresh host the package lists are empty until the (skipped) apt update.
_CHECK_MODE_PREREQUISITES = (
    ("apt", "No package matching"),
    ("apt", "has no installation candidate"),
    ("service", "Could not find the requested service"),
    ("systemd", "Could not find the requested service"),
)


def needs_earlier_change(data: dict[str, Any], res: dict[str, Any]) -> bool:
    action = str(data.get("resolved_action") or data.get("task_action") or "").rsplit(".", 1)[-1]
    message = str(res.get("msg") or "")
    return any(action == a and text in message for a, text in _CHECK_MODE_PREREQUISITES)


#: Ansible's messages that say a task failed but not why: the cause is in its output.
_GENERIC_FAILURES = ("non-zero return code", "module failure", "all items completed",
                     "one or more items failed", "failed")
_CAUSE_LENGTH = 400


def failure_cause(res: dict[str, Any]) -> str:
    """What a failed task's result says went wrong: its message, with the output's last lines
    when the message is only "non-zero return code" or the like (certbot's name resolution
    error, apt's missing package...), and the first failed item of a loop."""
    items = [r for r in res.get("results") or [] if isinstance(r, dict) and r.get("failed")]
    if items and not res.get("stderr") and not res.get("stdout"):
        inner = failure_cause(items[0])
        label = items[0].get("item")
        return f"{label}: {inner}" if isinstance(label, (str, int)) and inner else inner
    message = str(res.get("msg") or "").strip()
    if message and message.lower().rstrip(".") not in _GENERIC_FAILURES:
        return message
    for key in ("stderr", "module_stderr", "stdout", "module_stdout"):
        lines = [line.strip() for line in str(res.get(key) or "").splitlines() if line.strip()]
        if lines:
            cause = " | ".join(lines[-2:])
            cause = cause if len(cause) <= _CAUSE_LENGTH else "..." + cause[-_CAUSE_LENGTH:]
            return f"{message}: {cause}" if message else cause
    return message


class RunModel:
    """Events in, state out."""

    def __init__(self, *, check_mode: bool = False) -> None:
        self.check_mode = check_mode
        self.play = ""
        self.task = ""
        self.role: str | None = None
        self.hosts: dict[str, HostState] = {}
        self.changes: list[TaskChange] = []
        self.errors: list[dict[str, Any]] = []
        self.warnings: list[str] = []
        self.stats: dict[str, Any] | None = None
        self.tasks_done = 0
        self.started = time.monotonic()
        self.ended: float | None = None
        self.no_hosts_matched = False
        self._handler_task = False

    def host(self, name: str) -> HostState:
        if name not in self.hosts:
            self.hosts[name] = HostState(name)
        return self.hosts[name]

    def feed(self, event: dict[str, Any]) -> None:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        if kind == "playbook_on_play_start":
            self.play = data.get("play") or data.get("name") or ""
        elif kind in ("playbook_on_task_start", "playbook_on_handler_task_start"):
            self.task = data.get("task") or data.get("name") or ""
            self.role = data.get("role") or None
            self._handler_task = kind == "playbook_on_handler_task_start" or bool(data.get("is_conditional"))
            self.tasks_done += 1
        elif kind == "runner_on_start":
            h = self.host(data.get("host", "?"))
            h.state, h.task = "running", data.get("task", self.task)
        elif kind in HOST_EVENTS:
            self._host_result(kind, data, event)
        elif kind == "playbook_on_no_hosts_matched":
            self.no_hosts_matched = True
        elif kind == "warning":
            self.warnings.append(str(event.get("stdout", "")).strip())
        elif kind == "playbook_on_stats":
            self.stats = {k: data.get(k) or {} for k in
                          ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored", "processed")}
            self.ended = time.monotonic()

    def _host_result(self, kind: str, data: dict[str, Any], event: dict[str, Any]) -> None:
        name = data.get("host", "?")
        h = self.host(name)
        res = data.get("res") or {}
        task = data.get("task") or self.task
        role = data.get("role") or None
        state = HOST_EVENTS[kind]
        censored = is_censored(event)
        if state == "failed":
            ignored = bool(data.get("ignore_errors"))
            earlier_change = any(c.host == name for c in self.changes)
            if self.check_mode and (ignored or earlier_change or needs_earlier_change(data, res)):
                # A fresh host: this task needs what an earlier task would have done.
                h.depends += 1
                self.changes.append(TaskChange(name, task, role, censored=censored, depends_on_earlier=True))
                h.state = "changed"
                return
            if ignored:
                h.ok += 1
                return
            h.failed += 1
            h.state = "failed"
            message = "(censored: no_log)" if censored else failure_cause(res)
            h.messages.append(f"{task}: {message}")
            self.errors.append({"host": name, "task": task, "role": role, "message": message})
            return
        if state == "unreachable":
            h.unreachable += 1
            h.state = "unreachable"
            message = str(res.get("msg", "")).strip()
            h.messages.append(message)
            self.errors.append({"host": name, "task": task, "role": role, "message": message, "unreachable": True})
            return
        if state == "skipped":
            h.skipped += 1
            if h.state == "running":
                h.state = "ok"
            return
        h.ok += 1
        # no_log results lose "changed"; the callback's own line still says it.
        changed = bool(res.get("changed")) or (
            censored and str(event.get("stdout") or "").strip().startswith("changed"))
        if changed:
            h.changed += 1
            h.state = "changed"
            self.changes.append(TaskChange(name, task, role, diff="" if censored else _diff_text(res),
                                           censored=censored, handler=self._handler_task))
        elif h.state in ("running", "waiting"):
            h.state = "ok"

    @property
    def elapsed(self) -> float:
        return (self.ended or time.monotonic()) - self.started

    def summary(self) -> dict[str, Any]:
        hosts: dict[str, Any] = {}
        for name, h in sorted(self.hosts.items()):
            counts = h.counts()
            if self.stats:
                # Ansible's recap is the reference once it arrived.
                counts = {
                    "ok": int(self.stats["ok"].get(name, 0)),
                    "changed": int(self.stats["changed"].get(name, 0)),
                    "failed": int(self.stats["failures"].get(name, 0)) if not self.check_mode else h.failed,
                    "unreachable": int(self.stats["dark"].get(name, 0)),
                    "skipped": int(self.stats["skipped"].get(name, 0)),
                }
            counts["depends_on_earlier_changes"] = h.depends
            hosts[name] = counts
        return {
            "hosts": hosts,
            "changed_tasks": [
                {"host": c.host, "task": c.label, "censored": c.censored,
                 "depends_on_earlier_changes": c.depends_on_earlier, "handler": c.handler}
                for c in self.changes
            ],
            "errors": self.errors,
            "elapsed_seconds": round(self.elapsed, 1),
        }


def compact_event(event: dict[str, Any]) -> dict[str, Any]:
    """The part of an event worth one JSON line (secrets stay out: no stdout of censored events)."""
    data = event.get("event_data") or {}
    out: dict[str, Any] = {"event": event.get("event"), "counter": event.get("counter")}
    for key in ("play", "task", "role", "host", "task_action"):
        if data.get(key):
            out[key] = data[key]
    res = data.get("res")
    if isinstance(res, dict):
        if "changed" in res:
            out["changed"] = bool(res["changed"])
        if is_censored(event):
            out["censored"] = True
        elif event.get("event") in ("runner_on_failed", "runner_on_unreachable"):
            cause = failure_cause(res)
            if cause:
                out["msg"] = cause[:2000]
    if data.get("ignore_errors"):
        out["ignore_errors"] = True
    return out


class Display(Protocol):
    """What the engine needs of a progress display (the CLI provides real ones)."""

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: object) -> None: ...

    def event(self, event: dict[str, Any]) -> None: ...

    def tick(self) -> None: ...


#: Called with each run's model; returns the display of that run.
DisplayFactory = Callable[[RunModel], Display]


class _Quiet:
    """A display that shows nothing (library use and tests that read the model)."""

    def __enter__(self) -> "_Quiet":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def event(self, event: dict[str, Any]) -> None:
        pass

    def tick(self) -> None:
        pass


def quiet_display(model: RunModel) -> Display:
    return _Quiet()




def task_reports(prefix: str, into: dict[str, str]) -> Callable[[dict[str, Any]], None]:
    """An event hook keeping, per host, the message of an ok task that starts with ``prefix``.

    Lifecycle plays report what they did (snapshots written, listed, restored) that way.
    """
    def on_event(event: dict[str, Any]) -> None:
        data = event.get("event_data") or {}
        msg = (data.get("res") or {}).get("msg")
        if event.get("event") == "runner_on_ok" and isinstance(msg, str) and msg.startswith(prefix):
            into[str(data.get("host"))] = msg
    return on_event
