"""Benchmark plumbing: the runner's help, and result files from sample numbers (no timing is asserted)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = PROJECT_ROOT / "benchmarks"


def load_common():
    spec = importlib.util.spec_from_file_location("anl_benchmarks_common", BENCHMARKS / "_common.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_run_help_lists_options_and_sections() -> None:
    done = subprocess.run([sys.executable, str(BENCHMARKS / "run.py"), "--help"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    for word in ("--quick", "--out", "--runs", "--only", "startup", "fleet", "ssh"):
        assert word in done.stdout


def test_run_refuses_fewer_than_three_runs() -> None:
    done = subprocess.run([sys.executable, str(BENCHMARKS / "run.py"), "--runs", "2"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "at least 3" in done.stderr


def test_result_writer_produces_json_and_markdown(tmp_path: Path) -> None:
    common = load_common()
    wrapped = common.Figure("deploy overhead", "anl-stack deploy hello", values=[10.0, 12.0, 11.0],
                            loads=[1.0, 1.5, 1.2])
    plain = common.Figure("deploy overhead", "ansible-playbook", values=[10.0, 10.0, 11.0], loads=[1.0, 1.1, 1.2])
    share = common.Figure("first deploy", "hello: share in apt", unit="%", values=[42.0], loads=[0.5])
    results = {
        "mode": "quick", "date": "2026-01-01T00:00:00+00:00", "runs": 3,
        "machine": {"cpu": "Sample CPU", "cores": 2, "memory_gb": 4.0, "debian": "13.0", "kernel": "6.1",
                    "python": "3.11", "load1_at_start": 0.5},
        "figures": [wrapped.to_dict(), plain.to_dict(), share.to_dict()],
        "ratios": [common.ratio("anl-stack deploy / ansible-playbook (hello)", wrapped, plain)],
        "goals": [{"goal": "deploy overhead ratio under 1.05", "measured": "1.100", "met": False}],
        "skipped": ["build: not with --quick"],
    }
    json_path, md_path = common.write_results(results, tmp_path / "out")

    data = json.loads(json_path.read_text())
    first = data["figures"][0]
    assert (first["median"], first["min"], first["max"], first["runs"]) == (11.0, 10.0, 12.0, 3)
    assert first["load1_median"] == 1.2
    assert data["ratios"][0]["ratio"] == 1.1   # 11 / 10, ratio of medians

    text = md_path.read_text()
    assert "Sample CPU, 2 cores" in text
    tables = [line for line in text.splitlines() if line.startswith("|")]
    assert tables and all(line.endswith("|") for line in tables)
    header = "| figure | median | min | max | runs | load (1 min) | note |"
    assert text.count(header) == 2            # one table per section
    row = next(line for line in tables if "anl-stack deploy hello" in line)
    assert [c.strip() for c in row.strip("|").split("|")][:5] == ["anl-stack deploy hello", "11.00 s", "10.00",
                                                                   "12.00", "3"]
    assert "| 42.00 % |" in text
    assert "| deploy overhead ratio under 1.05 | 1.100 | no |" in text
    assert "- build: not with --quick" in text


def test_summary_of_samples() -> None:
    common = load_common()
    assert common.summary([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0, "runs": 3}
