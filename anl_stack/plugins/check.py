"""``plugins check``: everything a reviewer would check first, as located findings.

Each check returns :class:`~anl_stack.core.errors.ErrorRecord` findings (file,
line, key, message, expected). Checks that need Ansible or pytest run them
in a child process (``ansible-lint``, ``ansible-playbook --syntax-check``,
``pytest --collect-only``), so this module stays cheap to import.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anl_stack.adapters import ansible_tools
from anl_stack.core.errors import AnlError, ErrorRecord
from anl_stack.core.i18n import _
from anl_stack.core.links import require_contained
from anl_stack.core.paths import project_root, shared_roles_dir
from anl_stack.core.yamlfile import TextDatesLoader, YamlDoc, read_yaml
from anl_stack.plugin_api import (
    CHECKS_DIR,
    CHECKS_GLOB,
    DEPLOY,
    FICHE_LANGUAGES,
    FICHE_SECTIONS,
    LIFECYCLE,
    MANIFEST_FILE,
    ROLES_DIR,
    fiche_file,
)
from anl_stack.plugins import facts as decision_facts
from anl_stack.plugins.fiches import missing_sections
from anl_stack.plugins.manifest import load_manifest
from anl_stack.plugins.roles import load_role_spec, spec_file


@dataclass
class CheckResult:
    name: str
    findings: list[ErrorRecord] = field(default_factory=list)
    skipped: str | None = None
    #: Printed, never failing the check (old facts).
    warnings: list[ErrorRecord] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "skipped" if self.skipped else ("ok" if not self.findings else "failed")

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.name, "status": self.status, "skipped": self.skipped,
                "findings": [f.to_dict() for f in self.findings],
                "warnings": [w.to_dict() for w in self.warnings]}


@dataclass
class CheckReport:
    path: Path
    results: list[CheckResult]

    @property
    def ok(self) -> bool:
        return all(not r.findings for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "ok": self.ok, "checks": [r.to_dict() for r in self.results]}


def _ansible_env(plugin: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(ansible_tools.BIN) + os.pathsep + env.get("PATH", "")
    env["ANSIBLE_ROLES_PATH"] = os.pathsep.join([str(plugin / "roles"), str(shared_roles_dir())])
    env["ANSIBLE_NOCOLOR"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


# --- the checks ----------------------------------------------------------------

def check_manifest(plugin: Path) -> tuple[list[ErrorRecord], Any]:
    try:
        return [], load_manifest(plugin)
    except AnlError as error:
        return list(error.records), None


def check_fiches(plugin: Path) -> list[ErrorRecord]:
    found = []
    for lang in FICHE_LANGUAGES:
        path = fiche_file(plugin, lang)
        rel = path.relative_to(plugin)
        if not path.is_file():
            found.append(ErrorRecord(_("fiche missing"), str(path), None, f"fiche.{lang}",
                                     _("{rel} with sections: {fiche_sections}")
                                     .format(rel=rel, fiche_sections=', '.join(FICHE_SECTIONS[lang]))))
            continue
        text = path.read_text(encoding="utf-8")
        for section in missing_sections(text, lang):  # type: ignore[arg-type]
            found.append(ErrorRecord(_("required section '{section}' is missing").format(section=section), str(path),
                                     len(text.splitlines()) or 1, f"fiche.{lang}", _("a heading '## {section}'")
                                                                                   .format(section=section)))
    return found


def _manifest_doc(plugin: Path) -> YamlDoc:
    """The manifest's node tree, to give a finding its line (the model has already validated the data)."""
    return read_yaml(plugin / MANIFEST_FILE, loader=TextDatesLoader, expected="a YAML mapping")


