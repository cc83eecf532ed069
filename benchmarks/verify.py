"""Verify time per plugin on a converged host (and the baseline alone).

    sudo .venv/bin/python benchmarks/verify.py --lab NAME [--runs 5] [--json]
    .venv/bin/python benchmarks/verify.py -i inventories/COMMUNE [--runs 5] [--json]

For the baseline alone, then each plugin whose group holds a host (its own
checks only), runs verify ``--runs`` times and reports the median and range
of the wall time (pytest subprocess start, inventory, SSH, checks) and the
median time spent inside the checks themselves. Deploy the plugins first:
a host that is not converged measures failures, not checks.

Measurements, not tests: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def measure(options: Any, runs: int, plugins: list[Any] | None) -> dict[str, Any]:
    from anl_stack.verify.run import run

    walls, inside, counts, failed = [], [], [], 0
    for _ in range(runs):
        started = time.monotonic()
        result = run(options, plugins=plugins)
        walls.append(time.monotonic() - started)
        inside.append(sum(c.get("duration", 0.0) for c in result.checks))
        counts.append(len([c for c in result.checks if c["outcome"] != "not run"]))
        failed += result.exit_code != 0
    return {"runs": runs, "checks": counts[-1], "runs_with_failures": failed,
            "wall_median_s": round(statistics.median(walls), 3),
            "wall_min_s": round(min(walls), 3), "wall_max_s": round(max(walls), 3),
            "in_checks_median_s": round(statistics.median(inside), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--lab")
    target.add_argument("-i", "--inventory", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from anl_stack.verify.plan import VerifyOptions, plan

    base = dict(inventory=args.inventory, lab=args.lab)
    the_plan = plan(VerifyOptions(**base))
    plugin_names = sorted({p for names in the_plan.hosts.values() for p in names})
    rows: dict[str, Any] = {"baseline": measure(VerifyOptions(plugin_checks=False, **base), args.runs, None)}
    for name in plugin_names:
        rows[name] = measure(VerifyOptions(plugins=[name], baseline=False, **base), args.runs, None)
    report = {"machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
              "target": args.lab or str(args.inventory), "hosts": sorted(the_plan.hosts), "results": rows}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"verify on {report['target']} ({', '.join(report['hosts'])}), {args.runs} runs each")
    print(f"{'suite':<12} {'checks':>6} {'median s':>9} {'range s':>15} {'in checks s':>12}")
    for name, r in rows.items():
        print(f"{name:<12} {r['checks']:>6} {r['wall_median_s']:>9.2f} "
              f"{r['wall_min_s']:>7.2f}-{r['wall_max_s']:<7.2f} {r['in_checks_median_s']:>12.2f}"
              + ("  (some runs had failures)" if r["runs_with_failures"] else ""))


if __name__ == "__main__":
    main()
