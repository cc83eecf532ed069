"""The result of a verify run: the one schema reports, evidence and reviews read.

A leaf module: it imports nothing from anl-stack but ``core``, so records
(evidence, reviews) may depend on it without depending on how verify runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from anl_stack.core.errors import ExitCode

#: Outcomes of one check on one host, in report order.
OUTCOMES = ("passed", "failed", "error", "n/a", "skipped", "not run")
#: ``format`` value of a JSON report (readers refuse other files).
JSON_FORMAT = "anl-stack verify report"
JSON_FORMAT_VERSION = 1


@dataclass
class VerifyResult:
    date: str
    inventory: str
    label: str
    marker_expr: str | None
    hosts: list[dict[str, Any]]
    plugins: list[dict[str, Any]]
    checks: list[dict[str, Any]]
    summary: dict[str, int]
    notes: list[str]
    run_dir: str
    junit: str
    log: str
    report: str | None = None

    @property
    def exit_code(self) -> int:
        ok = self.summary.get("failed", 0) == 0 and self.summary.get("error", 0) == 0
        ran = self.summary.get("passed", 0) + self.summary.get("n/a", 0) > 0
        return int(ExitCode.OK if ok and ran else ExitCode.FAILED)

    def to_dict(self) -> dict[str, Any]:
        return {"date": self.date, "inventory": self.inventory, "label": self.label,
                "marker_expr": self.marker_expr, "hosts": self.hosts, "plugins": self.plugins,
                "checks": self.checks, "summary": self.summary, "notes": self.notes,
                "exit_code": self.exit_code, "run_dir": self.run_dir, "junit": self.junit,
                "log": self.log, "report": self.report}