def check_artifacts(plugin: Path, manifest: Any) -> list[ErrorRecord]:
    doc = _manifest_doc(plugin)
    file = doc.file
    found = []
    for index, artifact in enumerate(manifest.deployment.artifacts):
        loc = ("deployment", "artifacts", index)
        key = f"deployment.artifacts[{index}]"
        if not artifact.pinned and not artifact.commune_pin:
            found.append(ErrorRecord(_("artifact {artifact!r} is trusted by nothing").format(artifact=artifact.name), str(file),
                                     doc.line(*loc), key, _("sha256, sha512 or signature with a pinned key")))
        sig = artifact.signature
        if sig and sig.key_file and not (plugin / sig.key_file).is_file():
            found.append(ErrorRecord(_("signing key file {key_file!r} is not in the plugin")
                                     .format(key_file=sig.key_file), str(file),
                                     doc.line(*loc, "signature", "key_file"), key + ".signature.key_file",
                                     _("a key file shipped in the plugin")))
    return found


def check_facts(plugin: Path, manifest: Any, max_age_months: int,
                today: dt.date | None = None) -> tuple[list[ErrorRecord], list[ErrorRecord]]:
    """Findings: facts whose source a reader cannot open. Warnings: facts older than ``max_age_months``."""
    doc = _manifest_doc(plugin)
    file = str(doc.file)
    roots = [plugin, project_root()]

    def line(key: str) -> int | None:
        loc = tuple(int(p) if p.isdigit() else p for p in key.replace("[", ".").replace("]", "").split("."))
        return doc.line(*loc)

    findings = [ErrorRecord(_("source cannot be opened by a reader"), file, line(ref.key), ref.key + ".source",
                            _("a public URL (https://...) or a file of the repository (docs/sources/...)"))
                for ref in decision_facts.unopenable(manifest, roots)]
    warnings = []
    for ref, age in decision_facts.old_facts(manifest, max_age_months, today):
        since = ref.fact.dated or ref.fact.checked.isoformat()
        what = _("fact is {age} months old (source dated {since})") if ref.fact.dated \
            else _("fact is {age} months old (undated source last checked {since})")
        warnings.append(ErrorRecord(what.format(age=age, since=since), file, line(ref.key),
                                    ref.key, _("a source checked again, at most {max_age_months} months old")
                                             .format(max_age_months=max_age_months)))
    return findings, warnings


def check_settings(plugin: Path, manifest: Any) -> list[ErrorRecord]:
    """Variables the manifest names (``allow_from_setting``, the secrets it generates) must be options of
    the role's argument specs: Ansible validates only what they declare, and a secret the role never reads
    is generated for nothing (or read under another name)."""
    role_dir = plugin / ROLES_DIR / manifest.name
    spec = load_role_spec(manifest.name, role_dir)
    if spec is None:
        specs = spec_file(role_dir)
        return [ErrorRecord(_("role has no argument specs"), str(specs), None, "argument_specs",
                            str(specs.relative_to(plugin)))]
    specs, options = spec.file, spec.options
    doc = _manifest_doc(plugin)
    file = doc.file
    named: list[tuple[str, tuple[Any, ...]]] = []
    for i, port in enumerate(manifest.deployment.ports):
        for key in ("allow_from_setting", "open_when_setting"):
            if getattr(port, key):
                named.append((getattr(port, key), ("deployment", "ports", i, key)))
    for i, secret in enumerate(manifest.deployment.secrets):
        named.append((secret.name, ("deployment", "secrets", i, "name")))
    found = []
    for name, loc in named:
        if name not in options:
            key = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in loc).replace(".[", "[")
            what = "secret" if loc[1] == "secrets" else "setting"
            found.append(ErrorRecord(_("{what} {name!r} is not an option of the role's argument specs")
                                     .format(what=what, name=name), str(file),
                                     doc.line(*loc), key, _("an option {name} in {specs}")
                                                          .format(name=name, specs=specs)))
        elif loc[-1] == "open_when_setting" and (options[name].get("type") != "bool"
                                                 or options[name].get("default", False) is not False):
            # The controller opens the port from the inventory alone: unset must mean the role's default.
            found.append(ErrorRecord(_("setting {name!r} opens a port: it must be a bool option whose default is false")
                                     .format(name=name), str(file), doc.line(*loc),
                                     f"deployment.ports[{loc[2]}].open_when_setting",
                                     _("type: bool, default: false in {specs}").format(specs=specs)))
    return found


