"""Deploy timings: the wrapper's cost over plain ansible-playbook, apt's share, fleet size, SSH settings.

    sudo .venv/bin/python benchmarks/deploy.py --lab NAME [--plugin hello] [--runs 3] [--json]

On a lab host already converged with PLUGIN (deploy it first), alternates
``anl-stack deploy PLUGIN --lab NAME`` and plain ``ansible-playbook`` with
the same playbook, inventories, generated ansible.cfg and environment
(their ratio is the wrapper's cost: start-up, checks, ansible-runner; the
release gate is a play of the playbook both run), then runs the probe playbook with each SSH setting.
``benchmarks/run.py`` uses these functions for the full set of figures.

Measurements, not tests: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, Figure, machine, markdown, now, ratio, run_command  # noqa: E402

BIN = Path(sys.executable).parent
PROBE = Path(__file__).resolve().parent / "playbooks" / "probe.yml"
#: modules whose task time counts as "apt" (package installation)
APT_ACTIONS = {"ansible.builtin.apt", "ansible.builtin.package", "ansible.legacy.apt", "ansible.legacy.package",
               "apt", "package"}


def use_test_plugins() -> None:
    """Make the test plugin ``hello`` discoverable (absolute path: roles_path is built from it)."""
    extra = str(ROOT / "tests" / "plugins")
    current = os.environ.get("ANL_STACK_PLUGINS_PATH", "")
    if extra not in current.split(os.pathsep):
        os.environ["ANL_STACK_PLUGINS_PATH"] = extra + (os.pathsep + current if current else "")


# --- anl-stack deploy ----------------------------------------------------------------

def anl_deploy(plugin: str, lab: str, tags: str | None = None, engine: str | None = None) -> dict[str, Any]:
    """``anl-stack deploy PLUGIN --lab LAB --json`` in a fresh process; its summary object."""
    argv = [str(BIN / "anl-stack"), "deploy", plugin, "--lab", lab, "--json"] + (["--tags", tags] if tags else [])
    argv += ["--engine", engine] if engine else []
    done = run_command(argv)
    return json.loads(done.stdout.strip().splitlines()[-1])


def apt_share(run_folder: Path) -> dict[str, float]:
    """Seconds spent in apt/package tasks and in all tasks, from a run's events.jsonl.

    Only ``runner_on_*`` events carry a task's whole duration (loop items
    are inside it), so item events are not added again.
    """
    apt = tasks = 0.0
    with (run_folder / "events.jsonl").open(encoding="utf-8") as events:
        for line in events:
            event = json.loads(line)
            if event.get("event") not in ("runner_on_ok", "runner_on_failed", "runner_on_skipped"):
                continue
            data = event.get("event_data") or {}
            duration = float(data.get("duration") or 0.0)
            tasks += duration
            if (data.get("resolved_action") or data.get("task_action")) in APT_ACTIONS:
                apt += duration
    return {"apt_s": apt, "tasks_s": tasks}


# --- the same run with plain ansible-playbook ------------------------------------------

@dataclass
class PlainRun:
    argv: list[str]
    env: dict[str, str]
    folder: Path

    def __call__(self) -> None:
        run_command(self.argv, env=self.env)

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def plain_playbook(plugin: str, lab: str, tags: str | None = None) -> PlainRun:
    """ansible-playbook with exactly what ``anl-stack deploy`` hands to ansible-runner.

    ``deploy.prepare`` writes the generated ansible.cfg and returns the
    environment and the generated files (site playbook, firewall ports
    inventory); they are written once into a temporary folder.
    """
    from anl_stack.deploy import prepare as deploy

    prep = deploy.prepare([plugin], lab_name=lab, tags=tags)
    folder = Path(tempfile.mkdtemp(prefix="anl-bench-plain-"))
    for relative, text in prep.files.items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text, encoding="utf-8")
    argv = [str(BIN / "ansible-playbook"), "-i", str(prep.target.paths.root),
            "-i", str(folder / deploy.GENERATED_INVENTORY), str(folder / "project" / "site.yml"), "--diff"]
    if tags:
        argv += ["--tags", tags]
    return PlainRun(argv, {**os.environ, **prep.env}, folder)


# --- probe playbook: fleet sizes and SSH settings ---------------------------------------

def fleet_inventory(names: list[str], dest: Path) -> Path:
    """One hosts.yml holding the connection settings of lab hosts ``names``."""
    import yaml

    from anl_stack import lab

    hosts: dict[str, Any] = {}
    for name in names:
        host = lab.get(name)
        if host is None:
            raise RuntimeError(f"lab host {name} is not up")
        data = yaml.safe_load((Path(host.inventory) / "hosts.yml").read_text())
        hosts[name] = data["all"]["hosts"][name]
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}, sort_keys=False))
    return dest / "hosts.yml"


#: environment overrides of the generated ansible.cfg, per SSH setting
SSH_VARIANTS: dict[str, dict[str, str]] = {
    "pipelining on, ControlPersist on (default)": {},
    "pipelining off, ControlPersist on": {"ANSIBLE_PIPELINING": "False"},
    "pipelining on, ControlPersist off": {
        "ANSIBLE_SSH_ARGS": "-o ControlMaster=no -o ControlPath=none -o ServerAliveInterval=15"},
    "pipelining off, ControlPersist off": {
        "ANSIBLE_PIPELINING": "False",
        "ANSIBLE_SSH_ARGS": "-o ControlMaster=no -o ControlPath=none -o ServerAliveInterval=15"},
}


class Probe:
    """Plain ansible-playbook runs of the probe playbook with the generated ansible.cfg."""

    def __init__(self, names: list[str]) -> None:
        from anl_stack.deploy import ansible_cfg

        self.folder = Path(tempfile.mkdtemp(prefix="anl-bench-probe-"))
        self.inventory = fleet_inventory(names, self.folder)
        cfg = ansible_cfg.write(self.folder / "ansible.cfg", host_key_checking=False)
        self.env = {**os.environ, **ansible_cfg.ansible_env(cfg, host_key_checking=False)}

    def command(self, limit: list[str] | None = None, overrides: dict[str, str] | None = None) -> PlainRun:
        argv = [str(BIN / "ansible-playbook"), "-i", str(self.inventory), str(PROBE)]
        if limit:
            argv += ["--limit", ",".join(limit)]
        return PlainRun(argv, {**self.env, **(overrides or {})}, self.folder)

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


# --- measurements ---------------------------------------------------------------------

def measure_overhead(plugin: str, lab: str, runs: int, section: str = "deploy overhead"
                     ) -> tuple[Figure, Figure, dict[str, Any]]:
    """Alternate anl-stack deploy and plain ansible-playbook on a converged host (load drift hits both)."""
    wrapped = Figure(section, f"anl-stack deploy {plugin} (converged host)")
    plain = Figure(section, f"ansible-playbook, same playbook and settings ({plugin})")
    command = plain_playbook(plugin, lab)
    try:
        for _ in range(runs):
            wrapped.time(lambda: anl_deploy(plugin, lab))
            plain.time(command)
    finally:
        command.cleanup()
    return wrapped, plain, ratio(f"anl-stack deploy / ansible-playbook ({plugin})", wrapped, plain,
                                 "wrapper cost; goal < 1.05")


def measure_ssh_settings(lab: str, runs: int, section: str = "SSH settings (probe playbook, 1 host)"
                         ) -> tuple[list[Figure], list[dict[str, Any]]]:
    probe = Probe([lab])
    figures = {name: Figure(section, name) for name in SSH_VARIANTS}
    try:
        probe.command()()  # converge the probe once (first run changes things)
        for _ in range(runs):
            for name, overrides in SSH_VARIANTS.items():
                figures[name].time(probe.command(overrides=overrides))
    finally:
        probe.cleanup()
    default = figures[next(iter(SSH_VARIANTS))]
    ratios = [ratio(f"{name} / default", figure, default) for name, figure in figures.items() if figure is not default]
    return list(figures.values()), ratios


def measure_fleet(names: list[str], runs: int, section: str = "fleet (probe playbook)"
                  ) -> tuple[list[Figure], list[dict[str, Any]]]:
    """The probe on the first 1, 2 and 4 of ``names``, sizes interleaved in each round."""
    probe = Probe(names)
    sizes = [n for n in (1, 2, 4) if n <= len(names)]
    figures = {n: Figure(section, f"{n} host{'s' if n > 1 else ''}") for n in sizes}
    try:
        probe.command()()  # converge the probe once on every host
        for _ in range(runs):
            for n in sizes:
                figures[n].time(probe.command(limit=names[:n]))
    finally:
        probe.cleanup()
    ratios = [ratio(f"{n} hosts / 1 host", figures[n], figures[1], "goal for 4: < 2") for n in sizes if n > 1]
    return list(figures.values()), ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lab", required=True, help="a lab host already converged with PLUGIN")
    parser.add_argument("--plugin", default="hello")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    use_test_plugins()
    wrapped, plain, overhead = measure_overhead(args.plugin, args.lab, args.runs)
    ssh_figures, ssh_ratios = measure_ssh_settings(args.lab, args.runs)
    results = {"mode": "deploy", "date": now(), "machine": machine(),
               "figures": [f.to_dict() for f in (wrapped, plain, *ssh_figures)], "ratios": [overhead, *ssh_ratios]}
    print(json.dumps(results, indent=2) if args.json else markdown(results))


if __name__ == "__main__":
    main()
