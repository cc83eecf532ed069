"""Commune inventories: init, loading, checks, groups, firewall ports, ansible's own reading."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from click.testing import CliRunner

from anl_stack.cli import cli
from anl_stack.core.errors import AnlError
from anl_stack.inventory.check import check_inventory, check_value, valid_domain
from anl_stack.inventory.model import (
    add_host_to_group,
    firewall_ports,
    load_inventory,
    resolve_inventory_path,
    vault_password_file,
)


def test_init_creates_a_valid_inventory_and_refuses_to_overwrite(tmp_path: Path, isolated_dirs: Path,
                                                                 test_plugins: Path) -> None:
    runner = CliRunner()
    args = ["init", "saint-exemple", "--domain", "saint-exemple.fr", "--email", "dsi@saint-exemple.fr",
            "--dir", str(tmp_path)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    root = tmp_path / "inventories" / "saint-exemple"
    settings = yaml.safe_load((root / "group_vars/all/anl.yml").read_text())
    assert settings["anl_domain"] == "saint-exemple.fr"
    assert settings["anl_tls_mode"] == "acme"
    password = isolated_dirs / "config" / "vault-passwords" / "saint-exemple.txt"
    assert password.stat().st_mode & 0o777 == 0o600
    assert not any(root.rglob("*.txt")), "the vault password stays outside the inventory"
    check = runner.invoke(cli, ["inventory", "check", "-i", str(root / "hosts.yml")])
    assert check.exit_code == 0, check.output

    again = runner.invoke(cli, args)
    assert again.exit_code == 2
    assert "refusing to overwrite" in again.output


def test_init_says_what_a_provided_certificate_still_needs(tmp_path: Path, isolated_dirs: Path) -> None:
    result = CliRunner().invoke(cli, ["init", "p", "--domain", "p.fr", "--email", "a@p.fr", "--dir", str(tmp_path),
                                      "--tls-mode", "provided"])
    assert result.exit_code == 0, result.output
    assert "To do before a deploy" in result.output
    assert "anl_tls_certificate: required when anl_tls_mode is provided" in result.output
    assert "anl_tls_key: required when anl_tls_mode is provided" in result.output
    acme = CliRunner().invoke(cli, ["init", "a", "--domain", "a.fr", "--email", "a@a.fr", "--dir", str(tmp_path)])
    assert "To do before a deploy" not in acme.output
    assert "for a trial, --tls-mode selfsigned" in acme.output


def test_init_refuses_bad_values_before_writing(tmp_path: Path, isolated_dirs: Path) -> None:
    result = CliRunner().invoke(cli, ["init", "x", "--domain", "nodot", "--email", "a@b.fr", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "--domain" in result.output
    assert not (tmp_path / "inventories").exists()


def test_init_uses_named_password_file(tmp_path: Path, isolated_dirs: Path) -> None:
    secret_file = tmp_path / "pw"
    secret_file.write_text("s3cret\n")
    result = CliRunner().invoke(cli, ["init", "v", "--domain", "v.fr", "--email", "a@v.fr", "--dir", str(tmp_path),
                                      "--vault-password-file", str(secret_file)])
    assert result.exit_code == 0, result.output
    paths = resolve_inventory_path(tmp_path / "inventories" / "v")
    assert vault_password_file(paths) == secret_file.resolve()
    assert not (isolated_dirs / "config" / "vault-passwords" / "v.txt").exists()


def test_password_file_order(commune: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = resolve_inventory_path(commune)
    default = vault_password_file(paths)
    assert default.name == "exemple.txt"
    env_file = tmp_path / "env-pw"
    env_file.write_text("x\n")
    monkeypatch.setenv("ANL_STACK_VAULT_PASSWORD_FILE", str(env_file))
    assert vault_password_file(paths) == env_file
    flag = tmp_path / "flag-pw"
    flag.write_text("y\n")
    assert vault_password_file(paths, flag) == flag
    with pytest.raises(AnlError, match="vault password file not found"):
        vault_password_file(paths, tmp_path / "missing")


def test_groups_hosts_and_precedence(commune: Path) -> None:
    (commune / "group_vars" / "hello.yml").write_text("hello_message: from-group\n")
    (commune / "host_vars").mkdir()
    (commune / "host_vars" / "srv1.yml").write_text("hello_message: from-host\n")
    inv = load_inventory(commune)
    assert inv.hosts == ["srv1"]
    assert inv.groups["hello"] == ["srv1"]
    assert inv.groups_of("srv1") == ["hello", "all"]
    assert inv.host_settings("srv1")["hello_message"] == "from-host"
    assert inv.settings()["anl_domain"] == "exemple.fr"
    assert check_inventory(commune)[1] == []


def test_add_host_to_group(commune: Path) -> None:
    paths = resolve_inventory_path(commune)
    data = yaml.safe_load(paths.hosts.read_text())
    del data["all"]["children"]["hello"]
    paths.hosts.write_text(yaml.safe_dump(data))
    assert add_host_to_group(paths, "srv1", "hello") is True
    assert add_host_to_group(paths, "srv1", "hello") is False
    assert load_inventory(commune).groups["hello"] == ["srv1"]
    with pytest.raises(AnlError, match="unknown host"):
        add_host_to_group(paths, "nope", "hello")


def _manifest(ports: list[dict]) -> SimpleNamespace:
    return SimpleNamespace(deployment=SimpleNamespace(ports=[SimpleNamespace(**{"allow_from_setting": None,
                                                                               "open_when_setting": None,
                                                                               "protocol": "tcp", **p})
                                                             for p in ports]))


def test_firewall_ports_cover_every_plugin_of_the_host(commune: Path) -> None:
    paths = resolve_inventory_path(commune)
    data = yaml.safe_load(paths.hosts.read_text())
    data["all"]["hosts"]["srv2"] = {"ansible_host": "192.0.2.11"}
    data["all"]["children"]["streaming"] = {"hosts": {"srv1": {}, "srv2": {}}}
    paths.hosts.write_text(yaml.safe_dump(data))
    settings = paths.settings.read_text() + "streaming_ingest_allowed_sources: [192.0.2.0/24]\n"
    paths.settings.write_text(settings)
    manifests = {
        "hello": _manifest([{"port": 443}, {"port": 80}]),
        "streaming": _manifest([{"port": 443}, {"port": 1935, "allow_from_setting": "streaming_ingest_allowed_sources"}]),
        "unused": _manifest([{"port": 9999}]),
    }
    ports = firewall_ports(load_inventory(commune), manifests)
    assert ports["srv1"] == [
        {"port": 80, "protocol": "tcp", "allow_from": []},
        {"port": 443, "protocol": "tcp", "allow_from": []},
        {"port": 1935, "protocol": "tcp", "allow_from": ["192.0.2.0/24"]},
    ]
    assert [p["port"] for p in ports["srv2"]] == [443, 1935]


@pytest.mark.parametrize(("value", "open_"), [(None, False), (False, False), ("no", False), (True, True),
                                              ("yes", True), ("True", True)])
def test_a_port_opened_by_a_setting_follows_it(commune: Path, value: object, open_: bool) -> None:
    """PeerTube's RTMP port is open only on hosts whose commune turned live on (unset: closed)."""
    paths = resolve_inventory_path(commune)
    if value is not None:
        paths.settings.write_text(paths.settings.read_text() + yaml.safe_dump({"hello_live": value}))
    manifests = {"hello": _manifest([{"port": 443}, {"port": 1935, "open_when_setting": "hello_live"}])}
    ports = [p["port"] for p in firewall_ports(load_inventory(commune), manifests)["srv1"]]
    assert ports == ([443, 1935] if open_ else [443])


