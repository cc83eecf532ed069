"""Evidence records: what a plugin was proven to do, produced by commands, never typed.

A record (``evidence/<date>-<kind>.yml`` in the plugin) names the recipe's
content digest and carries the sha256 of the files it was made from: a
verify report (``verify --report FILE.json``), deploy run summaries
(``summary.json`` of an idempotence, backup, restore or upgrade run) or a
``plugins check`` result. Those files are copied next to the record, so
anyone can re-check that a record says what its sources say; a record
typed by hand has no source whose digest matches.

Kinds: ``check`` (``plugins check --record``), ``lab`` (a passing verify
report whose hosts are all lab hosts), ``idempotence`` (a second deploy run
that changed nothing), ``backup-restore`` (both steps ran), ``upgrade`` (the
upgrade step ran). The quality levels (:mod:`anl_stack.records.quality`) count only
records whose digest is the plugin's current one.
"""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from anl_stack.core.errors import AnlError
from anl_stack.core.files import write_new_file
from anl_stack.core.i18n import N_, Text, _
from anl_stack.core.yamlfile import read_yaml
from anl_stack.plugin_api import MANIFEST_FILE
from anl_stack.plugins.digest import content_digest
from anl_stack.plugins.manifest import load_manifest
from anl_stack.verify.result import JSON_FORMAT

EVIDENCE_DIR = "evidence"
KINDS = ("check", "lab", "idempotence", "backup-restore", "upgrade")
RECORD_TAG = "anl_stack_record"


# --- shared helpers (also used by reviews) -------------------------------------------

