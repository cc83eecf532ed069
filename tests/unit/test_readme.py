"""The README's newcomer commands are the ones CI and the project actually run."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from anl_stack.cli import cli

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


# The line that puts the virtualenv's anl-stack on PATH (bootstrap installs it in .venv only).
ON_PATH = 'export PATH="$PWD/.venv/bin:$PATH"'
# What a command line of the README may start with: a Debian machine's own commands, or the checkout's.
KNOWN_PROGRAMS = ("bash", "git", "cd", "export", "sensible-editor")
GUIDES = ("README.md", "docs/README.md", "docs/README.fr.md")


def _lines(block: str) -> list[str]:
    """A shell block's commands: comments dropped, `a && b` split."""
    return [step.strip() for line in block.splitlines() for step in line.split("#")[0].split(" && ") if step.strip()]


def _anl_stack_commands(text: str) -> list[list[str]]:
    """The arguments of every `anl-stack ...` command, in shell blocks and in inline code."""
    found = [line for block in _shell_blocks(text) for line in _lines(block)]
    found += re.findall(r"`((?:\.venv/bin/)?anl-stack [^`]+)`", text)
    commands = [shlex.split(line)[1:] for line in found if line.split()[0] in ("anl-stack", ".venv/bin/anl-stack")]
    return [args for args in commands if "..." not in args]  # `anl-stack ...`: any command


def test_readme_commands_run_as_written() -> None:
    readme = (ROOT / "README.md").read_text()
    for block in _shell_blocks(readme):
        lines = _lines(block)
        for number, line in enumerate(lines):
            program = line.split()[0]
            if program == "anl-stack":  # found only once the virtualenv is on PATH
                assert ON_PATH in lines[:number], block
            else:
                assert program in KNOWN_PROGRAMS or program.startswith(".venv/bin/"), line


@pytest.mark.parametrize("guide", GUIDES)
def test_every_anl_stack_command_of_the_guides_exists(guide: str) -> None:
    commands = _anl_stack_commands((ROOT / guide).read_text())
    assert commands, guide
    for args in commands:
        # --help is eager: the subcommands and option names are checked, nothing runs.
        result = CliRunner().invoke(cli, [*args, "--help"])
        assert result.exit_code == 0, (guide, args, result.output)


@pytest.mark.parametrize("guide", GUIDES[1:])
def test_the_guides_say_how_to_put_anl_stack_on_path(guide: str) -> None:
    assert ON_PATH in (ROOT / guide).read_text()
