"""The engine choice (anl_stack.deploy.engines): precedence, refusals, what ansible.cfg gets."""

from __future__ import annotations

import configparser
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from anl_stack.cli import cli
from anl_stack.core.errors import AnlError
from anl_stack.deploy import ansible_cfg, engines


@pytest.fixture(autouse=True)
def no_engine_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(engines.ENGINE_ENV, raising=False)


def test_the_command_line_wins_over_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert engines.chosen({}) == engines.DEFAULT
    assert engines.chosen({"anl_engine": "ansible"}) == "ansible"
    monkeypatch.setenv(engines.ENGINE_ENV, "mitogen")
    assert engines.chosen({"anl_engine": "ansible"}) == "mitogen"


def test_an_unknown_engine_names_the_setting_and_its_file(tmp_path: Path) -> None:
    settings = tmp_path / "anl.yml"
    with pytest.raises(AnlError) as error:
        engines.chosen({"anl_engine": "turbo"}, settings)
    record = error.value.records[0]
    assert (record.file, record.key) == (str(settings), "anl_engine")
    assert "ansible, mitogen" in str(record.expected)


@pytest.mark.parametrize(("mitogen", "core", "why"), [
    (None, "2.19.14", "Mitogen is not installed"),
    ("0.3.54", "2.21.0", "not known to work with ansible-core 2.21.0"),
    ("0.3.1", "2.19.14", "mitogen 0.3.1 is not known to work"),
])
def test_a_mismatched_pair_is_refused(mitogen: str | None, core: str, why: str) -> None:
    with pytest.raises(AnlError) as error:
        engines.check_pair(mitogen, core)
    assert why in str(error.value)
    assert "--engine ansible" in str(error.value.records[0].expected)


def test_the_supported_pair_passes() -> None:
    for mitogen, series in engines.SUPPORTED.items():
        engines.check_pair(mitogen, f"{series[0]}.3")


def test_the_installed_pair_is_supported() -> None:
    # pyproject.toml pins Mitogen; the pin and SUPPORTED must move together.
    engine = engines.resolve("mitogen")
    assert (engine.strategy_plugins / "mitogen_linear.py").is_file()


def test_ansible_cfg_names_the_strategy_only_for_mitogen() -> None:
    def defaults(engine: engines.Engine | None) -> configparser.SectionProxy:
        cfg = configparser.ConfigParser(interpolation=None)
        cfg.read_string(ansible_cfg.render(host_key_checking=False, engine=engine))
        return cfg["defaults"]

    mitogen = defaults(engines.resolve("mitogen"))
    assert mitogen["strategy"] == "mitogen_linear"
    assert Path(mitogen["strategy_plugins"]).is_dir()
    assert "strategy" not in defaults(engines.resolve("ansible"))
    assert "strategy" not in defaults(None)


def test_engine_option_refuses_an_unknown_value_and_leaves_no_trace() -> None:
    result = CliRunner().invoke(cli, ["deploy", "hello", "--lab", "x", "--engine", "turbo"])
    assert result.exit_code == 2
    assert "'turbo' is not one of 'ansible', 'mitogen'" in result.output
    assert engines.ENGINE_ENV not in os.environ


def test_engine_option_holds_for_one_command_only(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["deploy", "hello", "-i", str(tmp_path / "none"), "--engine", "ansible"])
    assert result.exit_code == 2, result.output
    assert engines.ENGINE_ENV not in os.environ
