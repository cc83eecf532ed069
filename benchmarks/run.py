"""Every benchmark of anl-stack in one run: JSON and a Markdown table.

    sudo .venv/bin/python benchmarks/run.py [--quick] [--out DIR] [--runs N] [--only SECTION ...]

Each figure is the median of ``--runs`` runs (at least 3) with min, max
and the 1-minute load average at each run; every comparison is a ratio
of medians measured in the same run, alternating the two sides so that
a change of load hits both.

Sections (``--only`` picks some):

- ``startup``: ``anl-stack --help`` and ``plugins list`` against
  ``python -c pass`` and ``ansible --version``;
- ``lab``: a fresh lab host from the cached image to SSH-ready (host ``bo``);
- ``plugins``: first deploy of each plugin on a fresh lab host (with apt's
  share, from the run's events), idempotent re-runs, and for ``hello`` the
  wrapper's cost against plain ``ansible-playbook`` (same playbook,
  inventories, generated ansible.cfg); verify per plugin on the converged
  host. ``--quick``: hello only; otherwise also streaming and nextcloud
  (``--tags stack``);
- ``fleet``: the probe playbook on 1, 2 and 4 lab hosts (``b1``..``b4``);
- ``ssh``: the probe with pipelining and ControlPersist on and off;
- ``engines``: Mitogen against Ansible's linear strategy for each plugin of
  the plugins section: a first deploy on two fresh hosts (``e1`` with
  mitogen first, then ``e2`` with ansible, so that the lab's package cache
  never favours mitogen), then converged re-runs alternating the two
  engines on ``e1``;
- ``build``: a full lab image build into a temporary cache (not with ``--quick``).

Lab hosts ``b1``..``b4``, ``bo``, ``e1`` and ``e2`` are removed at the end, even on error or
Ctrl-C. Needs root (lab hosts). Results are written after each section, so
an interrupted run keeps what it measured. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, Figure, load1, machine, now, ratio, write_results  # noqa: E402

SECTIONS = ("startup", "lab", "plugins", "fleet", "ssh", "engines", "build")
HOSTS = ("b1", "b2", "b3", "b4")
FRESH = "bo"
ENGINE_HOSTS = ("e1", "e2")
#: plugin, lab host, tags; hello is the one the wrapper's cost is measured with
PLUGINS_QUICK = [("hello", "b1", None)]
PLUGINS_FULL = PLUGINS_QUICK + [("streaming", "b2", None), ("nextcloud", "b3", "stack")]


class Bench:
    """Collects figures, ratios and goals, and rewrites the result files after each section."""

    def __init__(self, out: Path, mode: str, runs: int) -> None:
        self.out, self.runs, self.started = out, runs, time.monotonic()
        self.figures: list[Figure] = []
        self.ratios: list[dict[str, Any]] = []
        self.skipped: list[str] = []
        self.results: dict[str, Any] = {"mode": mode, "date": now(), "runs": runs, "machine": machine()}

    def log(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:6.0f}s] {message}", file=sys.stderr, flush=True)

    def figure(self, section: str, name: str, **kwargs: Any) -> Figure:
        figure = Figure(section, name, **kwargs)
        self.figures.append(figure)
        return figure

    def section(self, name: str, action: Callable[[], None]) -> None:
        self.log(f"{name}: start")
        try:
            action()
        except KeyboardInterrupt:
            self.skipped.append(f"{name}: interrupted")
            raise
        except Exception as error:  # a failed section is reported, the others still run
            self.skipped.append(f"{name}: {type(error).__name__}: {str(error).strip()[:800]}")
            traceback.print_exc()
        finally:
            self.save()
            self.log(f"{name}: done")

    def find(self, name: str) -> Figure | None:
        return next((f for f in self.figures if f.name == name and f.values), None)

    def save(self) -> tuple[Path, Path]:
        self.results.update({
            "figures": [f.to_dict() for f in self.figures if f.values],
            "ratios": self.ratios, "goals": goals(self), "skipped": self.skipped,
            "duration_s": round(time.monotonic() - self.started), "load1_at_end": load1(),
        })
        return write_results(self.results, self.out)


# --- sections --------------------------------------------------------------------------

def bench_startup(b: Bench) -> None:
    import startup

    commands = startup.commands()
    figures = {name: b.figure("CLI start-up", f"`{name}`") for name in commands}
    for _ in range(max(b.runs, 5)):  # cheap: a few more runs; commands interleaved
        for name, argv in commands.items():
            figures[name].add(startup.measure(argv, 1)[0])
    base, ansible = figures["python -c pass"], figures.get("ansible --version")
    for name in ("anl-stack --help", "anl-stack plugins list"):
        b.ratios.append(ratio(f"`{name}` / `python -c pass`", figures[name], base))
        if ansible:
            b.ratios.append(ratio(f"`ansible --version` / `{name}`", ansible, figures[name], "goal: >= 3"))


def bench_lab(b: Bench) -> None:
    import lab as lab_bench

    from anl_stack import lab

    up = b.figure("lab hosts", "fresh host from the cached image to SSH-ready (Debian 13)")
    down = b.figure("lab hosts", "host removal (down)")
    try:
        for _ in range(b.runs):
            times = lab_bench.time_starts("13", 1, name=FRESH)
            up.add(times["up_to_ssh_ready_s"][0])
            down.add(times["down_s"][0])
    finally:
        lab.down(FRESH)


def bench_build(b: Bench) -> None:
    import lab as lab_bench

    build = b.figure("lab hosts", "image build, Debian 13 (debootstrap + preparation, temporary cache)",
                     note="one run: minutes of downloads")
    build.add(lab_bench.time_build("13"))


def fresh_host(name: str) -> None:
    from anl_stack import lab

    if lab.get(name) is not None:
        lab.down(name)
    lab.up(name, "13", log=None)


def bench_plugin(b: Bench, plugin: str, host: str, tags: str | None) -> None:
    import deploy as deploy_bench

    label = plugin + (f" (--tags {tags})" if tags else "")
    fresh_host(host)
    first = b.figure("first deploy (fresh lab host, Debian 13)", f"{label}: first deploy",
                     note="one run per fresh host; lab package cache as left by earlier hosts")
    summary = first.time(lambda: deploy_bench.anl_deploy(plugin, host, tags))
    folder = Path(summary["runs"][0]["folder"])
    share = deploy_bench.apt_share(folder)
    b.figure("first deploy (fresh lab host, Debian 13)", f"{label}: time in apt/package tasks").add(share["apt_s"])
    b.figure("first deploy (fresh lab host, Debian 13)", f"{label}: share of the deploy in apt",
             unit="%").add(100 * share["apt_s"] / first.values[0])
    if plugin == "hello" and not tags:
        wrapped, plain, overhead = deploy_bench.measure_overhead(plugin, host, b.runs)
        wrapped.section = plain.section = "idempotent re-run and deploy overhead (converged host)"
        b.figures += [wrapped, plain]
        b.ratios.append(overhead)
    else:
        again = b.figure("idempotent re-run and deploy overhead (converged host)",
                         f"anl-stack deploy {label} (converged host)")
        for _ in range(b.runs):
            again.time(lambda: deploy_bench.anl_deploy(plugin, host, tags))
    bench_verify(b, plugin, host)


def bench_verify(b: Bench, plugin: str, host: str) -> None:
    import verify as verify_bench

    from anl_stack.verify.plan import VerifyOptions

    figure = b.figure("verify (converged host)", f"anl-stack verify, {plugin} checks only")
    failures = 0
    for _ in range(b.runs):
        row = verify_bench.measure(VerifyOptions(lab=host, plugins=[plugin], baseline=False), 1, None)
        figure.add(row["wall_median_s"])
        failures += row["runs_with_failures"]
        figure.note = f"{row['checks']} checks" + (f"; {failures} run(s) with failed checks" if failures else "")


def bench_plugins(b: Bench, plugins: list[tuple[str, str, str | None]]) -> None:
    for plugin, host, tags in plugins:
        b.section(f"plugin {plugin}", lambda: bench_plugin(b, plugin, host, tags))


def bench_fleet(b: Bench) -> None:
    import deploy as deploy_bench

    from anl_stack import lab

    for name in HOSTS:
        if lab.get(name) is None:
            lab.up(name, "13", log=None)
    figures, ratios = deploy_bench.measure_fleet(list(HOSTS), b.runs)
    b.figures += figures
    b.ratios += ratios


def bench_ssh(b: Bench) -> None:
    import deploy as deploy_bench

    from anl_stack import lab

    if lab.get(HOSTS[0]) is None:
        lab.up(HOSTS[0], "13", log=None)
    figures, ratios = deploy_bench.measure_ssh_settings(HOSTS[0], b.runs)
    b.figures += figures
    b.ratios += ratios


def bench_engine(b: Bench, plugin: str, tags: str | None) -> None:
    import deploy as deploy_bench

    label = plugin + (f" (--tags {tags})" if tags else "")
    section = "engines: mitogen against ansible (linear), Debian 13"
    fast, slow = ENGINE_HOSTS
    first = {engine: b.figure(section, f"{label}: first deploy, {engine}", note="one run per fresh host")
             for engine in ("mitogen", "ansible")}
    for engine, host in (("mitogen", fast), ("ansible", slow)):
        fresh_host(host)
        first[engine].time(lambda: deploy_bench.anl_deploy(plugin, host, tags, engine))
    again = {engine: b.figure(section, f"{label}: converged re-run, {engine}") for engine in ("mitogen", "ansible")}
    for _ in range(b.runs):
        for engine in ("mitogen", "ansible"):
            again[engine].time(lambda: deploy_bench.anl_deploy(plugin, fast, tags, engine))
    b.ratios.append(ratio(f"mitogen / ansible, first deploy ({label})", first["mitogen"], first["ansible"],
                          "goal <= 0.7"))
    b.ratios.append(ratio(f"mitogen / ansible, converged re-run ({label})", again["mitogen"], again["ansible"],
                          "goal <= 0.5"))


def bench_engines(b: Bench, plugins: list[tuple[str, str, str | None]]) -> None:
    for plugin, _host, tags in plugins:
        b.section(f"engines {plugin}", lambda: bench_engine(b, plugin, tags))


# --- goals -----------------------------------------------------------------------------

def goals(b: Bench) -> list[dict[str, Any]]:
    """The project's goals with the measured value and whether each is met (None: not measured)."""
    def ratio_of(name: str) -> float | None:
        return next((r["ratio"] for r in b.ratios if r["name"] == name), None)

    out: list[dict[str, Any]] = []
    for command in ("anl-stack --help", "anl-stack plugins list"):
        f = b.find(f"`{command}`")
        out.append({"goal": f"`{command}` starts in under 0.3 s",
                    "measured": f"{f.median:.3f} s" if f else "not measured",
                    "met": (f.median < 0.3) if f else None})
        r = ratio_of(f"`ansible --version` / `{command}`")
        out.append({"goal": f"`{command}` at least 3x faster than `ansible --version`",
                    "measured": f"{r:.2f}x" if r is not None else "not measured",
                    "met": (r >= 3) if r is not None else None})
    r = ratio_of("anl-stack deploy / ansible-playbook (hello)")
    out.append({"goal": "deploy overhead ratio under 1.05", "measured": f"{r:.3f}" if r is not None else "not measured",
                "met": (r < 1.05) if r is not None else None})
    f = b.find("fresh host from the cached image to SSH-ready (Debian 13)")
    out.append({"goal": "a cached lab host SSH-ready in under 5 s",
                "measured": f"{f.median:.1f} s" if f else "not measured", "met": (f.median < 5) if f else None})
    for name, goal in (("first deploy", 0.7), ("converged re-run", 0.5)):
        for r in [r for r in b.ratios if r["name"].startswith(f"mitogen / ansible, {name}")]:
            out.append({"goal": f"{r['name']}: at most {goal}x", "measured": f"{r['ratio']:.2f}x",
                        "met": r["ratio"] <= goal})
    r = ratio_of("4 hosts / 1 host")
    out.append({"goal": "4 hosts in under 2x the time of 1", "measured": f"{r:.2f}x" if r is not None else "not measured",
                "met": (r < 2) if r is not None else None})
    return out


