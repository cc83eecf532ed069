"""The README's newcomer commands are the ones CI and the project actually run."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _shell_blocks(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", text, re.S)]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    test_commands = [b for b in _shell_blocks(readme) if "pytest" in b and "\n" not in b]
    assert len(test_commands) == 1, test_commands
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_commands[0] in ci_lines


def test_readme_main_job_uses_existing_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    main_job = next(b for b in _shell_blocks(readme) if "--lab demo" in b)
    assert main_job.startswith("bash scripts/bootstrap.sh && ")
    assert (ROOT / "scripts" / "bootstrap.sh").is_file()
    steps = main_job.split(" && ")[1:]
    assert steps, main_job
    for step in steps:
        assert step.startswith(".venv/bin/anl-stack "), step
