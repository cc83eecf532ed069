"""Before an ACME deploy, each web site's name must point at its server: inventory check and plan warn."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from anl_stack.cli import cli
from anl_stack.inventory.acme_names import acme_name_warnings
from anl_stack.inventory.check import require_valid
from anl_stack.plugins.discovery import discover_plugins

pytest_plugins = ["tests.fixtures.deploy"]


def _commune(root: Path, tls_mode: str, **host: str) -> Path:
    from anl_stack.inventory.model import create_inventory

    paths = create_inventory(
        root / "inventories" / "exemple", commune="exemple", domain="mairie.invalid", email="dsi@exemple.fr",
        tls_mode=tls_mode, hosts={"hosts": {"srv1": {"ansible_host": "192.0.2.10", **host}},
                                  "children": {"hello": {"hosts": {"srv1": {}}}}})
    return paths.root


def _warnings(root: Path, dns: dict[str, set[str]]) -> list[str]:
    inv = require_valid(root)
    return [w.format() for w in acme_name_warnings(inv, discover_plugins(), resolver=lambda n: dns.get(n, set()))]


def test_a_name_that_does_not_resolve_is_named(isolated_dirs: Path, test_plugins: Path) -> None:
    (warning,) = _warnings(_commune(isolated_dirs, "acme"), {})
    assert "hello.mairie.invalid does not resolve" in warning and "on srv1" in warning
    assert "group_vars/all/anl.yml" in warning and "hello_domain" in warning and "selfsigned" in warning


def test_a_name_elsewhere_is_said_and_the_right_one_passes(isolated_dirs: Path, test_plugins: Path) -> None:
    root = _commune(isolated_dirs, "acme")
    (warning,) = _warnings(root, {"hello.mairie.invalid": {"198.51.100.7"}})
    assert "resolves to 198.51.100.7, not to srv1 (192.0.2.10)" in warning
    assert _warnings(root, {"hello.mairie.invalid": {"192.0.2.10", "2001:db8::1"}}) == []


def test_no_warning_outside_acme_mode(isolated_dirs: Path, test_plugins: Path) -> None:
    assert _warnings(_commune(isolated_dirs, "selfsigned"), {}) == []
    # A host of its own in selfsigned mode, in an acme commune.
    assert _warnings(_commune(isolated_dirs / "b", "acme", web_tls_mode="selfsigned"), {}) == []


def test_inventory_check_prints_the_warning_and_still_passes(isolated_dirs: Path, test_plugins: Path) -> None:
    # The real resolver: names under .invalid never resolve (RFC 6761).
    root = _commune(isolated_dirs, "acme")
    result = CliRunner().invoke(cli, ["inventory", "check", "-i", str(root)])
    assert result.exit_code == 0, result.output
    assert "warning: " in result.stderr and "hello.mairie.invalid does not resolve" in result.stderr
    as_json = CliRunner().invoke(cli, ["inventory", "check", "-i", str(root), "--json"])
    assert json.loads(as_json.stdout)["warnings"][0]["key"] == "hello_domain"
