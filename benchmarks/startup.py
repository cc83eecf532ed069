"""Start-up time of the CLI, as a ratio to a bare Python start.

Runs each command several times in a fresh process and reports the median
wall time, its ratio to `python -c pass` (the floor any Python CLI pays)
and to `ansible --version` (what a tool importing Ansible pays at start).

    .venv/bin/python benchmarks/startup.py [--runs 9] [--json]

Measurements, not tests: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def commands() -> dict[str, list[str]]:
    anl = [sys.executable, "-m", "anl_stack"]
    found = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "anl-stack --help": [*anl, "--help"],
        "anl-stack plugins list": [*anl, "plugins", "list"],
        "anl-stack plugins list --json": [*anl, "plugins", "list", "--json"],
    }
    ansible = BIN / "ansible"
    if ansible.exists():
        found["ansible --version"] = [str(ansible), "--version"]
    return found


def measure(argv: list[str], runs: int) -> list[float]:
    times = []
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    subprocess.run(argv, capture_output=True, env=env, check=False)  # warm the page cache and bytecode
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(argv, capture_output=True, env=env, check=False)
        times.append(time.perf_counter() - start)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed:\n{result.stderr.decode(errors='replace')}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="runs per command (default 9)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a Markdown table")
    args = parser.parse_args()

    results = {name: measure(argv, args.runs) for name, argv in commands().items()}
    base = statistics.median(results["python -c pass"])
    ansible = statistics.median(results["ansible --version"]) if "ansible --version" in results else None
    rows = []
    for name, times in results.items():
        median = statistics.median(times)
        rows.append({
            "command": name,
            "median_ms": round(median * 1000, 1),
            "min_ms": round(min(times) * 1000, 1),
            "max_ms": round(max(times) * 1000, 1),
            "x_python": round(median / base, 2),
            "x_ansible": round(median / ansible, 2) if ansible else None,
        })
    meta = {"runs": args.runs, "python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count()}
    if args.json:
        print(json.dumps({"meta": meta, "results": rows}, indent=2))
        return
    print(f"Start-up, median of {args.runs} runs (Python {meta['python']}, {meta['cpus']} CPUs)\n")
    print("| command | median ms | min ms | max ms | x python -c pass | x ansible --version |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| `{r['command']}` | {r['median_ms']} | {r['min_ms']} | {r['max_ms']} | {r['x_python']} | "
              f"{r['x_ansible'] if r['x_ansible'] is not None else '-'} |")


if __name__ == "__main__":
    main()