def test_check_value_against_argument_specs() -> None:
    assert check_value("x", "a", {"type": "str", "choices": ["a", "b"]}) is None
    assert check_value("x", "c", {"type": "str", "choices": ["a", "b"]})[1] == "one of: a, b"
    assert check_value("x", True, {"type": "int"}) is not None
    assert check_value("x", [1, "2"], {"type": "list", "elements": "int"}) is not None
    assert check_value("x", "{{ anything }}", {"type": "int"}) is None
    spec = {"type": "list", "elements": "dict", "options": {"name": {"type": "str", "required": True}}}
    assert check_value("x", [{"name": "a"}], spec) is None
    assert "required key 'name'" in check_value("x", [{}], spec)[0]
    assert "unknown key 'nom'" in check_value("x", [{"name": "a", "nom": "b"}], spec)[0]


def test_valid_domain() -> None:
    assert valid_domain("cloud.mairie-exemple.fr")
    for bad in ("localhost", "a b.fr", "-a.fr", "a..fr", 42):
        assert not valid_domain(bad)


def test_inventory_check_json_ok(commune: Path) -> None:
    result = CliRunner().invoke(cli, ["inventory", "check", "-i", str(commune), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["groups"]["hello"] == ["srv1"]


def test_ansible_does_not_read_the_private_folder(commune: Path) -> None:
    """Runs live in .anl-stack/runs/: ansible-inventory must not take them as sources."""
    run = commune / ".anl-stack" / "runs" / "20260101-000000-deploy-abc123"
    run.mkdir(parents=True)
    # Files that would add hosts if Ansible read them as inventory sources.
    (run / "hosts.yml").write_text("all:\n  hosts:\n    leaked-host: {}\n")
    (run / "summary.json").write_text(json.dumps({"all": {"hosts": ["leaked-json"]}}))
    (run / "log").write_text("[web]\nleaked-ini\n")
    env = dict(os.environ, ANSIBLE_INVENTORY_UNPARSED_WARNING="True")
    bin_dir = Path(sys.executable).parent
    proc = subprocess.run([str(bin_dir / "ansible-inventory"), "-i", str(commune), "--list"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    hosts = set(listed["_meta"]["hostvars"])
    assert hosts == {"srv1"}
    assert "leaked" not in proc.stdout