# --- main ------------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="hello only, no image build (aims at a few minutes on an idle machine)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results",
                        help="folder for benchmarks.json and benchmarks.md (default: benchmarks/results)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure, at least 3 (default 3)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, metavar="SECTION",
                        help="only these sections: " + ", ".join(SECTIONS))
    parser.add_argument("--plugins", nargs="+", choices=[p for p, _h, _t in PLUGINS_FULL], metavar="PLUGIN",
                        help="plugins of the plugins section (default: hello with --quick, else all: "
                             + ", ".join(p for p, _h, _t in PLUGINS_FULL) + ")")
    args = parser.parse_args(argv)
    if args.runs < 3:
        parser.error("--runs must be at least 3 (a median of fewer runs says little)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import deploy as deploy_bench

    from anl_stack import lab

    deploy_bench.use_test_plugins()
    wanted = set(args.only or SECTIONS) - ({"build"} if args.quick else set())
    b = Bench(args.out, "quick" if args.quick else "full", args.runs)
    b.results["sections"] = [s for s in SECTIONS if s in wanted]
    needs_lab = wanted - {"startup"}
    if args.quick and (not args.only or "build" in args.only):
        b.skipped.append("build: the image build is not timed with --quick")
    try:
        if needs_lab:
            lab.preflight()
        if "startup" in wanted:
            b.section("startup", lambda: bench_startup(b))
        if "lab" in wanted:
            b.section("lab", lambda: bench_lab(b))
        chosen = PLUGINS_QUICK if args.quick else PLUGINS_FULL
        if args.plugins:
            chosen = [row for row in PLUGINS_FULL if row[0] in args.plugins]
        if "plugins" in wanted:
            b.results["plugins"] = [row[0] for row in chosen]
            b.skipped += [f"plugin {name}: not chosen" + (" (--quick)" if args.quick and not args.plugins else "")
                          for name, _h, _t in PLUGINS_FULL if (name, _h, _t) not in chosen]
            bench_plugins(b, chosen)
        if "fleet" in wanted:
            b.section("fleet", lambda: bench_fleet(b))
        if "ssh" in wanted:
            b.section("ssh", lambda: bench_ssh(b))
        if "engines" in wanted:
            b.section("engines", lambda: bench_engines(b, chosen))
        if "build" in wanted:
            b.section("build", lambda: bench_build(b))
    finally:
        if needs_lab:
            for name in (*HOSTS, FRESH, *ENGINE_HOSTS):
                try:
                    if lab.get(name) is not None:
                        b.log(f"removing lab host {name}")
                        lab.down(name)
                except Exception as error:  # keep removing the others
                    b.skipped.append(f"cleanup of {name}: {error}")
        json_path, md_path = b.save()
        b.log(f"results: {json_path} and {md_path}")
    print(md_path.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
