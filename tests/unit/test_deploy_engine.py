"""The deploy engine without lab hosts: refusals, event reduction, the ansible-runner adapter on localhost."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from anl_stack.adapters import runner
from anl_stack.core.errors import AnlError
from anl_stack.core.paths import shared_roles_dir
from anl_stack.deploy import ansible_cfg, platforms
from anl_stack.deploy import prepare as deploy
from anl_stack.deploy.events import RunModel, compact_event
from anl_stack.inventory import vault
from anl_stack.inventory.model import create_inventory, load_inventory


def wait_until(condition: Callable[[], bool], timeout: float, step: float = 0.01) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds have passed (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)
    return True


# --- refusals before any host is touched -------------------------------------------------

def test_unknown_plugin_did_you_mean(commune: Path) -> None:
    with pytest.raises(AnlError) as error:
        deploy.prepare(["helo"], inventory=str(commune))
    assert error.value.exit_code == 2
    assert "did you mean hello" in str(error.value)


def test_plugin_without_recipe_refused(commune: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fixtures.deploy import TEST_PLUGINS

    shutil.copytree(TEST_PLUGINS / "hello", tmp_path / "plugins" / "hello")
    (tmp_path / "plugins" / "hello" / "playbook.yml").unlink()
    monkeypatch.setenv("ANL_STACK_PLUGINS_PATH", str(tmp_path / "plugins"))
    with pytest.raises(AnlError) as error:
        deploy.prepare(["hello"], inventory=str(commune))
    assert "recipe: not yet available" in str(error.value)


def test_plugin_without_host_refused(commune: Path) -> None:
    with pytest.raises(AnlError) as error:
        deploy.prepare(["streaming"], inventory=str(commune))
    assert "no host runs plugin 'streaming'" in str(error.value)


def test_invalid_inventory_refused(commune: Path) -> None:
    settings = commune / "group_vars" / "all" / "anl.yml"
    settings.write_text(settings.read_text() + "hello_mesage: x\n")
    with pytest.raises(AnlError) as error:
        deploy.prepare(["hello"], inventory=str(commune))
    assert "did you mean hello_message" in str(error.value)


def test_prepare_generates_secrets_and_per_host_vars(commune: Path) -> None:
    prep = deploy.prepare(["hello"], inventory=str(commune))
    # hello has a backup step: the commune's repository password comes with its own secret.
    assert prep.generated_secrets == ["hello_token", "anl_backup_password"]
    assert deploy.prepare(["hello"], inventory=str(commune)).generated_secrets == []
    generated = yaml.safe_load(prep.files[deploy.GENERATED_INVENTORY])
    assert generated["all"]["hosts"]["srv1"]["anl_firewall_ports"] == [
        {"port": 80, "protocol": "tcp", "allow_from": []}, {"port": 443, "protocol": "tcp", "allow_from": []}]
    site = yaml.safe_load(prep.files["project/site.yml"])
    assert Path(site[0]["ansible.builtin.import_playbook"]).is_absolute()
    # Secrets never travel in the environment or the generated files; the scrubber knows the token.
    token = vault.read_secrets(prep.target.paths, prep.target.password_file)["hello_token"]
    assert len(token) == 32 and token in prep.scrub.values
    assert token not in json.dumps(prep.env) and token not in json.dumps(prep.files)
    assert prep.env["ANSIBLE_VAULT_PASSWORD_FILE"].endswith("exemple.txt")
    assert str(shared_roles_dir()) in prep.env["ANSIBLE_ROLES_PATH"]


def test_release_and_version_checks(commune: Path, test_plugins: Path) -> None:
    prep = deploy.prepare(["hello"], inventory=str(commune))
    inv = prep.inventory
    platforms.check_platforms(inv, prep.plugins, {"srv1": "13"})
    with pytest.raises(AnlError, match="does not support debian-11"):
        platforms.check_platforms(inv, prep.plugins, {"srv1": "11"})
    settings = commune / "group_vars" / "all" / "anl.yml"
    settings.write_text(settings.read_text() + "hello_version: '2.0.0'\n")
    with pytest.raises(AnlError) as error:
        platforms.check_platforms(load_inventory(commune), prep.plugins, {"srv1": "12"})
    assert "cannot run on debian-12" in str(error.value)
    record = error.value.records[0]
    assert (record.file, record.line, record.key) == (str(settings), len(settings.read_text().splitlines()),
                                                      "hello_version")
    # A host's own variable wins, and the refusal names its file.
    host_vars = commune / "host_vars" / "srv1.yml"
    host_vars.parent.mkdir(exist_ok=True)
    host_vars.write_text("# srv1\nhello_version: '3.0.0'\n")
    with pytest.raises(AnlError) as error:
        platforms.check_platforms(load_inventory(commune), prep.plugins, {"srv1": "12"})
    record = error.value.records[0]
    assert (record.file, record.line, record.key) == (str(host_vars), 2, "hello_version")


def _hello_on_debian_12(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, platform: str) -> Path:
    """A copy of the hello plugin whose debian-12 entry is ``platform``; its plugin.yml."""
    from tests.fixtures.deploy import TEST_PLUGINS

    folder = tmp_path / "plugins" / "hello"
    shutil.copytree(TEST_PLUGINS / "hello", folder)
    manifest = folder / "plugin.yml"
    text = manifest.read_text()
    old = 'debian-12: {supported: true, app_versions: ">=1,<2"}'
    assert old in text
    manifest.write_text(text.replace(old, f"debian-12: {platform}"))
    monkeypatch.setenv("ANL_STACK_PLUGINS_PATH", str(tmp_path / "plugins"))
    return manifest


def test_default_version_refusal_names_the_manifest(commune: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The recipe's own app.version outside one release's range: plugin.yml is named, not the inventory,
    and only the releases of the run's hosts are checked."""
    manifest = _hello_on_debian_12(tmp_path, monkeypatch, '{supported: true, app_versions: ">=0.9,<1"}')
    prep = deploy.prepare(["hello"], inventory=str(commune))
    platforms.check_platforms(prep.inventory, prep.plugins, {"srv1": "13"})
    with pytest.raises(AnlError) as error:
        platforms.check_platforms(prep.inventory, prep.plugins, {"srv1": "12"})
    record = error.value.records[0]
    line = next(n for n, row in enumerate(manifest.read_text().splitlines(), 1) if row.strip() == 'version: "1.0.0"')
    assert (record.file, record.line, record.key) == (str(manifest), line, "app.version")
    assert "hello 1.0.0 cannot run on debian-12 (host srv1)" in record.message and ">=0.9,<1" in record.expected


