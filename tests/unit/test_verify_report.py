"""Reports (Markdown, HTML), the content digest and the CLI's refusals."""

from __future__ import annotations

import html.parser
import subprocess
import sys
from pathlib import Path

import pytest

from anl_stack.core.errors import AnlError
from anl_stack.plugins.digest import content_digest
from anl_stack.verify.report import check_report_path, render, write_report


def test_markdown_report_has_every_fact(sample_result) -> None:
    text = render(sample_result, ".md")
    for expected in ("2026-11-28T10:00:00+01:00", "/srv/inventories/exemple", "13.8 (trixie)",
                     "| hello | 0.1.0 | 1.0.0 | `sha256:" + "ab" * 32 + "` |", "nginx = 1.26.3-3",
                     "**FAIL**", "no input chain with policy drop — *Hint:* fix test_firewall_default_deny",
                     "| test_time_synchronised | baseline | **n/a** |", "inside a container", "FAILED"):
        assert expected in text
    # an n/a check is never shown as passed
    line = next(li for li in text.splitlines() if li.startswith("| test_time_synchronised"))
    assert "PASS" not in line


class _Cells(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        data = dict(attrs)
        if tag == "tr" and "data-check" in data:
            self.rows.append({k: v or "" for k, v in data.items()})


def test_html_report_escapes_and_marks_outcomes(sample_result, tmp_path: Path) -> None:
    out = write_report(sample_result, tmp_path / "r.html")
    text = out.read_text()
    assert "&lt;things&gt; &amp; more" in text and "<things>" not in text
    parser = _Cells()
    parser.feed(text)
    assert {r["data-check"]: r["data-outcome"] for r in parser.rows} == {
        "test_ssh_password_login_off": "passed", "test_firewall_default_deny": "failed",
        "test_time_synchronised": "n/a", "test_reload_keeps_serving": "not run"}


def test_report_format_is_checked(tmp_path: Path) -> None:
    with pytest.raises(AnlError) as caught:
        check_report_path(tmp_path / "r.pdf")
    assert caught.value.exit_code == 2


def test_digest_changes_with_content_and_names_but_not_caches(tmp_path: Path) -> None:
    (tmp_path / "roles" / "x").mkdir(parents=True)
    (tmp_path / "plugin.yml").write_text("name: x\n")
    (tmp_path / "roles" / "x" / "main.yml").write_text("a: 1\n")
    first = content_digest(tmp_path)
    assert first.startswith("sha256:") and len(first) == 7 + 64
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "m.pyc").write_bytes(b"\0")
    assert content_digest(tmp_path) == first
    (tmp_path / "roles" / "x" / "main.yml").write_text("a: 2\n")
    second = content_digest(tmp_path)
    assert second != first
    (tmp_path / "roles" / "x" / "main.yml").rename(tmp_path / "roles" / "x" / "other.yml")
    assert content_digest(tmp_path) not in (first, second)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "anl_stack", "verify", *args], capture_output=True, text=True,
                          timeout=120, check=False)


def test_cli_refuses_invalid_input(tmp_path: Path) -> None:
    missing = _cli("-i", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "inventory not found" in missing.stderr
    assert "Traceback" not in missing.stderr
    both = _cli("-i", str(tmp_path), "--lab", "x")
    assert both.returncode == 2 and "exactly one of" in both.stderr
    bad_report = _cli("-i", str(tmp_path), "--report", "r.pdf", "--json")
    assert bad_report.returncode == 2 and '"exit_code": 2' in bad_report.stdout


def test_cli_help_does_not_import_testinfra() -> None:
    code = ("import sys; from anl_stack.cli import cli\n"
            "try:\n    cli(['verify', '--help'])\nexcept SystemExit: pass\n"
            "bad = [m for m in ('testinfra', 'pytest', 'ansible', 'ansible_runner') if m in sys.modules]\n"
            "print('IMPORTED', bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "--live-test" in out and "IMPORTED []" in out


def test_json_report_for_evidence(sample_result, tmp_path: Path) -> None:
    import json

    from anl_stack.verify.report import JSON_FORMAT

    data = json.loads(write_report(sample_result, tmp_path / "r.json").read_text())
    assert data["format"] == JSON_FORMAT
    assert data["plugins"][0]["digest"] == "sha256:" + "ab" * 32
    assert data["exit_code"] == 1 and data["summary"]["n/a"] == 1


def test_json_report_names_itself(sample_result, tmp_path: Path, monkeypatch) -> None:
    """The `report` field of a written JSON report is the file's absolute path, not null."""
    import json

    monkeypatch.chdir(tmp_path)
    data = json.loads(write_report(sample_result, Path("out.json")).read_text())
    assert data["report"] == str(tmp_path / "out.json") == sample_result.report
