"""Mastodon's upgrade rule (plugins/mastodon/roles/mastodon/filter_plugins/mastodon_series.py).

Patch versions may be skipped, minor series may not: the filters the upgrade
step uses to refuse an upgrade, loaded from their file, and run once through
Ansible's templating as the role runs them.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from ansible.errors import AnsibleFilterError

ROLE = Path(__file__).resolve().parents[2] / "plugins/mastodon/roles/mastodon"
SERIES = ["4.3", "4.4", "4.5", "4.6", "4.7"]


@pytest.fixture(scope="module")
def series() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mastodon_series", ROLE / "filter_plugins/mastodon_series.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("version", "expected"), [("4.5.7", "4.5"), ("v4.7.0", "4.7"), ("4.10.2", "4.10"),
                                                   ("4.6.0-rc.1", "4.6")])
def test_series_of_a_version(series: ModuleType, version: str, expected: str) -> None:
    assert series.mastodon_series(version) == expected


@pytest.mark.parametrize("bad", ["", "4.5", "latest", "4.x.1", None])
def test_not_a_version_is_an_error(series: ModuleType, bad: str) -> None:
    with pytest.raises(AnsibleFilterError, match="not a Mastodon version"):
        series.mastodon_series(bad)


@pytest.mark.parametrize(("installed", "target"), [("4.6.2", "4.7.0"), ("4.7.0", "4.7.0"), ("4.6.0", "4.6.3"),
                                                   ("4.3.1", "4.4.9")])
def test_next_series_or_a_patch_is_allowed(series: ModuleType, installed: str, target: str) -> None:
    assert series.mastodon_skipped_series(installed, target, SERIES) == []


@pytest.mark.parametrize(("installed", "target", "skipped"), [("4.3.9", "4.5.0", ["4.4"]),
                                                              ("4.3.0", "4.7.0", ["4.4", "4.5", "4.6"]),
                                                              ("4.5.7", "4.7.0", ["4.6"])])
def test_a_skipped_series_is_named(series: ModuleType, installed: str, target: str, skipped: list[str]) -> None:
    assert series.mastodon_skipped_series(installed, target, SERIES) == skipped


@pytest.mark.parametrize(("installed", "target"), [("4.7.0", "4.6.3"), ("4.6.3", "4.6.2")])
def test_a_downgrade_is_an_error(series: ModuleType, installed: str, target: str) -> None:
    with pytest.raises(AnsibleFilterError, match="no downgrade"):
        series.mastodon_skipped_series(installed, target, SERIES)


def test_an_unknown_series_is_an_error(series: ModuleType) -> None:
    with pytest.raises(AnsibleFilterError, match="installed series 4.2 is not in the known series"):
        series.mastodon_skipped_series("4.2.10", "4.3.0", SERIES)
    with pytest.raises(AnsibleFilterError, match="target series 4.8 is not in the known series"):
        series.mastodon_skipped_series("4.7.0", "4.8.0", SERIES)


def test_the_role_lists_the_series_up_to_its_version(series: ModuleType) -> None:
    """The role's series list ends with the series of the version it installs (else every upgrade is refused)."""
    defaults = yaml.safe_load((ROLE / "defaults/main.yml").read_text())
    known = yaml.safe_load((ROLE / "vars/main.yml").read_text())["mastodon_minor_series"]
    assert known[-1] == series.mastodon_series(defaults["mastodon_version"])
    assert known == sorted(known, key=lambda s: tuple(int(p) for p in s.split(".")))

