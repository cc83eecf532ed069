"""plan, deploy and idempotence runs.

A run: check the inventory -> refuse unknown plugins, missing recipes,
missing artifacts -> generate missing secrets -> read each host's Debian
release (a setup-only run, changes nothing) and refuse versions it cannot
run -> ansible-runner in a fresh private data dir, events shown live ->
a run folder with log, events.jsonl and summary.json -> optional
idempotence re-run (nothing may change).

Secrets reach Ansible only through the encrypted ``vault.yml`` and the
vault password file; what we write (log, events, summary) is also scrubbed
of every secret value as a second line of defence.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets as pysecrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from anl_stack import ansible_cfg
from anl_stack.errors import AnlError, ErrorRecord, ExitCode
from anl_stack.inventory import (
    Inventory,
    InventoryPaths,
    add_host_to_group,
    firewall_ports,
    read_yaml,
    resolve_inventory_path,
    vault_password_file,
)
from anl_stack.progress import RunModel, make_display

GENERATED_INVENTORY = "inventory/anl-generated.yml"
MASK = "********"


# --- targets ----------------------------------------------------------------------

@dataclass
class Target:
    """Where a run goes: an inventory, its vault password, and the lab host if any."""

    paths: InventoryPaths
    password_file: Path
    host_key_checking: bool = True
    lab: Any = None


@dataclass
class Options:
    limit: str | None = None
    tags: str | None = None
    skip_tags: str | None = None
    json_output: bool = False
    idempotence: bool = False
    check: bool = False
    #: run kind shown and recorded (default: plan or deploy); e.g. a lifecycle step name
    kind: str | None = None
    #: copy the ansible-runner private data dir here before removing it (tests)
    keep_runner_dir: Path | None = None
    out: TextIO | None = None


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


def resolve_plugins(names: list[str]) -> list[Any]:
    """Known plugins with a recipe; exit 2 with did-you-mean otherwise."""
    from anl_stack.plugins import discover_plugins, get_plugin, require_recipe

    if not names:
        raise AnlError("no plugin named", key="plugin", expected="one or more plugin names")
    found = discover_plugins()
    records: list[ErrorRecord] = []
    chosen: list[Any] = []
    for name in dict.fromkeys(names):
        try:
            plugin = get_plugin(name, found)
            require_recipe(plugin)
            chosen.append(plugin)
        except AnlError as error:
            records.extend(error.records)
    if records:
        raise AnlError(records)
    return chosen


def plugin_domain(plugin: Any, settings: dict[str, Any]) -> str | None:
    """The name a plugin's web UI answers to (``<plugin>_domain`` or subdomain.anl_domain)."""
    value = settings.get(f"{plugin.name}_domain")
    if isinstance(value, str) and "{{" not in value:
        return value
    domain = settings.get("anl_domain")
    return f"{plugin.manifest.deployment.subdomain}.{domain}" if domain else None


def inventory_target(inventory: str | os.PathLike[str], vault_password: str | None = None) -> Target:
    paths = resolve_inventory_path(inventory)
    checking = True
    if paths.private_settings.is_file():
        data = read_yaml(paths.private_settings).data
        if isinstance(data, dict) and "host_key_checking" in data:
            checking = bool(data["host_key_checking"])
    return Target(paths, vault_password_file(paths, vault_password), checking)


def lab_target(name: str, release: str, plugins: list[Any]) -> Target:
    """Boot (or reuse) a lab host and put it in each plugin's group of its inventory."""
    from anl_stack import lab

    host = lab.get(name)
    if host is None or str(host.release) != str(release):
        host = lab.up(name, release=release)
    paths = resolve_inventory_path(host.inventory)
    for plugin in plugins:
        add_host_to_group(paths, name, plugin.name)
    from anl_stack.inventory import load_inventory

    settings = load_inventory(paths).host_settings(name)
    names = [d for p in plugins if (d := plugin_domain(p, settings))]
    if names:
        lab.add_names(name, names)
    return Target(paths, Path(host.vault_password_file), host_key_checking=False, lab=host)


# --- checks before any change -------------------------------------------------------------

