"""Shared helpers of the benchmark scripts: timing, summaries, machine, result files.

Every figure is a list of wall times summarised as median, min and max,
with the 1-minute load average read at each run (a busy machine makes
everything slower; the load says how busy it was). Nothing here asserts
a time.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def summary(values: list[float], digits: int = 2) -> dict[str, float]:
    """Median, min and max of ``values`` (seconds), and how many runs."""
    return {"median": round(statistics.median(values), digits),
            "min": round(min(values), digits), "max": round(max(values), digits), "runs": len(values)}


def load1() -> float:
    """The 1-minute load average now."""
    return round(os.getloadavg()[0], 2)


@dataclass
class Figure:
    """One measured quantity: its samples (seconds unless ``unit`` says otherwise) and the load at each."""

    section: str
    name: str
    values: list[float] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)
    unit: str = "s"
    note: str = ""

    def add(self, value: float) -> float:
        self.values.append(value)
        self.loads.append(load1())
        return value

    def time(self, action: Callable[[], Any]) -> Any:
        """Run ``action`` once, record its wall time; return what it returned."""
        started = time.perf_counter()
        result = action()
        self.add(time.perf_counter() - started)
        return result

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def to_dict(self) -> dict[str, Any]:
        digits = 3 if self.unit == "s" and self.values and max(self.values) < 1 else 2
        return {"section": self.section, "name": self.name, "unit": self.unit, "note": self.note,
                **summary(self.values, digits), "values": [round(v, 4) for v in self.values],
                "load1": self.loads, "load1_median": round(statistics.median(self.loads), 2) if self.loads else None}


def ratio(name: str, numerator: Figure, denominator: Figure, note: str = "") -> dict[str, Any]:
    """A comparison of two figures measured in the same run (ratio of medians)."""
    return {"name": name, "numerator": numerator.name, "denominator": denominator.name,
            "ratio": round(numerator.median / denominator.median, 3), "note": note}


def run_command(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None,
                timeout: float | None = 3600) -> subprocess.CompletedProcess[str]:
    """Run a command, raising with its output if it fails (a failed run measures nothing)."""
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}:\n{tail}")
    return done


def machine() -> dict[str, Any]:
    """CPU model, cores, memory, Debian version, kernel, Python: where the figures come from."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        debian = Path("/etc/debian_version").read_text().strip()
    except OSError:
        debian = "not Debian"
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": memory_gb, "debian": debian,
            "kernel": platform.release(), "python": platform.python_version(), "load1_at_start": load1()}


# --- result files ------------------------------------------------------------------

def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)


def markdown(results: dict[str, Any]) -> str:
    """The Markdown tables of a result document (figures per section, ratios, goals)."""
    m = results.get("machine", {})
    lines = [f"# anl-stack benchmarks ({results.get('mode', '?')})", "",
             f"- date: {results.get('date', '?')}",
             f"- machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('memory_gb', '?')} GB, "
             f"Debian {m.get('debian', '?')}, kernel {m.get('kernel', '?')}, Python {m.get('python', '?')}",
             f"- load average (1 min) at start: {m.get('load1_at_start', '-')}, at end: "
             f"{results.get('load1_at_end', '-')}; whole run: {results.get('duration_s', '-')} s"]
    if results.get("sections"):
        lines.append("- sections: " + ", ".join(results["sections"])
                     + (f" (plugins: {', '.join(results['plugins'])})" if results.get("plugins") else ""))
    lines.append("")
    sections: dict[str, list[dict[str, Any]]] = {}
    for figure in results.get("figures", []):
        sections.setdefault(figure["section"], []).append(figure)
    for section, figures in sections.items():
        lines += [f"## {section}", "", "| figure | median | min | max | runs | load (1 min) | note |",
                  "|---|---:|---:|---:|---:|---:|---|"]
        for f in figures:
            unit = "" if f["unit"] in ("", "ratio") else f" {f['unit']}"
            lines.append(f"| {f['name']} | {_fmt(f['median'])}{unit} | {_fmt(f['min'])} | {_fmt(f['max'])} | "
                         f"{f['runs']} | {_fmt(f.get('load1_median'))} | {f.get('note', '')} |")
        lines.append("")
    if results.get("ratios"):
        lines += ["## Ratios (medians of the same run)", "", "| comparison | ratio | note |", "|---|---:|---|"]
        lines += [f"| {r['name']} | {_fmt(r['ratio'])} | {r.get('note', '')} |" for r in results["ratios"]]
        lines.append("")
    if results.get("goals"):
        lines += ["## Goals", "", "| goal | measured | met |", "|---|---|---|"]
        for g in results["goals"]:
            met = "-" if g.get("met") is None else ("yes" if g["met"] else "no")
            lines.append(f"| {g['goal']} | {g['measured']} | {met} |")
        lines.append("")
    if results.get("skipped"):
        lines += ["## Not measured", ""] + [f"- {s}" for s in results["skipped"]] + [""]
    return "\n".join(lines)


def write_results(results: dict[str, Any], out_dir: Path, stem: str = "benchmarks") -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.md`` in ``out_dir``; return both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    json_path.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    md_path.write_text(markdown(results), encoding="utf-8")
    return json_path, md_path


def now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")