def test_release_with_its_own_version_is_checked_with_it(commune: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A Debian-packaged application: a Debian 12 host gets that release's app_version, not app.version."""
    _hello_on_debian_12(tmp_path, monkeypatch, '{supported: true, app_version: "0.9.5", app_versions: "==0.9.5"}')
    prep = deploy.prepare(["hello"], inventory=str(commune))
    platforms.check_platforms(prep.inventory, prep.plugins, {"srv1": "12"})
    assert platforms.app_version(prep.inventory, prep.plugins[0], "srv1", "12") == "0.9.5"
    assert platforms.app_version(prep.inventory, prep.plugins[0], "srv1", "13") == "1.0.0"


def test_ansible_cfg_short_control_path(tmp_path: Path) -> None:
    text = ansible_cfg.render(host_key_checking=False, control_tag="0123abcd-")
    assert f"control_path = {ansible_cfg.socket_folder()}/0123abcd-%%C" in text
    assert "pipelining = True" in text
    assert "retry_files_enabled = False" in text
    assert text.index(str(shared_roles_dir())) > 0
    # The path ssh gets, as Ansible reads the file (with interpolation), for a real inventory's tag:
    # ssh expands %C to a 40-character hash, and the socket path must stay short (see ansible_cfg).
    root = create_inventory(tmp_path / "inv", commune="a", domain="a.fr", email="a@a.fr",
                            vault_password_file=tmp_path / "pw").root
    cfg = configparser.ConfigParser()
    cfg.read_string(ansible_cfg.render(host_key_checking=False, control_tag=ansible_cfg.inventory_tag(root)))
    control_path = cfg.get("ssh_connection", "control_path")
    folder = ansible_cfg.socket_folder()
    assert control_path.startswith(f"{folder}/") and control_path.endswith("%C") and control_path.count("%") == 1
    assert folder.stat().st_mode & 0o777 == 0o700 and folder.stat().st_uid == os.geteuid()
    assert len(control_path.replace("%C", "0" * 40).encode()) < 100, control_path


def test_socket_folder_refuses_one_others_could_enter(tmp_path: Path) -> None:
    folder = tmp_path / f"anl-stack-{os.geteuid()}"
    assert ansible_cfg.socket_folder(tmp_path) == folder
    assert folder.stat().st_mode & 0o777 == 0o700
    folder.chmod(0o777)  # as another local user could have made it in /tmp
    with pytest.raises(AnlError, match="not a private folder"):
        ansible_cfg.socket_folder(tmp_path)
    folder.rmdir()
    (tmp_path / "theirs").mkdir(mode=0o700)
    folder.symlink_to(tmp_path / "theirs")
    with pytest.raises(AnlError, match="not a private folder"):
        ansible_cfg.socket_folder(tmp_path)


def test_control_tag_changes_with_a_recreated_inventory(tmp_path: Path) -> None:
    root = tmp_path / "inv"
    paths = create_inventory(root, commune="a", domain="a.fr", email="a@a.fr", vault_password_file=tmp_path / "pw")
    first = ansible_cfg.inventory_tag(root)
    assert first == ansible_cfg.inventory_tag(root)
    written = paths.settings.stat().st_mtime_ns
    shutil.rmtree(root)
    # A recreated file may reuse the inode: wait until the file system stamps a new file later than
    # the first one (its clock ticks coarsely), as it does for any real destroy and re-create.
    clock = tmp_path / "clock"

    def stamped_later() -> bool:
        clock.write_text("")
        return clock.stat().st_mtime_ns > written

    assert wait_until(stamped_later, timeout=10), "the file system's clock did not move"
    create_inventory(root, commune="a", domain="a.fr", email="a@a.fr", vault_password_file=tmp_path / "pw")
    assert ansible_cfg.inventory_tag(root) != first


# --- event reduction ----------------------------------------------------------------

def _ev(kind: str, **data: object) -> dict:
    return {"event": kind, "event_data": data, "counter": 1}


def test_model_counts_changes_and_censors() -> None:
    m = RunModel()
    m.feed(_ev("playbook_on_play_start", play="Deploy"))
    m.feed(_ev("playbook_on_task_start", task="Install nginx", role="web"))
    m.feed(_ev("runner_on_ok", host="h", task="Install nginx", role="web", res={"changed": True}))
    m.feed(_ev("playbook_on_task_start", task="Write token", role="hello"))
    censored = _ev("runner_on_ok", host="h", task="Write token", role="hello",
                   res={"censored": "the output has been hidden due to the fact that 'no_log: true' was specified"})
    censored["stdout"] = "changed: [h]"
    m.feed(censored)
    m.feed(_ev("runner_on_failed", host="h", task="Optional", res={"msg": "x"}, ignore_errors=True))
    labels = [c.label for c in m.changes]
    assert labels == ["web : Install nginx", "hello : Write token"]
    assert m.changes[1].censored and not m.changes[1].diff
    assert m.errors == []
    assert compact_event(censored).get("censored") is True
    assert "stdout" not in compact_event(censored)


def test_check_mode_failure_after_change_depends_on_earlier() -> None:
    m = RunModel(check_mode=True)
    m.feed(_ev("runner_on_ok", host="h", task="Install nginx", res={"changed": True}))
    m.feed(_ev("runner_on_failed", host="h", task="Start nginx", res={"msg": "Could not find the requested service"}))
    assert m.errors == []
    assert m.changes[-1].depends_on_earlier
    apt = RunModel(check_mode=True)
    apt.feed(_ev("runner_on_failed", host="h", task="Install nginx", task_action="ansible.builtin.apt",
                 res={"msg": "No package matching 'nginx' is available"}))
    assert apt.errors == [] and apt.changes[0].depends_on_earlier
    fresh = RunModel(check_mode=True)
    fresh.feed(_ev("runner_on_failed", host="h", task="Broken", res={"msg": "boom"}))
    assert fresh.errors and fresh.errors[0]["message"] == "boom"


def test_summary_prefers_ansible_stats() -> None:
    m = RunModel()
    m.feed(_ev("runner_on_ok", host="h", task="t", res={"changed": True}))
    m.feed(_ev("playbook_on_stats", ok={"h": 5}, changed={"h": 2}, failures={}, dark={}, skipped={"h": 1}))
    assert m.summary()["hosts"]["h"]["ok"] == 5 and m.summary()["hosts"]["h"]["changed"] == 2


# --- the runner adapter, on localhost ---------------------------------------------------

@pytest.fixture
def local_inventory(tmp_path: Path) -> Path:
    inv = tmp_path / "inv.yml"
    inv.write_text(yaml.safe_dump({"all": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    return inv


def _env(tmp_path: Path) -> dict[str, str]:
    cfg = ansible_cfg.write(tmp_path / "ansible.cfg", host_key_checking=False)
    return ansible_cfg.ansible_env(cfg, host_key_checking=False)


@pytest.mark.slow
def test_runner_events_stats_and_private_dir(tmp_path: Path, local_inventory: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    playbook = tmp_path / "pb.yml"
    target = tmp_path / "out.txt"
    playbook.write_text(yaml.safe_dump([{"hosts": "all", "gather_facts": False, "tasks": [
        {"name": "Write a file", "ansible.builtin.copy": {"content": "hi\n", "dest": str(target)}}]}]))
    # The private data dir is made in this folder, so the test sees it during the run and after.
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    events: list[dict] = []
    private_dirs: set[str] = set()

    def on_event(event: dict) -> None:
        events.append(event)
        private_dirs.update(p.name for p in scratch.glob("anl-run-*") if p.is_dir())

    before = signal.getsignal(signal.SIGINT)
    keep = tmp_path / "kept"
    outcome = runner.run(runner.RunRequest(inventories=[local_inventory], envvars=_env(tmp_path), playbook=playbook),
                         on_event, keep_dir=keep)
    assert signal.getsignal(signal.SIGINT) is before
    assert outcome.status == "successful" and outcome.rc == 0
    assert outcome.stats["changed"] == {"localhost": 1}
    assert target.read_text() == "hi\n"
    assert "playbook_on_stats" in [e["event"] for e in events]
    assert (keep / "artifacts").is_dir()
    # The run had one private data dir, and it is gone once the run is over.
    assert len(private_dirs) == 1, private_dirs
    assert sorted(p.name for p in scratch.glob("anl-run-*")) == []


@pytest.mark.slow
def test_runner_cancel(tmp_path: Path, local_inventory: Path) -> None:
    playbook = tmp_path / "pb.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "all", "gather_facts": False, "tasks": [
        {"name": "Wait", "ansible.builtin.command": "sleep 60", "changed_when": False}]}]))
    stop = threading.Event()
    seen: list[str] = []

    def on_event(event: dict) -> None:
        seen.append(event["event"])
        if event["event"] == "runner_on_start":
            stop.set()

    outcome = runner.run(runner.RunRequest(inventories=[local_inventory], envvars=_env(tmp_path), playbook=playbook),
                         on_event, stop=stop)
    assert outcome.canceled
    assert outcome.status == "canceled"
    assert "runner_on_ok" not in seen
    # No Ansible process (workers call setsid) outlives the cancel: wait for them to be gone.
    def leftovers() -> list[str]:
        return [_cmdline(p) for p in Path("/proc").iterdir() if p.name.isdigit() and str(playbook) in _cmdline(p)]

    assert wait_until(lambda: leftovers() == [], timeout=15, step=0.1), leftovers()


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def test_a_failed_command_shows_its_root_cause_not_only_its_return_code() -> None:
    # certbot on a host that cannot resolve the ACME server: Ansible says only "non-zero return code".
    stderr = ("Saving debug log to /var/log/letsencrypt/letsencrypt.log\n"
              "An unexpected error occurred:\n"
              "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='acme.invalid', port=443): "
              "Failed to resolve 'acme.invalid' ([Errno -2] Name or service not known)\n")
    m = RunModel()
    m.feed(_ev("runner_on_failed", host="h", task="Get the certificate", res={"msg": "non-zero return code", "rc": 1,
                                                                               "stderr": stderr, "stdout": ""}))
    message = m.errors[0]["message"]
    assert message.startswith("non-zero return code: ") and "Failed to resolve 'acme.invalid'" in message
    assert "Saving debug log" not in message  # the last lines, where the cause is
    failed = _ev("runner_on_failed", host="h", task="Get the certificate", res={"msg": "non-zero return code",
                                                                                  "stderr": stderr})
    assert "Failed to resolve" in compact_event(failed)["msg"]
    # A loop: the first failed item, named.
    loop = RunModel()
    loop.feed(_ev("runner_on_failed", host="h", task="Enable", res={
        "msg": "One or more items failed", "results": [
            {"item": "a.timer", "failed": False},
            {"item": "b.timer", "failed": True, "msg": "Could not find the requested service b.timer: host"}]}))
    assert loop.errors[0]["message"] == "b.timer: Could not find the requested service b.timer: host"
    # A specific message stays as it is.
    plain = RunModel()
    plain.feed(_ev("runner_on_failed", host="h", task="Check", res={"msg": "web: web_tls_mode must be ...",
                                                                     "stderr": "noise"}))
    assert plain.errors[0]["message"] == "web: web_tls_mode must be ..."
