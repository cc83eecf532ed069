"""The `plugins new` skeleton's packaging: the current pyproject form (PEP 639 licence)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.licenses import canonicalize_license_expression
from packaging.requirements import Requirement
from packaging.version import Version

from anl_stack.plugins.scaffold import create_plugin


def test_skeleton_licence_is_an_spdx_expression(tmp_path: Path) -> None:
    """A table (`license = {text = ...}`) makes setuptools warn; an SPDX string needs setuptools 77."""
    data = tomllib.loads((create_plugin("skel", tmp_path) / "pyproject.toml").read_text(encoding="utf-8"))
    licence = data["project"]["license"]
    assert isinstance(licence, str) and canonicalize_license_expression(licence) == "AGPL-3.0-or-later"
    (setuptools,) = [Requirement(r) for r in data["build-system"]["requires"] if r.startswith("setuptools")]
    assert not setuptools.specifier.contains(Version("76.9")) and setuptools.specifier.contains(Version("77.0"))
