"""The release gate (anl_stack.deploy.release_gate): what prepare hands the gate play, the play
itself run by the real ansible-playbook on this machine, and how a stop becomes the command's error."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from anl_stack.core.errors import AnlError, ExitCode, WorkFailedError
from anl_stack.deploy import prepare, release_gate
from anl_stack.plugin_api import GENERATED_INVENTORY, RUN_HOSTS_GROUP, SUPPORTED_RELEASES_VARIABLE

PROJECT = Path(__file__).resolve().parent.parent.parent
ANSIBLE_PLAYBOOK = PROJECT / ".venv" / "bin" / "ansible-playbook"


def _hello_debian_12(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: str) -> None:
    import shutil

    from tests.fixtures.deploy import TEST_PLUGINS

    folder = tmp_path / "plugins" / "hello"
    shutil.copytree(TEST_PLUGINS / "hello", folder)
    manifest = folder / "plugin.yml"
    old = 'debian-12: {supported: true, app_versions: ">=1,<2"}'
    assert old in manifest.read_text()
    manifest.write_text(manifest.read_text().replace(old, f"debian-12: {platform}"))
    monkeypatch.setenv("ANL_STACK_PLUGINS_PATH", str(tmp_path / "plugins"))


def test_every_run_imports_the_gate_first_with_the_hosts_releases(commune: Path) -> None:
    prep = prepare.prepare(["hello"], inventory=str(commune))
    site = yaml.safe_load(prep.files["project/site.yml"])
    assert site[0] == {"ansible.builtin.import_playbook": str(release_gate.playbook_path())}
    assert len(site) > 1 and all("import_playbook" in str(entry) for entry in site)
    generated = yaml.safe_load(prep.files[GENERATED_INVENTORY])
    run_hosts = generated["all"]["children"][RUN_HOSTS_GROUP]["hosts"]
    assert run_hosts == {"srv1": {SUPPORTED_RELEASES_VARIABLE: ["12", "13"]}}


def test_a_release_whose_range_refuses_the_version_is_not_supported(
        commune: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _hello_debian_12(tmp_path, monkeypatch, '{supported: true, app_versions: ">=0.9,<1"}')
    prep = prepare.prepare(["hello"], inventory=str(commune))
    assert release_gate.supported_releases(prep.inventory, prep.plugins, ["srv1"]) == {"srv1": ["13"]}
    _hello_debian_12(tmp_path / "b", monkeypatch, "{supported: false}")
    prep = prepare.prepare(["hello"], inventory=str(commune))
    assert release_gate.supported_releases(prep.inventory, prep.plugins, ["srv1"]) == {"srv1": ["13"]}


def _events(host: str, facts: dict[str, str] | None, *, gate_failed: bool = False,
            unreachable: bool = False) -> list[dict[str, object]]:
    events: list[dict[str, object]] = [{"event": "playbook_on_play_start", "event_data": {"play": release_gate.PLAY}}]
    if unreachable:
        events.append({"event": "runner_on_unreachable",
                       "event_data": {"host": host, "task": release_gate.FACTS_TASK, "res": {"msg": "no route"}}})
    else:
        events.append({"event": "runner_on_ok", "event_data": {"host": host, "task": release_gate.FACTS_TASK,
                                                               "res": {"ansible_facts": facts}}})
    if gate_failed:
        events.append({"event": "runner_on_failed", "event_data": {"host": host, "task": "Check", "res": {}}})
    # A later play's failure is not the gate's.
    events += [{"event": "playbook_on_play_start", "event_data": {"play": "Hello"}},
               {"event": "runner_on_failed", "event_data": {"host": host, "task": "later", "res": {}}}]
    return events


def _watch(events: list[dict[str, object]]) -> release_gate.GateWatch:
    watch = release_gate.GateWatch()
    for event in events:
        watch(event)
    return watch


def test_a_gate_stop_is_reported_as_the_platform_refusal(
        commune: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _hello_debian_12(tmp_path, monkeypatch, '{supported: true, app_versions: ">=0.9,<1"}')
    prep = prepare.prepare(["hello"], inventory=str(commune))
    debian_12 = {"ansible_distribution": "Debian", "ansible_distribution_major_version": "12"}
    watch = _watch(_events("srv1", debian_12, gate_failed=True))
    with pytest.raises(AnlError) as error:
        release_gate.raise_refusal(watch, prep.inventory, prep.plugins, prep.hosts)
    assert error.value.exit_code == ExitCode.REFUSED
    (record,) = error.value.records
    assert record.key == "app.version" and "cannot run on debian-12 (host srv1)" in record.message
    assert record.file is not None and record.file.endswith("plugin.yml")
    # Not stopped by the gate (only a later play failed): nothing to report here.
    release_gate.raise_refusal(_watch(_events("srv1", debian_12)), prep.inventory, prep.plugins, prep.hosts)


def test_another_system_and_an_unreachable_host(commune: Path) -> None:
    prep = prepare.prepare(["hello"], inventory=str(commune))
    ubuntu = {"ansible_distribution": "Ubuntu", "ansible_distribution_major_version": "24"}
    with pytest.raises(AnlError) as error:
        release_gate.raise_refusal(_watch(_events("srv1", ubuntu, gate_failed=True)), prep.inventory,
                                   prep.plugins, prep.hosts)
    assert error.value.exit_code == ExitCode.REFUSED
    assert error.value.records[0].message == "host runs Ubuntu" and error.value.records[0].key == "srv1"
    with pytest.raises(WorkFailedError) as failed:
        release_gate.raise_refusal(_watch(_events("srv1", None, unreachable=True, gate_failed=True)),
                                   prep.inventory, prep.plugins, prep.hosts)
    assert "cannot read facts: no route" in str(failed.value)


def _run_gate(tmp_path: Path, supported: list[str]) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The real gate play on this machine (local connection), then a play that leaves a file."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    marker = tmp_path / "after-the-gate"
    site = tmp_path / "site.yml"
    site.write_text(release_gate.with_gate(yaml.safe_dump([{
        "name": "After the gate", "hosts": RUN_HOSTS_GROUP, "gather_facts": False,
        "tasks": [{"name": "Leave a file", "ansible.builtin.copy": {"dest": str(marker), "content": "ran\n"},
                   "tags": ["stack"]}]}])))
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {RUN_HOSTS_GROUP: {"hosts": {"controller": {
        "ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3",
        SUPPORTED_RELEASES_VARIABLE: supported}}}}}}))
    proc = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(site), "--tags", "stack"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={"PATH": "/usr/bin:/bin", "ANSIBLE_NOCOLOR": "1", "HOME": str(tmp_path),
                               "ANSIBLE_GATHERING": "smart", "LC_ALL": "C.UTF-8"})
    return proc, marker


@pytest.mark.slow
def test_the_gate_play_stops_the_run_before_any_change(tmp_path: Path) -> None:
    release = Path("/etc/debian_version").read_text().split(".")[0].strip()
    if not release.isdigit():
        pytest.skip(f"this machine does not run a Debian release ({release})")
    refused, marker = _run_gate(tmp_path / "refused", [str(int(release) + 1)])
    assert refused.returncode != 0 and "anl-stack release gate" in refused.stdout, refused.stdout[-3000:]
    assert not marker.exists()
    allowed, marker = _run_gate(tmp_path / "allowed", [release])
    assert allowed.returncode == 0, allowed.stdout[-3000:]
    assert marker.read_text() == "ran\n"
