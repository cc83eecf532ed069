"""How a run shows its progress: three displays of the deploy engine's run model.

- a live display for a terminal (rich): play, task, per-host state, elapsed;
- plain lines when stdout is not a terminal;
- ``--json``: one JSON object per line (events), then the final summary.

The engine feeds each display the events it reduces into
:class:`~anl_stack.deploy.events.RunModel`; rendering lives here, in the
CLI, so the engine never writes to a terminal.
"""

from __future__ import annotations

import json
import sys
from functools import partial
from typing import Any, TextIO

from anl_stack.core.i18n import N_, _
from anl_stack.deploy.events import HOST_EVENTS, DisplayFactory, RunModel, compact_event

#: Host states as the displays show them (the run model and --json keep the English names).
STATES = {"ok": N_("ok"), "changed": N_("changed"), "failed": N_("failed"), "unreachable": N_("unreachable"),
          "skipped": N_("skipped"), "running": N_("running"), "waiting": N_("waiting"),
          "depends on earlier changes": N_("depends on earlier changes")}


def state_label(state: str) -> str:
    return _(STATES[state]) if state in STATES else state


class Display:
    """Base: plain lines, one per task and per host result."""

    def __init__(self, model: RunModel, out: TextIO | None = None) -> None:
        self.model = model
        self.out = out or sys.stdout

    def __enter__(self) -> "Display":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def event(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        data = event.get("event_data") or {}
        m = self.model
        if kind == "playbook_on_play_start":
            self._line(_("PLAY {play}").format(play=m.play))
        elif kind == "playbook_on_task_start":
            self._line("  " + _("TASK {task}").format(task=f"{(m.role + ' : ') if m.role else ''}{m.task}"))
        elif kind in HOST_EVENTS:
            host = data.get("host", "?")
            h = m.hosts.get(host)
            state = HOST_EVENTS[kind]
            if state == "ok" and (h is not None and h.state == "changed" and m.changes
                                  and m.changes[-1].host == host and m.changes[-1].task == data.get("task")):
                state = "changed"
            if state == "failed" and h is not None and h.state == "changed" and m.check_mode:
                state = "depends on earlier changes"
            self._line(f"    {host}: {state_label(state)}")

    def tick(self) -> None:
        pass

    def _line(self, text: str) -> None:
        print(f"[{self.model.elapsed:6.1f}s] {text}", file=self.out, flush=True)


class JsonDisplay(Display):
    """One JSON object per line."""

    def event(self, event: dict[str, Any]) -> None:
        if event.get("event") in ("verbose", "debug", "runner_on_start"):
            return
        print(json.dumps(compact_event(event), ensure_ascii=False, default=str), file=self.out, flush=True)


class LiveDisplay(Display):
    """A rich live panel: play, task, a row per host, elapsed time."""

    STYLES = {"ok": "green", "changed": "yellow", "failed": "bold red", "unreachable": "bold red",
              "running": "cyan", "waiting": "dim", "skipped": "dim"}

    def __enter__(self) -> "LiveDisplay":
        from rich.console import Console
        from rich.live import Live

        self._console = Console(file=self.out)
        self._live = Live(self._render(), console=self._console, refresh_per_second=4, transient=False)
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.update(self._render())
        self._live.__exit__(None, None, None)

    def _render(self) -> Any:
        from rich.table import Table

        m = self.model
        play = m.play or _("starting")  # Babel does not read inside f-strings
        table = Table(title=f"{play} — {m.elapsed:.0f}s", title_justify="left", expand=False)
        table.add_column(_("host"))
        table.add_column(_("state"))
        table.add_column(_("ok"), justify="right")
        table.add_column(_("changed"), justify="right")
        table.add_column(_("failed"), justify="right")
        table.add_column(_("task"))
        for h in m.hosts.values():
            table.add_row(h.name, f"[{self.STYLES.get(h.state, '')}]{state_label(h.state)}[/]", str(h.ok), str(h.changed),
                          str(h.failed + h.unreachable), h.task[:60])
        table.caption = _("task {number}: {task}").format(number=m.tasks_done,
                                                          task=f"{(m.role + ' : ') if m.role else ''}{m.task}")
        return table

    def event(self, event: dict[str, Any]) -> None:
        self._live.update(self._render())

    def tick(self) -> None:
        self._live.update(self._render())


def make_display(model: RunModel, *, json_output: bool, out: TextIO | None = None) -> Display:
    out = out or sys.stdout
    if json_output:
        return JsonDisplay(model, out)
    if out.isatty():
        return LiveDisplay(model, out)
    return Display(model, out)




def display_factory(*, json_output: bool, out: TextIO | None = None) -> DisplayFactory:
    """What the engine calls with each run's model to get that run's display."""
    return partial(make_display, json_output=json_output, out=out)


class DownloadBars:
    """Download progress: one rich bar per file on stderr when it is a terminal, silence otherwise.

    Use as a context around the work, and pass the object itself as the
    ``progress`` hook of :func:`anl_stack.adapters.http.download`.
    """

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> "DownloadBars":
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                                 TransferSpeedColumn(), TimeRemainingColumn(),
                                 console=Console(stderr=True), transient=False)
            self._bar.__enter__()
        return self

    def __call__(self, label: str, done: int, total: int | None) -> None:
        if self._bar is None:
            return
        if label not in self._tasks:
            self._tasks[label] = self._bar.add_task(label, total=total)
        self._bar.update(self._tasks[label], completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