_ANSIBLE_WHERE = re.compile(r"The error appears to be in '([^']+)': line (\d+)")
_ORIGIN = re.compile(r"Origin: (\S+?):(\d+)(?::\d+)?")


def check_syntax(plugin: Path) -> list[ErrorRecord]:
    playbook = plugin / DEPLOY.playbook
    proc = ansible_tools.syntax_check(playbook, env=_ansible_env(plugin), cwd=plugin)
    if proc.returncode == 0:
        return []
    text = proc.text
    where = _ANSIBLE_WHERE.search(text) or _ORIGIN.search(text)
    first = next((line for line in text.splitlines() if "ERROR" in line), text.strip().splitlines()[0] if text.strip() else _("syntax check failed"))
    return [ErrorRecord(first.replace("[ERROR]: ", "").replace("ERROR! ", "").strip(),
                        where.group(1) if where else str(playbook), int(where.group(2)) if where else None,
                        "syntax", _("a playbook ansible-playbook --syntax-check accepts"))]


def lint_config() -> Path:
    """The one ansible-lint configuration: the source tree's ``.ansible-lint``."""
    return project_root() / ".ansible-lint"


def check_lint(plugin: Path, manifest_name: str | None) -> list[ErrorRecord]:
    # Relative targets and the plugin as project dir: ansible-lint ignores files outside its project.
    # The same configuration as the repository's own lint (profile production, strict, offline).
    targets = [step.playbook for step in LIFECYCLE if (plugin / step.playbook).is_file()]
    if manifest_name and (plugin / ROLES_DIR / manifest_name).is_dir():
        targets.append(f"{ROLES_DIR}/{manifest_name}")
    proc = ansible_tools.ansible_lint(plugin, targets, config=lint_config(), env=_ansible_env(plugin))
    try:
        issues = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError:
        if proc.returncode == 0:
            return []
        return [ErrorRecord(_("ansible-lint failed: {output}")
                            .format(output=(proc.stderr or proc.stdout).strip()[-500:]),
                            str(plugin), None, "lint", _("ansible-lint to run"))]
    found = []
    for issue in issues:
        loc = issue.get("location") or {}
        lines = loc.get("lines") or {}
        line = lines.get("begin") if isinstance(lines.get("begin"), int) else \
            ((loc.get("positions") or {}).get("begin") or {}).get("line")
        path = loc.get("path") or ""
        path = str((plugin / path).resolve()) if path and not os.path.isabs(path) else path
        found.append(ErrorRecord(issue.get("description") or issue.get("check_name", "lint"), path, line,
                                 issue.get("check_name") or "lint", _("ansible-lint clean at the production profile")))
    if not found and proc.returncode != 0:
        found.append(ErrorRecord(_("ansible-lint failed: {output}").format(output=proc.stderr.strip()[-500:]), str(plugin), None, "lint",
                                 _("ansible-lint clean at the production profile")))
    return found


#: One "ERROR collecting ..." block of ``pytest --collect-only`` per module that failed to import.
_COLLECT_ERROR = re.compile(r"^_{3,} ERROR collecting .*? _{3,}$", re.MULTILINE)
#: A traceback frame (``path.py:12: in ...``) or a compiler location (``File "path.py", line 12``).
_FRAME = re.compile(r'File "([^"]+\.py)", line (\d+)|(\S+\.py):(\d+)')
#: The exception pytest prints last: ``E   SyntaxError: invalid syntax``.
_EXCEPTION = re.compile(r"^E\s+([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)\b.*)$")


def _test_file(path: str, tests: list[Path]) -> Path | None:
    """The plugin's test file that ``path`` names (pytest prints paths relative to its own root)."""
    parts = tuple(p for p in Path(path).parts if p not in ("..", "."))
    return next((t for t in tests if parts and t.parts[-len(parts):] == parts), None)


