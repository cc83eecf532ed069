"""`anl-stack remove`: --purge asks first; an answer other than yes stops it before any host (exit 2)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from anl_stack.cli import cli

QUESTION = "Remove streaming and DELETE its data on its hosts (--lab nolab)?"


def remove(*args: str, answer: str | None = None):  # noqa: ANN201 - click's Result
    return CliRunner().invoke(cli, ["remove", "streaming", "--lab", "nolab", *args], input=answer)


def test_purge_without_yes_asks_and_refuses_on_no(isolated_dirs: Path) -> None:
    result = remove("--purge", answer="n\n")
    assert result.exit_code == 2, result.output
    assert QUESTION in result.output
    assert "not confirmed" in result.stderr
    # Refused before the step was looked at: no lab host was looked up.
    assert "no lab host" not in result.stderr


def test_purge_goes_on_after_yes(isolated_dirs: Path) -> None:
    result = remove("--purge", answer="y\n")
    assert QUESTION in result.output
    assert "not confirmed" not in result.stderr
    assert "no lab host named 'nolab'" in result.stderr  # it went on, to the lab host lookup
    assert result.exit_code == 2


def test_purge_with_yes_and_plain_remove_do_not_ask(isolated_dirs: Path) -> None:
    for args in (("--purge", "--yes"), ()):
        result = remove(*args)
        assert "DELETE" not in result.output, args
        assert "no lab host named 'nolab'" in result.stderr, args
