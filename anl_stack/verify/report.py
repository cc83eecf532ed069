"""Dated verify reports a commune can file: Markdown and HTML, and JSON for tools.

Both come from Jinja templates in ``anl_stack/verify/templates/`` and carry the
same facts: date, inventory, hosts with their Debian release, each plugin's
recipe version, content digest and app version, every check with its
result, explanation and (on failure) remediation hint. A check that could
not apply is shown as "n/a" with its reason, never as passed. The JSON form
(``FILE.json``) is the same result as ``verify --json`` with a format tag; it
is what ``plugins evidence`` and ``plugins review`` read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2

from anl_stack.core.errors import AnlError
from anl_stack.core.files import check_writable, write_file
from anl_stack.core.i18n import N_, _, check_text, current_language
from anl_stack.verify.result import JSON_FORMAT, JSON_FORMAT_VERSION, VerifyResult

FORMATS = {".md": "verify_report.md.j2", ".markdown": "verify_report.md.j2",
           ".html": "verify_report.html.j2", ".htm": "verify_report.html.j2", ".json": ""}
LABELS = {"passed": N_("PASS"), "failed": N_("FAIL"), "error": N_("ERROR"), "n/a": N_("n/a"), "skipped": N_("SKIP"),
          "not run": N_("not run")}


#: Texts the templates show through a variable: the verdict and the kind of host.
SHOWN = (N_("PASSED"), N_("FAILED"), N_("lab"), N_("production"))


def check_report_path(path: Path) -> None:
    """Refuse (exit 2) a report file whose format we cannot write, or in a place we cannot write.

    Checked before the hosts are: a verify run must not fail at its end for want of a folder.
    """
    if path.suffix.lower() not in FORMATS:
        raise AnlError(_("unknown report format"), file=str(path), key="--report",
                       expected=_("a file name ending in .md, .html or .json"))
    check_writable(path, key="--report")


def label(outcome: str) -> str:
    """A check's outcome as reports show it, in the current language (JSON keeps the outcome itself)."""
    return _(LABELS[outcome]) if outcome in LABELS else outcome


def _md_cell(value: Any) -> str:
    return str(value or "").replace("|", "\\|").replace("\n", " ")


def _environment(autoescape: bool) -> Any:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("anl_stack.verify", "templates"),
        autoescape=autoescape, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["label"] = label
    env.globals["_"] = _  # texts marked {{ _("...") }}: Babel extracts them (babel.cfg), shown in the current language
    env.filters["md"] = _md_cell
    env.filters["check_text"] = check_text  # a check's explanation and hint (JSON keeps them as written)
    return env


def _by_host(result: VerifyResult) -> list[dict[str, Any]]:
    groups = []
    for host in result.hosts:
        rows = [c for c in result.checks if c.get("host") == host["name"]]
        groups.append({**host, "checks": rows})
    orphans = [c for c in result.checks if c.get("host") not in {h["name"] for h in result.hosts}]
    if orphans:
        groups.append({"name": _("(no host)"), "plugins": [], "debian_version": "", "codename": None,
                       "facts": {}, "checks": orphans})
    return groups


def render(result: VerifyResult, fmt: str) -> str:
    """``fmt`` is ``.md``, ``.html`` or ``.json``."""
    if fmt == ".json":
        data = {"format": JSON_FORMAT, "format_version": JSON_FORMAT_VERSION, **result.to_dict()}
        return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"
    template = FORMATS[fmt]
    env = _environment(autoescape=template.endswith(".html.j2"))
    return env.get_template(template).render(r=result, hosts=_by_host(result), lang=current_language(), verdict=(
        "PASSED" if result.exit_code == 0 else "FAILED"))


def write_report(result: VerifyResult, path: Path) -> Path:
    """Write the report; ``result.report`` names it first, so the JSON form says where it was written too."""
    check_report_path(path)
    result.report = str(path.resolve())
    write_file(path, render(result, path.suffix.lower()), root=path.parent)
    return path
