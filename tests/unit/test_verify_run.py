"""The verify plumbing end to end on this machine: pytest subprocess, testinfra's
ansible backend (local connection), plugin selection by group, markers,
not-applicable results, secrets kept out of output, JUnit and results."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from anl_stack.core.errors import AnlError
from anl_stack.verify.plan import VerifyOptions, marker_expression, plan
from anl_stack.verify.run import run


def _by_check(result, host: str) -> dict[str, dict]:
    return {r["check"]: r for r in result.checks if r["host"] == host}


def test_probe_plugin_results(local_commune: Path, tmp_path: Path) -> None:
    junit = tmp_path / "out" / "junit.xml"
    result = run(VerifyOptions(inventory=local_commune, junit=junit, baseline=False))
    rows = _by_check(result, "local1")
    assert rows["test_passes"]["outcome"] == "passed"
    assert rows["test_fails"]["outcome"] == "failed"
    assert "false did not succeed" in rows["test_fails"]["message"]
    assert rows["test_fails"]["hint"] == "plant nothing."
    assert rows["test_fails"]["explanation"] == "Probe: a check that fails."
    assert rows["test_not_applicable"]["outcome"] == "n/a"
    assert rows["test_not_applicable"]["message"] == "no such thing here"
    assert rows["test_live"]["outcome"] == "not run"
    assert rows["test_app"]["outcome"] == "passed"
    # the probe plugin's checks never run on local2, which is not in its group
    assert _by_check(result, "local2") == {}
    assert result.exit_code == 1
    assert result.summary["failed"] == 2 and result.summary["n/a"] == 1 and result.summary["not run"] == 1
    assert result.hosts[0]["facts"] == {"probe version": "9.9"}
    assert result.plugins[0]["digest"].startswith("sha256:")
    # JUnit parses and carries the same failures
    tree = ET.parse(junit)
    failures = [c.get("name") for c in tree.iter("testcase") if c.find("failure") is not None]
    assert any(name.startswith("test_fails") for name in failures)


def test_secret_never_printed(local_commune: Path, tmp_path: Path) -> None:
    result = run(VerifyOptions(inventory=local_commune, baseline=False))
    row = _by_check(result, "local1")["test_secret_not_printed"]
    assert row["outcome"] == "failed"
    assert "***" in row["message"]
    everything = Path(result.log).read_text() + Path(result.junit).read_text() + json.dumps(result.to_dict())
    everything += "".join(p.read_text() for p in Path(result.run_dir).rglob("*") if p.is_file())
    assert "s3cr3t-probe-value" not in everything


def test_live_and_mark_expression(local_commune: Path) -> None:
    result = run(VerifyOptions(inventory=local_commune, baseline=False, live=True, mark="live or app"))
    rows = _by_check(result, "local1")
    assert rows["test_live"]["outcome"] == "passed"
    assert rows["test_app"]["outcome"] == "passed"
    assert rows["test_passes"]["outcome"] == "not run"
    assert result.exit_code == 0


def test_marker_expression() -> None:
    assert marker_expression(False, None) == "not live"
    assert marker_expression(True, None) is None
    assert marker_expression(False, "not app") == "(not app) and not live"
    with pytest.raises(AnlError) as caught:
        marker_expression(False, "not (")
    assert caught.value.exit_code == 2 and caught.value.records[0].key == "--mark"


def test_plan_refuses_bad_input(local_commune: Path) -> None:
    with pytest.raises(AnlError) as caught:
        plan(VerifyOptions(inventory=local_commune, plugins=["nosuch"]))
    assert caught.value.exit_code == 2
    with pytest.raises(AnlError) as caught:
        plan(VerifyOptions(inventory=local_commune, plugins=["nextcloud"]))
    assert "no host in its inventory group" in str(caught.value)
    with pytest.raises(AnlError):
        plan(VerifyOptions())


def test_plan_selects_plugins_by_group(local_commune: Path) -> None:
    the_plan = plan(VerifyOptions(inventory=local_commune))
    assert the_plan.hosts == {"local1": ["probe"], "local2": []}
    assert the_plan.declared_ports["local1"] == [
        {"port": 80, "protocol": "tcp", "allow_from": [], "plugin": "probe"},
        {"port": 443, "protocol": "tcp", "allow_from": [], "plugin": "probe"}]
    assert the_plan.web_plugins == {"local1": ["probe"], "local2": []}
    assert "probe_password" in the_plan.secret_names
    only = plan(VerifyOptions(inventory=local_commune, plugins=["probe"]))
    assert only.hosts == {"local1": ["probe"]}


def test_declared_services_reach_the_checks(local_commune: Path, probe_plugin: Path) -> None:
    """A plugin's deployment.services: in the plan for the hosts of its group, and in the checks' context."""
    manifest = probe_plugin / "plugin.yml"
    data = yaml.safe_load(manifest.read_text())
    data["deployment"]["services"] = [{"name": "probe daemon", "unit": "probe.service"},
                                      {"name": "probe helper", "process": "^/usr/bin/probe-helper"}]
    manifest.write_text(yaml.safe_dump(data, sort_keys=False))
    expected = [{"plugin": "probe", "name": "probe daemon", "unit": "probe.service"},
                {"plugin": "probe", "name": "probe helper", "process": "^/usr/bin/probe-helper"}]
    assert plan(VerifyOptions(inventory=local_commune)).services == {"local1": expected, "local2": []}
    result = run(VerifyOptions(inventory=local_commune, baseline=False, plugin_checks=False))
    context = json.loads((Path(result.run_dir) / "context.json").read_text())
    assert context["hosts"]["local1"]["services"] == expected and context["hosts"]["local2"]["services"] == []


def test_host_key_checking_off_reaches_testinfra(tmp_path: Path) -> None:
    import configparser

    from anl_stack.adapters.testinfra import skip_host_key_checking
    from anl_stack.deploy import ansible_cfg

    cfg = ansible_cfg.write(tmp_path / "ansible.cfg", host_key_checking=False)
    before = configparser.ConfigParser(interpolation=None)
    before.read(cfg)
    skip_host_key_checking(cfg)
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(cfg)
    args = parser.get("ssh_connection", "ssh_args")
    assert "StrictHostKeyChecking=no" in args and "ControlMaster=auto" in args
    # the ControlPath survives untouched (testinfra reads it raw)
    assert parser.get("ssh_connection", "control_path") == before.get("ssh_connection", "control_path")
    assert "%%C" in parser.get("ssh_connection", "control_path")