def _collection_error(block: str, tests: list[Path], folder: Path) -> ErrorRecord:
    """One finding for one failed module: the deepest frame in the plugin's tests (not in pytest's
    own code, which a syntax error's traceback goes through) and the exception's name and message."""
    frames = [(m.group(1) or m.group(3), int(m.group(2) or m.group(4))) for m in _FRAME.finditer(block)]
    ours = [(str(found), line) for path, line in frames if (found := _test_file(path, tests))]
    file, line = ours[-1] if ours else (str(folder), None)
    lines = [row.rstrip() for row in block.splitlines()]
    exceptions = [m.group(1) for row in lines if (m := _EXCEPTION.match(row))]
    first_e = next((row[1:].strip() for row in lines if row.startswith("E ")), None)
    return ErrorRecord(exceptions[-1] if exceptions else first_e or "collection failed", file, line,
                       "verify", _("verify tests that pytest collects"))


def check_verify_tests(plugin: Path) -> list[ErrorRecord]:
    folder = plugin / CHECKS_DIR
    tests = sorted(folder.glob(CHECKS_GLOB)) if folder.is_dir() else []
    if not tests:
        return [ErrorRecord(_("no verify test"), str(folder), None, "verify", _("at least one verify/test_*.py"))]
    proc = ansible_tools.pytest_collect(tests, env=_ansible_env(plugin))
    if proc.returncode == 0:
        return []
    if proc.returncode == 5:
        return [ErrorRecord(_("verify tests collect no test"), str(folder), None, "verify",
                            _("verify tests that pytest collects"))]
    text = (proc.stdout + proc.stderr).split("short test summary info")[0]
    blocks = _COLLECT_ERROR.split(text)[1:] or [text]
    return [_collection_error(block, tests, folder) for block in blocks]


def check_plugin(path: Path, *, lint: bool = True, max_fact_age: int = decision_facts.DEFAULT_MAX_AGE_MONTHS,
                 today: dt.date | None = None) -> CheckReport:
    """Run every check on the plugin folder ``path``; facts older than ``max_fact_age`` months warn."""
    plugin = path.resolve()
    if not (plugin / MANIFEST_FILE).is_file():
        raise AnlError(_("not a plugin folder"), file=str(plugin / MANIFEST_FILE), key="path",
                       expected=_("a folder holding plugin.yml"))
    # Refused, not a finding: checking would read (and print) what the links point at.
    require_contained(plugin)
    results: list[CheckResult] = []
    findings, manifest = check_manifest(plugin)
    results.append(CheckResult("manifest", findings))

    def run(name: str, func: Callable[[], list[ErrorRecord]], *, needs_manifest: bool = False,
            needs_playbook: bool = False, skip: str | None = None) -> None:
        if skip:
            results.append(CheckResult(name, skipped=skip))
        elif needs_manifest and manifest is None:
            results.append(CheckResult(name, skipped="manifest invalid"))
        elif needs_playbook and not (plugin / DEPLOY.playbook).is_file():
            results.append(CheckResult(name, [ErrorRecord(_("recipe: not yet available"), str(plugin / DEPLOY.playbook),
                                                          None, "recipe", f"a {DEPLOY.playbook}")]))
        else:
            results.append(CheckResult(name, func()))

    if manifest is None:
        results.append(CheckResult("facts", skipped="manifest invalid"))
    else:
        found, warned = check_facts(plugin, manifest, max_fact_age, today)
        results.append(CheckResult("facts", found, warnings=warned))
    run("fiches", lambda: check_fiches(plugin))
    run("artifacts", lambda: check_artifacts(plugin, manifest), needs_manifest=True)
    run("settings", lambda: check_settings(plugin, manifest), needs_manifest=True)
    run("syntax", lambda: check_syntax(plugin), needs_playbook=True)
    run("lint", lambda: check_lint(plugin, manifest.name if manifest else None), needs_playbook=True,
        skip=None if lint else "--no-lint")
    run("verify", lambda: check_verify_tests(plugin))
    return CheckReport(plugin, results)