def target_hosts(inv: Inventory, plugins: list[Any], limit: str | None) -> list[str]:
    hosts: list[str] = []
    records: list[ErrorRecord] = []
    for plugin in plugins:
        members = inv.groups.get(plugin.name) or []
        if not members:
            records.append(ErrorRecord(f"no host runs plugin {plugin.name!r}", str(inv.paths.hosts), None,
                                       f"all.children.{plugin.name}",
                                       f"a host under all.children.{plugin.name}.hosts"))
        hosts += [h for h in members if h not in hosts]
    if records:
        raise AnlError(records)
    if limit:
        wanted = {p.strip() for p in limit.replace(":", ",").split(",") if p.strip()}
        if wanted <= set(inv.hosts) | set(inv.groups):
            selected = {h for w in wanted for h in (inv.groups.get(w) or [w])}
            hosts = [h for h in hosts if h in selected]
            if not hosts:
                raise AnlError("--limit selects no host that runs these plugins", key="--limit",
                               expected="one of: " + ", ".join(sorted(set().union(
                                   *(inv.groups.get(p.name, []) for p in plugins)))))
    return hosts


def check_platforms(inv: Inventory, plugins: list[Any], releases: dict[str, str]) -> None:
    """Refuse (exit 2) a plugin or app version the host's Debian release cannot run."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    records: list[ErrorRecord] = []
    for plugin in plugins:
        manifest = plugin.manifest
        platforms = dict(manifest.platforms.items())
        for host in inv.groups.get(plugin.name, []):
            if host not in releases:
                continue
            release = releases[host]
            key = f"debian-{release}"
            platform = platforms.get(key)
            if platform is None or not platform.supported:
                records.append(ErrorRecord(
                    f"plugin {plugin.name!r} does not support {key} (host {host})",
                    str(plugin.path / "plugin.yml"), None, f"platforms.{key}",
                    "a host on one of: " + (", ".join(k for k, p in platforms.items() if p.supported) or "none")))
                continue
            settings = inv.host_settings(host)
            requested = str(settings.get(f"{plugin.name}_version") or manifest.app.version)
            spec = platform.app_versions
            if not spec or spec == "unknown" or requested == "unknown" or "{{" in requested:
                continue
            try:
                allowed = Version(requested) in SpecifierSet(spec)
            except (InvalidVersion, InvalidSpecifier):
                continue
            if not allowed:
                records.append(ErrorRecord(
                    f"{manifest.app.name} {requested} cannot run on {key} (host {host})",
                    str(inv.paths.settings), None, f"{plugin.name}_version", f"a version matching {spec}"))
    if records:
        raise AnlError(records)


def read_releases(target: Target, env: dict[str, str], hosts: list[str]) -> dict[str, str]:
    """Debian major release of each host, from a setup-only run (changes nothing)."""
    from anl_stack.adapters import runner

    facts: dict[str, dict[str, Any]] = {}
    unreachable: dict[str, str] = {}

    def on_event(event: dict[str, Any]) -> None:
        data = event.get("event_data") or {}
        res = data.get("res") or {}
        if event.get("event") == "runner_on_ok":
            facts[data.get("host", "?")] = res.get("ansible_facts") or {}
        elif event.get("event") in ("runner_on_unreachable", "runner_on_failed"):
            unreachable[data.get("host", "?")] = str(res.get("msg", "")).strip()

    request = runner.RunRequest(
        inventories=[target.paths.root], envvars=env, module="ansible.builtin.setup",
        module_args="gather_subset=!all filter=ansible_distribution*", host_pattern=",".join(hosts),
    )
    outcome = runner.run(request, on_event)
    if outcome.canceled:
        raise AnlError("interrupted while reading host facts; nothing was changed", exit_code=ExitCode.INTERRUPTED)
    if unreachable:
        from anl_stack.errors import WorkFailedError

        raise WorkFailedError([ErrorRecord(f"cannot read facts: {msg}", str(target.paths.hosts), None, host,
                                           "a reachable host (SSH user with become)")
                               for host, msg in sorted(unreachable.items())])
    releases: dict[str, str] = {}
    records: list[ErrorRecord] = []
    for host in hosts:
        f = facts.get(host, {})
        if f.get("ansible_distribution") != "Debian":
            records.append(ErrorRecord(f"host runs {f.get('ansible_distribution', 'an unknown system')}",
                                       str(target.paths.hosts), None, host, "Debian 13 or 12"))
            continue
        releases[host] = str(f.get("ansible_distribution_major_version"))
    if records:
        raise AnlError(records)
    return releases


# --- the run ------------------------------------------------------------------------

class Scrubber:
    """Replaces known secret values in text we write (second line of defence)."""

    def __init__(self, values: list[str]) -> None:
        self.values = sorted({v for v in values if len(v) >= 6}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self.values:
            text = text.replace(value, MASK)
        return text


def _flatten_secret_values(data: Any) -> list[str]:
    if isinstance(data, dict):
        return [v for item in data.values() for v in _flatten_secret_values(item)]
    if isinstance(data, list):
        return [v for item in data for v in _flatten_secret_values(item)]
    return [str(data)] if data is not None and not isinstance(data, bool) else []


def new_run_folder(paths: InventoryPaths, kind: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = paths.runs / f"{stamp}-{kind}-{pysecrets.token_hex(3)}"
    folder.mkdir(parents=True, mode=0o700)
    return folder


def site_playbook(plugins: list[Any], step: str = "playbook") -> str:
    return yaml.safe_dump([{"ansible.builtin.import_playbook": str((p.path / f"{step}.yml").resolve())}
                           for p in plugins], sort_keys=False)


def generated_inventory(host_ports: dict[str, list[dict[str, Any]]], artifacts: dict[str, Any],
                        extra_vars: dict[str, Any] | None = None) -> str:
    doc: dict[str, Any] = {"all": {"hosts": {h: {"anl_firewall_ports": ports} for h, ports in host_ports.items()}}}
    if artifacts:
        doc["all"]["vars"] = {"anl_artifacts": artifacts}
    if extra_vars:
        doc["all"].setdefault("vars", {}).update(extra_vars)
    return "# Generated by anl-stack for one run (not secret).\n" + yaml.safe_dump(doc, sort_keys=False)


@dataclass
class Prepared:
    target: Target
    inventory: Inventory
    plugins: list[Any]
    hosts: list[str]
    env: dict[str, str]
    files: dict[str, str]
    scrub: Scrubber
    generated_secrets: list[str]


def needs_artifacts(tags: str | None, skip_tags: str | None = None) -> bool:
    """Whether a run limited by ``tags``/``skip_tags`` reaches the application (tag ``app``).

    Releases are pushed by tasks tagged ``app``: a ``--tags stack`` run
    prepares a server without them, so it must not require them.
    """
    def split(value: str | None) -> set[str]:
        return {t.strip() for t in (value or "").split(",") if t.strip()}

    wanted, skipped = split(tags), split(skip_tags)
    if "app" in skipped:
        return False
    return not wanted or bool(wanted & {"app", "all"})


def prepare(plugin_names: list[str], *, inventory: str | None = None, lab_name: str | None = None,
            debian: str = "13", vault_password: str | None = None, limit: str | None = None,
            tags: str | None = None, skip_tags: str | None = None, step: str = "playbook",
            extra_vars: dict[str, Any] | None = None) -> Prepared:
    """Every check that can refuse (exit 2) before a host is changed.

    ``step`` names the plugin playbook to run (``playbook`` deploys; ``backup``,
    ``restore``... are lifecycle steps, which never need releases).
    ``extra_vars`` (never secrets) go to the run's generated inventory.
    """
    from anl_stack import vault
    from anl_stack.inventory_check import require_valid
    from anl_stack.plugins import discover_plugins

    plugins = resolve_plugins(plugin_names)
    if (inventory is None) == (lab_name is None):
        raise AnlError("give exactly one of -i PATH or --lab NAME", key="-i/--lab",
                       expected="-i inventories/COMMUNE or --lab NAME")
    wants_artifacts = (step == "playbook" and any(p.manifest.deployment.artifacts for p in plugins)
                       and needs_artifacts(tags, skip_tags))
    if lab_name and wants_artifacts:
        from anl_stack import lab
        from anl_stack.artifacts import resolve_for_deploy

        if lab.get(lab_name) is None:
            # A lab host not made yet has no commune pins: refuse a missing
            # artifact before booting a host for nothing.
            resolve_for_deploy(plugins, {})
    target = lab_target(lab_name, debian, plugins) if lab_name else inventory_target(inventory, vault_password)
    everything = discover_plugins()
    inv = require_valid(target.paths, everything)
    if step == "playbook":
        from anl_stack.reviews import require_reviewed

        # Communes may accept only recipes reviewed on their current digest (anl_require_reviews).
        require_reviewed(plugins, inv.settings(), target.paths.settings)
    hosts = target_hosts(inv, plugins, limit)

    artifacts: dict[str, Any] = {}
    if wants_artifacts:
        from anl_stack.artifacts import resolve_for_deploy

        artifacts = resolve_for_deploy(plugins, inv.settings())

    declared = [s for p in plugins for s in p.manifest.deployment.secrets]
    generated = vault.ensure_secrets(target.paths, target.password_file, declared)
    scrub = Scrubber(_flatten_secret_values(vault.read_secrets(target.paths, target.password_file)))

    manifests = {p.name: p.manifest for p in everything if p.loaded}
    roles_paths = [p.path / "roles" for p in plugins]
    runs_cfg = target.paths.private / "ansible.cfg"
    ansible_cfg.write(runs_cfg, roles_paths=roles_paths, host_key_checking=target.host_key_checking,
                      control_tag=ansible_cfg.inventory_tag(target.paths.root))
    env = ansible_cfg.ansible_env(runs_cfg, host_key_checking=target.host_key_checking, roles_paths=roles_paths)
    env["ANSIBLE_VAULT_PASSWORD_FILE"] = str(target.password_file)
    env["ANSIBLE_NOCOLOR"] = "1"
    files = {
        GENERATED_INVENTORY: generated_inventory(firewall_ports(inv, manifests), artifacts, extra_vars),
        "project/site.yml": site_playbook(plugins, step),
    }
    return Prepared(target, inv, plugins, hosts, env, files, scrub, generated)


def run_once(prep: Prepared, kind: str, options: Options, stop: threading.Event) -> RunReport:
    from anl_stack.adapters import runner

    folder = new_run_folder(prep.target.paths, kind)
    model = RunModel(check_mode=options.check)
    display = make_display(model, json_output=options.json_output, out=options.out)
    cmdline = ["--diff"] + (["--check"] if options.check else [])
    request = runner.RunRequest(
        inventories=[prep.target.paths.root, Path(GENERATED_INVENTORY)], envvars=prep.env,
        playbook=Path("project/site.yml"), files=prep.files, cmdline=cmdline,
        limit=options.limit, tags=options.tags, skip_tags=options.skip_tags,
    )
    events_file = (folder / "events.jsonl").open("w", encoding="utf-8")

    def on_event(event: dict[str, Any]) -> None:
        model.feed(event)
        display.event(event)
        stored = dict(event)
        from anl_stack.progress import is_censored

        if is_censored(event):
            stored.pop("stdout", None)
        events_file.write(prep.scrub(json.dumps(stored, default=str, ensure_ascii=False)) + "\n")

    keep = options.keep_runner_dir / kind if options.keep_runner_dir else None
    try:
        with display:
            outcome = runner.run(request, on_event, stop=stop, tick=display.tick, keep_dir=keep)
    finally:
        events_file.close()
    (folder / "log").write_text(prep.scrub(outcome.stdout), encoding="utf-8")
    report = RunReport(kind, folder, model, outcome.status, outcome.rc, outcome.canceled)
    summary = {"kind": kind, "plugins": [p.name for p in prep.plugins], "inventory": str(prep.target.paths.root),
               "status": outcome.status, "rc": outcome.rc, "canceled": outcome.canceled,
               "check_mode": options.check, "limit": options.limit, "tags": options.tags,
               "skip_tags": options.skip_tags, "digests": _digests(prep.plugins), **model.summary()}
    (folder / "summary.json").write_text(prep.scrub(json.dumps(summary, indent=2, default=str)), encoding="utf-8")
    return report


def _digests(plugins: list[Any]) -> dict[str, str]:
    """Content digest of each plugin run: what makes a run summary evidence (plugins evidence)."""
    from anl_stack.plugins.digest import content_digest

    return {p.name: content_digest(Path(p.path)) for p in plugins}


def execute(prep: Prepared, options: Options, *, stop: threading.Event | None = None) -> Result:
    """Read releases, refuse what cannot run, then plan or deploy (and re-run for idempotence)."""
    stop = stop or threading.Event()
    result = Result([p.name for p in prep.plugins], generated_secrets=prep.generated_secrets)
    releases = read_releases(prep.target, prep.env, prep.hosts)
    check_platforms(prep.inventory, prep.plugins, releases)

    kind = options.kind or ("plan" if options.check else "deploy")
    first = run_once(prep, kind, options, stop)
    result.reports.append(first)
    if first.canceled:
        result.exit_code = ExitCode.INTERRUPTED
        result.records.append(ErrorRecord(interrupted_message(first)))
        return result
    # In check mode ansible-playbook also fails where a task depends on an earlier change.
    planned_around = options.check and any(h.depends for h in first.model.hosts.values())
    bad_status = first.status != "successful" and not planned_around
    if first.failed_hosts or first.model.errors or first.model.no_hosts_matched or bad_status:
        result.exit_code = ExitCode.FAILED
        result.records += [ErrorRecord(f"{e['task']}: {e['message']}", str(first.folder / "log"), None, e["host"],
                                       None) for e in first.model.errors]
        if first.model.no_hosts_matched:
            result.records.append(ErrorRecord("no host matched (check --limit)", key="--limit"))
        if not result.records:
            result.records.append(ErrorRecord(f"ansible-playbook ended with status {first.status} (rc {first.rc})",
                                              str(first.folder / "log")))
        return result
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
            result.records += [ErrorRecord("changed on the second run (not idempotent)", str(second.folder / "log"),
                                           None, f"{c.host}: {c.label}") for c in changed]
            result.records += [ErrorRecord(f"{e['task']}: {e['message']}", str(second.folder / "log"), None,
                                           e["host"]) for e in second.model.errors]
    return result


def interrupted_message(report: RunReport) -> str:
    m = report.model
    changed = sorted({c.label for c in m.changes if not c.depends_on_earlier})
    done = f"interrupted during task {m.task!r} after {m.tasks_done} task(s)"
    what = (f"; changed so far: {', '.join(changed)}" if changed else "; nothing was changed yet")
    return f"{done}{what}; run the same command again to converge (log: {report.folder})"


# --- lifecycle steps (backup, restore, ...) ------------------------------------------

LIFECYCLE_STEPS = ("backup", "restore", "upgrade", "remove")


def require_step(plugin: Any, step: str) -> Path:
    """The plugin's ``<step>.yml``; exit 2 naming the plugins that have one otherwise."""
    from anl_stack.plugins import discover_plugins

    file = Path(plugin.path) / f"{step}.yml"
    if file.is_file():
        return file
    having = sorted(p.name for p in discover_plugins() if (Path(p.path) / f"{step}.yml").is_file())
    raise AnlError(f"plugin {plugin.name!r} has no {step} step ({file.name} is missing)", file=str(file.parent),
                   key=step, expected=f"a plugin that provides {step}.yml" + (": " + ", ".join(having) if having else ""))