def sha256_file(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def today() -> str:
    return dt.date.today().isoformat()


def unique_stem(folder: Path, stem: str) -> str:
    """``stem``, or ``stem-2``, ``stem-3``... when any file of that stem exists (``stem.yml``, ``stem.json``,
    ``stem.report.json``...): a record and the sources stored with it never share a name with another's."""
    def taken(candidate: str) -> bool:
        return (folder / candidate).exists() or any(folder.glob(f"{glob.escape(candidate)}.*"))

    candidate, n = stem, 1
    while taken(candidate):
        n += 1
        candidate = f"{stem}-{n}"
    return candidate


def write_yaml(path: Path, data: dict[str, Any], comment: str) -> None:
    """A new record file; refused (exit 2) rather than written over an existing one."""
    write_new_file(path, comment + yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
                   root=path.parent.parent)


def read_record(path: Path) -> dict[str, Any] | None:
    """A record as a mapping; None when the file is not one (it is then ignored, and said so)."""
    try:
        data = read_yaml(path).data
    except AnlError:
        return None
    return data if isinstance(data, dict) and RECORD_TAG in data else None


def plugin_identity(folder: Path) -> dict[str, Any]:
    """Name, recipe and app versions (from plugin.yml) and the current content digest."""
    manifest = load_manifest(folder / MANIFEST_FILE)
    return {"plugin": manifest.name, "digest": content_digest(folder), "recipe_version": manifest.version,
            "app_version": str(manifest.app.version)}


def require_plugin_folder(path: Path) -> Path:
    folder = path.resolve()
    if not (folder / "plugin.yml").is_file():
        raise AnlError(_("not a plugin folder"), file=str(folder / "plugin.yml"), key="path",
                       expected=_("a folder holding plugin.yml"))
    return folder


# --- verify reports ------------------------------------------------------------------------

def read_report(path: Path) -> dict[str, Any]:
    """A verify report in its JSON form; exit 2 on anything else."""
    expected = _("a report written by `anl-stack verify ... --report FILE.json`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AnlError(_("cannot read the verify report: {error}").format(error=error), file=str(path), key="--report",
                       expected=expected) from None
    if not isinstance(data, dict) or data.get("format") != JSON_FORMAT:
        raise AnlError(_("not a verify report in JSON form"), file=str(path), key="format", expected=expected)
    return data


def report_facts(report: dict[str, Any], plugin: str) -> dict[str, Any]:
    """What a report says about one plugin: digest, hosts, releases, lab/production, result."""
    entry = next((p for p in report.get("plugins") or [] if p.get("name") == plugin), None)
    hosts = [h for h in report.get("hosts") or [] if plugin in (h.get("plugins") or [])]
    summary = {k: int(v) for k, v in (report.get("summary") or {}).items()}
    passed = report.get("exit_code") == 0
    return {
        "date": report.get("date"),
        "label": report.get("label"),
        "digest": entry.get("digest") if entry else None,
        "recipe_version": entry.get("recipe_version") if entry else None,
        "app_version": entry.get("app_version") if entry else None,
        "hosts": [{"name": h.get("name"), "debian_version": str(h.get("debian_version")),
                   "environment": h.get("environment") or ("lab" if h.get("lab") else "unknown")} for h in hosts],
        "debian_releases": sorted({str(h.get("debian_version")).split(".")[0] for h in hosts}),
        "environments": sorted({h.get("environment") or ("lab" if h.get("lab") else "unknown") for h in hosts}),
        "result": "passed" if passed else "failed",
        "summary": summary,
    }


def report_problem(facts: dict[str, Any], digest: str, plugin: str) -> str | None:
    """Why a report cannot be evidence for the recipe ``digest`` (None when it can)."""
    if facts["digest"] is None or not facts["hosts"]:
        return Text(N_("the report did not verify plugin {plugin!r} on any host"), plugin=plugin)
    if facts["digest"] != digest:
        return Text(N_("the report verified digest {verified}, the recipe is now {digest}: verify again"),
                    verified=facts["digest"], digest=digest)
    if facts["result"] != "passed":
        return Text(N_("the report did not pass"))
    return None


# --- deploy run summaries ------------------------------------------------------------------

def read_run(folder: Path) -> tuple[Path, dict[str, Any]]:
    """``summary.json`` of a deploy run folder (or the file itself)."""
    file = folder / "summary.json" if folder.is_dir() else folder
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise AnlError(_("cannot read the run summary: {error}").format(error=error), file=str(file), key="run",
                       expected=_("a run folder of `anl-stack deploy` (.anl-stack/runs/...)")) from None
    if not isinstance(data, dict) or "kind" not in data or "hosts" not in data:
        raise AnlError(_("not a deploy run summary"), file=str(file), key="run", expected=_("summary.json of a run"))
    return file, data


def run_problem(run: dict[str, Any], kind: str, plugin: str, digest: str) -> str | None:
    """Why a run summary cannot be evidence of ``kind`` for the recipe ``digest``."""
    if run.get("kind") != kind:
        return Text(N_("the run is a {ran!r} run, not {kind!r}"), ran=run.get("kind"), kind=kind)
    if plugin not in (run.get("plugins") or []):
        return Text(N_("the run did not include plugin {plugin!r}"), plugin=plugin)
    ran = (run.get("digests") or {}).get(plugin)
    if ran != digest:
        if ran is None:
            return Text(N_("the run recorded no digest, the recipe is now {digest}"), digest=digest)
        return Text(N_("the run used digest {ran}, the recipe is now {digest}"), ran=ran, digest=digest)
    if run.get("status") != "successful" or run.get("check_mode"):
        if run.get("check_mode"):
            return Text(N_("the run ended {status!r} in check mode"), status=run.get("status"))
        return Text(N_("the run ended {status!r}"), status=run.get("status"))
    hosts = run.get("hosts") or {}
    if not hosts or any(h.get("failed") or h.get("unreachable") for h in hosts.values()):
        return Text(N_("a host failed or was unreachable"))
    if kind == "idempotence" and any(h.get("changed") for h in hosts.values()):
        return Text(N_("something changed on the idempotence run"))
    return None


# --- writing evidence -------------------------------------------------------------------------

@dataclass
class Written:
    records: list[Path] = field(default_factory=list)
    sources: list[Path] = field(default_factory=list)


def _copy_source(src: Path, dest: Path) -> dict[str, Any]:
    write_new_file(dest, src.read_bytes(), root=dest.parent.parent)
    return {"file": dest.name, "sha256": sha256_file(dest)}


#: (run kind, path) pairs of one piece of evidence, loaded: (run kind, file, summary).
LoadedRuns = dict[str, list[tuple[str, Path, dict[str, Any]]]]


def record_evidence(path: Path, report_file: Path, *, idempotence_run: Path | None = None,
                    backup_run: Path | None = None, restore_run: Path | None = None,
                    upgrade_run: Path | None = None) -> Written:
    """Write lab evidence from a passing verify report (plus the runs given); exit 2 when they do not prove it."""
    folder = require_plugin_folder(path)
    ident = plugin_identity(folder)
    facts = _lab_report_facts(report_file, ident)
    if (backup_run is None) != (restore_run is None):
        raise AnlError(_("backup and restore are proven together"), key="--backup-run/--restore-run",
                       expected=_("both --backup-run and --restore-run"))
    runs: dict[str, list[tuple[str, Path]]] = {}
    if idempotence_run:
        runs["idempotence"] = [("idempotence", idempotence_run)]
    if backup_run and restore_run:
        runs["backup-restore"] = [("backup", backup_run), ("restore", restore_run)]
    if upgrade_run:
        runs["upgrade"] = [("upgrade", upgrade_run)]
    loaded = _load_runs(runs, ident["plugin"], ident["digest"])
    return _write_evidence(folder / EVIDENCE_DIR, ident, facts, report_file, loaded)


def _lab_report_facts(report_file: Path, ident: dict[str, Any]) -> dict[str, Any]:
    """What a passing verify report from lab hosts says of this recipe; exit 2 otherwise."""
    name, digest = ident["plugin"], ident["digest"]
    facts = report_facts(read_report(report_file), name)
    problem = report_problem(facts, digest, name)
    if problem:
        raise AnlError(_(problem), file=str(report_file), key="report", expected=_("a passing report on {digest}")
                                                                              .format(digest=digest))
    if facts["environments"] != ["lab"]:
        raise AnlError(_("the report's hosts are not all lab hosts"), file=str(report_file), key="hosts",
                       expected=_("lab evidence comes from `verify --lab`; production evidence goes with a review "
                                  "(`plugins review --evidence`)"))
    if facts["summary"].get("not run"):
        raise AnlError(_("the report left checks not run (a partial deploy or --mark): the whole recipe was not verified"),
                       file=str(report_file), key="summary.not run",
                       expected=_("a report where every check ran (verify --live-test, no --mark; deploy without --tags)"))
    return facts


def _load_runs(runs: dict[str, list[tuple[str, Path]]], name: str, digest: str) -> LoadedRuns:
    """Each run folder's summary, refused (exit 2) unless it is a successful run of that kind on ``digest``."""
    loaded: LoadedRuns = {}
    for kind, items in runs.items():
        loaded[kind] = []
        for run_kind, run_path in items:
            file, data = read_run(run_path)
            why = run_problem(data, run_kind, name, digest)
            if why:
                raise AnlError(_(why), file=str(file), key=run_kind, expected=_("a successful {run_kind} run on {digest}")
                                                                           .format(run_kind=run_kind,
                                                                                   digest=digest))
            loaded[kind].append((run_kind, file, data))
    return loaded


def _write_evidence(out: Path, ident: dict[str, Any], facts: dict[str, Any], report_file: Path,
                    loaded: LoadedRuns) -> Written:
    """The report and runs copied into ``evidence/``, and one record per kind of evidence."""
    out.mkdir(exist_ok=True)
    written = Written()
    stored_report = out / f"{unique_stem(out, f'{today()}-report')}.json"
    source = _copy_source(report_file, stored_report)
    written.sources.append(stored_report)
    for kind in ["lab", *loaded]:
        stem = unique_stem(out, f"{today()}-{kind}")
        record: dict[str, Any] = {RECORD_TAG: "evidence", "kind": kind, **ident,
                                  "created": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                                  "report": {**source, **facts}}
        if kind in loaded:
            record["runs"] = []
            for run_kind, file, data in loaded[kind]:
                stored = out / f"{stem}.{run_kind}-run.json"
                copied = _copy_source(file, stored)
                written.sources.append(stored)
                record["runs"].append({**copied, "kind": run_kind, "status": data.get("status"),
                                       "hosts": data.get("hosts")})
        target = out / f"{stem}.yml"
        write_yaml(target, record, f"# Evidence for {ident['plugin']}, written by `anl-stack plugins evidence`; "
                                   "do not edit (its sources carry digests).\n")
        written.records.append(target)
    return written


def record_check(path: Path, report: Any) -> Path:
    """``plugins check --record``: the check result on the current digest (level 1 needs lint to have run)."""
    folder = require_plugin_folder(path)
    ident = plugin_identity(folder)
    out = folder / EVIDENCE_DIR
    stem = unique_stem(out, f"{today()}-check")
    stored = out / f"{stem}.json"
    write_new_file(stored, json.dumps(report.to_dict(), indent=2) + "\n", root=folder)
    record = {RECORD_TAG: "evidence", "kind": "check", **ident,
              "created": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
              "check": {"file": stored.name, "sha256": sha256_file(stored), "ok": report.ok,
                        "checks": {r.name: r.status for r in report.results}}}
    target = out / f"{stem}.yml"
    write_yaml(target, record, "# Result of `anl-stack plugins check --record`; do not edit.\n")
    return target


# --- reading evidence back -----------------------------------------------------------------

@dataclass
class Evidence:
    file: Path
    kind: str
    digest: str | None
    #: why the record does not count (None when it counts for the current digest)
    problem: str | None


def _source_problem(folder: Path, ref: Any) -> str | None:
    if not isinstance(ref, dict) or not ref.get("file"):
        return Text(N_("names no source file"))
    source = folder / str(ref["file"])
    if not source.is_file() or source.parent != folder:
        return Text(N_("its source {file} is missing"), file=ref["file"])
    if sha256_file(source) != ref.get("sha256"):
        return Text(N_("its source {file} does not match the recorded sha256"), file=ref["file"])
    return None


def evaluate(file: Path, data: dict[str, Any], name: str, digest: str) -> Evidence:
    """Whether one evidence record counts for the recipe ``name`` at ``digest``."""
    kind = str(data.get("kind"))
    ev = Evidence(file, kind, data.get("digest"), None)
    folder = file.parent

    def fail(why: str) -> Evidence:
        ev.problem = why
        return ev

    if kind not in KINDS:
        return fail(Text(N_("unknown kind {kind!r}"), kind=kind))
    if data.get("plugin") != name:
        return fail(Text(N_("it is about plugin {plugin!r}"), plugin=data.get("plugin")))
    if data.get("digest") != digest:
        return fail(Text(N_("changed since this evidence")))
    if kind == "check":
        check = data.get("check") or {}
        why = _source_problem(folder, check)
        if why:
            return fail(why)
        stored = json.loads((folder / check["file"]).read_text(encoding="utf-8"))
        statuses = {c.get("check"): c.get("status") for c in stored.get("checks", [])}
        if not stored.get("ok"):
            return fail(Text(N_("the check had findings")))
        if statuses.get("lint") != "ok":
            return fail(Text(N_("ansible-lint did not run (--no-lint)")))
        return ev
    report = data.get("report") or {}
    why = _source_problem(folder, report)
    if why:
        return fail(why)
    facts = report_facts(json.loads((folder / report["file"]).read_text(encoding="utf-8")), name)
    why = report_problem(facts, digest, name)
    if why:
        return fail(why)
    if facts["environments"] != ["lab"]:
        return fail(Text(N_("the report's hosts are not all lab hosts")))
    if facts["summary"].get("not run"):
        # A run limited by --tags or a verify limited by --mark proves part of the recipe only.
        return fail(Text(N_("the report left checks not run (a partial deploy or --mark): the whole recipe was not "
                               "verified")))
    needed = {"idempotence": ["idempotence"], "backup-restore": ["backup", "restore"], "upgrade": ["upgrade"]}
    for run_kind in needed.get(kind, []):
        ref = next((r for r in data.get("runs") or [] if r.get("kind") == run_kind), None)
        why = _source_problem(folder, ref) if ref else Text(N_("no {run_kind} run"), run_kind=run_kind)
        if why:
            return fail(why)
        run = json.loads((folder / ref["file"]).read_text(encoding="utf-8"))
        why = run_problem(run, run_kind, name, digest)
        if why:
            return fail(why)
    return ev


def load_evidence(folder: Path, name: str, digest: str) -> list[Evidence]:
    found = []
    for file in sorted((folder / EVIDENCE_DIR).glob("*.yml")):
        data = read_record(file)
        if data is None or data.get(RECORD_TAG) != "evidence":
            found.append(Evidence(file, "?", None, Text(N_("not an evidence record"))))
            continue
        found.append(evaluate(file, data, name, digest))
    return found