def run_lifecycle_step(plugin_name: str, step: str, *, inventory: str | None = None, lab_name: str | None = None,
                       vault_password: str | None = None, limit: str | None = None,
                       extra_vars: dict[str, Any] | None = None, json_output: bool = False,
                       out: TextIO | None = None) -> tuple[Prepared, Result]:
    """Run one plugin's lifecycle playbook (``backup.yml``...) on its hosts, like a deploy.

    Refused (exit 2) before any host is touched when the plugin has no such
    step, or when ``--lab NAME`` names no existing lab host (a lifecycle step
    never boots a fresh host).
    """
    if step not in LIFECYCLE_STEPS:
        raise AnlError(f"unknown step {step!r}", key="step", expected=", ".join(LIFECYCLE_STEPS))
    (plugin,) = resolve_plugins([plugin_name])
    require_step(plugin, step)
    debian = "13"
    if lab_name is not None:
        from anl_stack import lab

        host = lab.get(lab_name)
        if host is None:
            raise AnlError(f"no lab host named {lab_name!r}", key="--lab",
                           expected=f"an existing lab host (deploy first: anl-stack deploy {plugin.name} --lab {lab_name})")
        debian = str(host.release)
    prep = prepare([plugin_name], inventory=inventory, lab_name=lab_name, debian=debian,
                   vault_password=vault_password, limit=limit, step=step, extra_vars=extra_vars)
    options = Options(limit=limit, json_output=json_output, kind=step, out=out)
    return prep, execute(prep, options)
