"""A plugin's life after the first deploy, on one real lab host (Debian 13):
upgrade with automatic rollback, then removal, what goes and what stays.

One host, lc13, whose history module fixtures make in order; each test asks
for the step it checks. The streaming part runs under Mitogen and the hello
part under Ansible's linear strategy (``DAY_TWO_ENGINE`` in
tests/fixtures/lab.py). Upgrades and removal do not depend on the Debian
release (the same files, units and firewall on 12), so one release is enough.

remove on the fresh host changes nothing.

upgrade: the previous recipe of streaming (tests/data/recipes/
streaming-0.0.9.yml: 4 s HLS segments) is deployed from a copy of the
project, as an older anl-stack would have, and a recording is written; then
- an upgrade whose step is planted to delete a recording and then fail
  (from another copy of the project) is rolled back: the previous recipe is
  deployed again, the pre-upgrade snapshot restored (the deleted recording
  is back), the checks pass; exit 1, upgrade.json tells each step;
- from that same previous recipe, `anl-stack upgrade streaming` goes to the
  current recipe (2 s segments): pre-upgrade backup, upgrade step, checks
  pass, the recordings are intact.

remove, on that upgraded deployment: a recording pushed from the host ->
remove (the site no longer answers, port 1935 leaves the firewall, the
retention timer is gone, the recording, the keys and the backup settings
stay, nginx stays) -> remove again (changed=0, read from --json) -> deploy
again (works, the recording is still listed) -> backup, then remove --purge
--yes (recordings, keys, logs, settings and on-host snapshots gone) -> the
purge again changes nothing.

hello (the test plugin the backup and restore steps are proven on), once the
host has left the streaming group: deploy -> a data file in its page folder
-> backup -> remove (site gone, data and snapshot kept) -> deploy again ->
the data file deleted, then restore brings it back and the checks pass ->
remove --purge --yes (page folder and snapshots gone).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.lab import after_first_deploy, use_release_engine, wait_for

pytestmark = pytest.mark.lab

PROJECT = Path(__file__).resolve().parent.parent.parent
TEST_PLUGINS = PROJECT / "tests" / "plugins"
NAME = "lc13"
CHANNEL = "conseil"
KEY_FILE = f"/etc/anl-streaming/keys/{CHANNEL}"
ARCHIVE_DIR = "/var/lib/anl-streaming/archive"
HELLO_ROOT = "/var/www/hello"
HELLO_DATA = f"{HELLO_ROOT}/notes.txt"
PREVIOUS = PROJECT / "tests" / "data" / "recipes" / "streaming-0.0.9.yml"
RTMP_CONF = "/etc/nginx/anl-main.d/streaming-rtmp.conf"
OLD_RECORDING = "2026-11-30/conseil-2026-11-30T18-30-00.mp4"


def anl(*args: str, tree: Path = PROJECT, timeout: int = 2400) -> subprocess.CompletedProcess[str]:
    # `python -m anl_stack` from a tree imports that tree's anl_stack, plugins and roles.
    env = dict(os.environ, ANL_STACK_PLUGINS_PATH=str(TEST_PLUGINS))
    return subprocess.run([sys.executable, "-m", "anl_stack", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=tree)


def output(proc: subprocess.CompletedProcess[str]) -> str:
    return proc.stdout[-4000:] + proc.stderr[-4000:]


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, output(proc)
    return proc


def json_summary(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    summaries = [line for line in lines if line.get("summary")]
    assert summaries, output(proc)
    return summaries[-1]


def counts(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The host's counts (ok, changed, failed...) in the --json summary of a one-run step."""
    (run,) = json_summary(proc)["runs"]
    return {**run["hosts"][NAME], "changed_tasks": [t["task"] for t in run["changed_tasks"]]}


def sh(host: Any, command: str, timeout: float = 120) -> str:
    proc = host.ssh(command, timeout=timeout)
    assert proc.returncode == 0, f"{command[:100]}: rc {proc.returncode} {proc.stderr[-500:]}"
    return str(proc.stdout)


def exists(host: Any, path: str) -> bool:
    return bool(host.ssh(f"test -e {shlex.quote(path)}").returncode == 0)


def https(host: Any, domain: str, path: str = "/") -> subprocess.CompletedProcess[str]:
    """GET from the controller (curl's exit code is not 0 when nothing answers)."""
    return subprocess.run(["curl", "-sk", "--max-time", "8", "--resolve", f"{domain}:443:{host.address}",
                           "-o", "-", "-w", "\n%{http_code}", f"https://{domain}{path}"],
                          capture_output=True, text=True, timeout=30)


def answers(host: Any, domain: str, path: str = "/") -> str | None:
    """The page's body when it answers 200, else None."""
    proc = https(host, domain, path)
    body, _, code = proc.stdout.rpartition("\n")
    return body if proc.returncode == 0 and code == "200" else None


def listening(host: Any, port: int) -> bool:
    return bool(sh(host, f"ss -ltnH 'sport = :{port}'").strip())


def ruleset(host: Any) -> str:
    return sh(host, "nft list table inet anl_filter")


def snapshots(host: Any, plugin: str) -> list[str]:
    """Ids of the plugin's snapshots in the host's own repositories (read with anl-backup there)."""
    return [s["id"] for s in json.loads(sh(host, f"/usr/local/sbin/anl-backup snapshots {plugin}"))["snapshots"]]


@pytest.fixture(scope="module")
def host() -> Iterator[Any]:
    from tests.fixtures.lab import lab_host_for, require_lab

    require_lab()
    # hls.js from the npm registry into the artifact cache (a cache hit when it is there already).
    ok(anl("artifacts", "fetch", "streaming"))
    for made in lab_host_for(NAME, "13"):
        from anl_stack import lab

        lab.add_names(NAME, [f"live.{made.domain}"])  # type: ignore[attr-defined]
        # The streaming part proves commands on a recipe deployed by both engines in
        # test_streaming.py; the hello part goes back to the linear strategy (see hello()).
        after_first_deploy(made.inventory)  # type: ignore[attr-defined]
        yield made


# --- streaming: upgrade, and the rollback of a failed one --------------------------------

PLANTED = """
- name: A planted fault in the upgrade step
  hosts: streaming
  become: true
  tasks:
    - name: Lose a recording, as a broken migration would
      ansible.builtin.file:
        path: /var/lib/anl-streaming/archive/2026-11-30/conseil-2026-11-30T18-30-00.mp4
        state: absent

    - name: Fail after changing the host
      ansible.builtin.fail:
        msg: planted failure of the upgrade step
"""


def copy_project(into: Path) -> Path:
    for name in ("anl_stack", "plugins", "playbooks"):
        shutil.copytree(PROJECT / name, into / name, ignore=shutil.ignore_patterns("__pycache__", "evidence"))
    shutil.copy2(PROJECT / "ansible.cfg", into / "ansible.cfg")
    return into


def previous_tree(into: Path) -> Path:
    tree = copy_project(into)
    fixture = yaml.safe_load(PREVIOUS.read_text())
    plugin = tree / "plugins" / fixture["plugin"]
    for file, changes in fixture["replace"].items():
        text = (plugin / file).read_text()
        for old, new in changes:
            assert old in text, f"the fixture no longer matches {file}: {old!r}"
            text = text.replace(old, new)
        (plugin / file).write_text(text)
    return tree


def fragment(host: Any) -> str:
    return sh(host, f"grep -o 'hls_fragment [0-9]*s' {RTMP_CONF}").strip()


def sums(host: Any) -> str:
    return sh(host, f"cd {ARCHIVE_DIR} && find . -name '*.mp4' -print0 | sort -z | xargs -0 sha256sum")


@dataclass
class Previous:
    host: Any
    sums: str    # the recordings' checksums before the upgrades


@pytest.fixture(scope="module")
def previous(host: Any, remove_where_never_deployed: Any, tmp_path_factory: pytest.TempPathFactory) -> Previous:
    """streaming deployed from its previous recipe, with a recording."""
    old = previous_tree(tmp_path_factory.mktemp("previous"))
    ok(anl("deploy", "streaming", "--lab", NAME, tree=old))
    assert fragment(host) == "hls_fragment 4s"
    sh(host, f"cd {ARCHIVE_DIR} && mkdir -p 2026-11-30 && head -c 2000000 /dev/urandom > {OLD_RECORDING} "
             "&& chown -R www-data:www-data 2026-11-30")
    return Previous(host, sums(host))


@pytest.fixture(scope="module")
def rolled_back(previous: Previous, tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """An upgrade from the previous recipe whose upgrade step is planted to fail (rolled back)."""
    assert fragment(previous.host) == "hls_fragment 4s"
    broken = copy_project(tmp_path_factory.mktemp("broken"))
    with (broken / "plugins" / "streaming" / "upgrade.yml").open("a") as playbook:
        playbook.write(PLANTED)
    return anl("upgrade", "streaming", "--lab", NAME, "--json", tree=broken)


@pytest.fixture(scope="module")
def upgraded(previous: Previous, rolled_back: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """From the previous recipe, back after the rollback, to the current one."""
    return anl("upgrade", "streaming", "--lab", NAME, "--json")


def test_a_failed_upgrade_is_rolled_back(previous: Previous, rolled_back: subprocess.CompletedProcess[str]) -> None:
    host, proc = previous.host, rolled_back
    assert proc.returncode == 1, output(proc)
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    steps = {s["name"]: s for s in report["steps"]}
    assert report["outcome"] == "rolled back", report
    assert not steps["upgrade step"]["ok"] and "planted failure" in steps["upgrade step"]["detail"]
    assert steps["rollback: deploy the previous recipe"]["ok"] and steps[f"rollback: restore {NAME}"]["ok"]
    assert steps["rollback: checks"]["ok"], steps["rollback: checks"]
    assert fragment(host) == "hls_fragment 4s", "the previous recipe's configuration is not back"
    assert sums(host) == previous.sums, "the recording the failed upgrade deleted is not back"
    upgrade_json = json.loads((Path(report["folder"]) / "upgrade.json").read_text())
    assert upgrade_json["outcome"] == "rolled back"


def test_upgrade_to_the_current_recipe(previous: Previous, upgraded: subprocess.CompletedProcess[str]) -> None:
    host, proc = previous.host, upgraded
    assert proc.returncode == 0, output(proc)
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["outcome"] == "upgraded", report
    assert report["previous"]["version"] == "0.0.9" and report["target"]["version"] == "0.1.0"
    assert [s["name"] for s in report["steps"]] == ["backup", "upgrade step", "checks"]
    assert fragment(host) == "hls_fragment 2s", "the current recipe's configuration is not in place"
    assert sums(host) == previous.sums
    kept = Path(report["folder"]) / "previous-recipe" / "plugin.yml"
    assert 'version: "0.0.9"' in kept.read_text(), "the previous recipe is not kept with the run"
    listed = json.loads(anl("backups", "streaming", "--lab", NAME, "--json").stdout)
    pre_upgrade = [s for s in listed["snapshots"] if "pre-upgrade" in s["labels"]]
    assert pre_upgrade
    # The hosts now run the current recipe: a second upgrade has nothing to do (no backup, no run).
    again = anl("upgrade", "streaming", "--lab", NAME)
    assert again.returncode == 0 and "already runs recipe 0.1.0" in again.stdout, output(again)
    listed = json.loads(anl("backups", "streaming", "--lab", NAME, "--json").stdout)
    assert [s for s in listed["snapshots"] if "pre-upgrade" in s["labels"]] == pre_upgrade


# --- streaming: remove, deploy again, purge --------------------------------------------

@dataclass
class Site:
    host: Any
    domain: str
    recording: str  # path inside the archive


@pytest.fixture(scope="module")
def remove_where_never_deployed(host: Any) -> subprocess.CompletedProcess[str]:
    return anl("remove", "streaming", "--lab", NAME, "--json")


@pytest.fixture(scope="module")
def streaming(host: Any, upgraded: subprocess.CompletedProcess[str]) -> Site:
    """The upgraded deployment (the current recipe), with one recording pushed from the host itself."""
    ok(upgraded)
    site = Site(host, f"live.{host.domain}", "")
    assert answers(host, site.domain), "the player page does not answer after the upgrade"
    assert "dport 1935" in ruleset(host)
    push = ["ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440", "-t", "5", "-c:v", "libx264", "-preset", "ultrafast",
            "-pix_fmt", "yuv420p", "-g", "50", "-c:a", "aac", "-f", "flv", "rtmp://127.0.0.1/live/KEY"]
    inner = shlex.join(push).replace("KEY", f"$(cat {KEY_FILE})")

    def recordings() -> set[str]:
        return set(sh(host, f"cd {ARCHIVE_DIR} && ls */{CHANNEL}-*.mp4 2>/dev/null || true").split())

    before = recordings()  # the upgrade tests' recording, when they ran first
    sh(host, f"systemd-run --quiet --collect --unit anl-remove-test-push /bin/sh -c {shlex.quote(inner)}")
    assert wait_for(lambda: recordings() - before, 90, step=2), "a push from the host made no recording"
    (site.recording,) = recordings() - before
    return site


@pytest.fixture(scope="module")
def streaming_removed(streaming: Site) -> subprocess.CompletedProcess[str]:
    return ok(anl("remove", "streaming", "--lab", NAME))


@pytest.fixture(scope="module")
def streaming_removed_again(streaming: Site, streaming_removed: Any) -> subprocess.CompletedProcess[str]:
    return anl("remove", "streaming", "--lab", NAME, "--json")


@pytest.fixture(scope="module")
def streaming_redeployed(streaming: Site, streaming_removed_again: Any) -> subprocess.CompletedProcess[str]:
    return anl("deploy", "streaming", "--lab", NAME, "--debian", "13")


@dataclass
class Purge:
    snapshots_before: list[str]
    proc: subprocess.CompletedProcess[str]
    again: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def streaming_purged(streaming: Site, streaming_redeployed: subprocess.CompletedProcess[str]) -> Purge:
    ok(streaming_redeployed)
    ok(anl("backup", "streaming", "--lab", NAME))
    before = snapshots(streaming.host, "streaming")
    proc = anl("remove", "streaming", "--lab", NAME, "--purge", "--yes")
    again = anl("remove", "streaming", "--lab", NAME, "--purge", "--yes", "--json")
    return Purge(before, proc, again)


def assert_changed_nothing(proc: subprocess.CompletedProcess[str]) -> None:
    """A one-run step that succeeded, ran tasks on the host, and changed none."""
    assert proc.returncode == 0, output(proc)
    host = counts(proc)
    assert host["failed"] == 0 and host["ok"] > 0, host
    assert host["changed"] == 0, host["changed_tasks"]


def test_remove_where_never_deployed_changes_nothing(remove_where_never_deployed: Any) -> None:
    assert_changed_nothing(remove_where_never_deployed)


def test_remove_takes_the_service_away_and_keeps_the_recordings(streaming: Site, streaming_removed: Any) -> None:
    host = streaming.host
    assert "its data and backups are kept" in streaming_removed.stdout
    assert answers(host, streaming.domain) is None, "the player page still answers"
    assert not listening(host, 1935) and not listening(host, 443)
    rules = ruleset(host)
    assert "dport 1935" not in rules and "dport 443" not in rules, rules
    assert "dport 22" in rules and "policy drop" in rules, rules  # SSH still reaches the host
    assert host.ssh("systemctl is-active --quiet anl-streaming-retention.timer").returncode != 0
    units = host.ssh("systemctl list-unit-files --no-legend 'anl-streaming-retention.*'")  # rc 1: none
    assert units.stdout.strip() == "", units.stdout
    for gone in ("/etc/systemd/system/anl-streaming-retention.timer", "/etc/nginx/anl-main.d/streaming-rtmp.conf",
                 "/etc/nginx/conf.d/anl-streaming-publish.conf", "/etc/nginx/sites-enabled/anl-streaming.conf",
                 "/etc/nginx/sites-available/anl-streaming.conf", "/etc/nginx/anl/streaming.locations.conf",
                 f"/etc/ssl/anl/{streaming.domain}.key", "/usr/local/lib/anl-streaming", "/var/www/anl-streaming"):
        assert not exists(host, gone), f"{gone} is still there"
    # The backup settings stay with the snapshots: `backups` and `restore` still find them.
    for kept in (f"{ARCHIVE_DIR}/{streaming.recording}", KEY_FILE, "/var/log/anl-streaming",
                 "/etc/logrotate.d/anl-streaming", "/etc/anl-stack/backup/plugins/streaming.json"):
        assert exists(host, kept), f"{kept} was removed"
    # nginx and its packages stay for the other plugins.
    assert host.ssh("systemctl is-active --quiet nginx").returncode == 0
    assert host.ssh("dpkg-query -W nginx libnginx-mod-rtmp ffmpeg").returncode == 0


def test_remove_again_changes_nothing(streaming_removed_again: subprocess.CompletedProcess[str]) -> None:
    assert_changed_nothing(streaming_removed_again)


def test_deploy_after_remove_lists_the_kept_recordings(streaming: Site, streaming_redeployed: Any) -> None:
    ok(streaming_redeployed)
    assert answers(streaming.host, streaming.domain), "the player page does not answer after the new deploy"
    archive = answers(streaming.host, streaming.domain, "/archives/")
    assert archive is not None and Path(streaming.recording).name in archive, "the kept recording is not listed"
    assert "dport 1935" in ruleset(streaming.host)


def test_purge_deletes_the_data_and_the_on_host_snapshots(streaming: Site, streaming_purged: Purge) -> None:
    host = streaming.host
    assert streaming_purged.proc.returncode == 0, output(streaming_purged.proc)
    assert "removed streaming and its data" in streaming_purged.proc.stdout
    assert streaming_purged.snapshots_before, "the backup before the purge wrote no snapshot"
    for gone in ("/var/lib/anl-streaming", "/etc/anl-streaming", "/var/log/anl-streaming",
                 "/etc/logrotate.d/anl-streaming", "/usr/local/lib/anl-streaming",
                 "/etc/anl-stack/backup/plugins/streaming.json"):
        assert not exists(host, gone), f"{gone} is still there"
    assert snapshots(host, "streaming") == []
    assert answers(host, streaming.domain) is None


def test_purge_again_changes_nothing(streaming_purged: Purge) -> None:
    assert_changed_nothing(streaming_purged.again)


# --- hello: backup, remove, deploy again, restore -----------------------------------------

def leave_group(host: Any, group: str) -> None:
    """Take the host out of a plugin's group in its inventory, as the operator does after a remove."""
    hosts_file = Path(host.inventory) / "hosts.yml"
    data = yaml.safe_load(hosts_file.read_text(encoding="utf-8"))
    children = data["all"].get("children") or {}
    (children.get(group) or {}).get("hosts", {}).pop(host.name, None)
    if not (children.get(group) or {}).get("hosts"):
        children.pop(group, None)
    hosts_file.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


@dataclass
class Hello:
    host: Any
    domain: str
    data: str       # the text of the data file
    snapshot: str   # the backup's snapshot id


@pytest.fixture(scope="module")
def hello(host: Any, streaming_purged: Purge) -> Hello:
    """hello deployed on the host streaming has left, a data file in its page folder, backed up."""
    leave_group(host, "streaming")
    # Back to Debian 13's engine (linear): under Mitogen, which has no SSH retries, this deploy once
    # timed out reaching the host.
    use_release_engine(host.inventory, "13")
    ok(anl("deploy", "hello", "--lab", NAME, "--debian", "13"))
    domain = f"hello.{host.domain}"
    assert answers(host, domain), "the hello page does not answer after the deploy"
    text = f"kept by the backup {time.time()}"
    sh(host, f"echo {shlex.quote(text)} > {HELLO_DATA}")
    ok(anl("backup", "hello", "--lab", NAME))
    listing = json.loads(ok(anl("backups", "hello", "--lab", NAME, "--json")).stdout)
    (snapshot,) = listing["snapshots"]
    return Hello(host, domain, text, snapshot["id"])


@pytest.fixture(scope="module")
def hello_removed(hello: Hello) -> subprocess.CompletedProcess[str]:
    return anl("remove", "hello", "--lab", NAME)


@pytest.fixture(scope="module")
def hello_restored(hello: Hello, hello_removed: Any) -> subprocess.CompletedProcess[str]:
    ok(anl("deploy", "hello", "--lab", NAME, "--debian", "13"))
    sh(hello.host, f"rm {HELLO_DATA}")
    return anl("restore", "hello", "--lab", NAME, "--from", hello.snapshot[:8], "--json")


@pytest.fixture(scope="module")
def hello_purged(hello: Hello, hello_restored: Any) -> subprocess.CompletedProcess[str]:
    return anl("remove", "hello", "--lab", NAME, "--purge", "--yes")


def test_hello_remove_keeps_its_data_and_backup(hello: Hello, hello_removed: Any) -> None:
    host = hello.host
    ok(hello_removed)
    assert answers(host, hello.domain) is None, "the hello page still answers"
    assert "dport 443" not in ruleset(host)
    for gone in ("/etc/nginx/sites-enabled/anl-hello.conf", "/etc/nginx/anl/hello.locations.conf",
                 "/etc/nginx/snippets/hello-token.conf", f"{HELLO_ROOT}/index.html", f"{HELLO_ROOT}/private"):
        assert not exists(host, gone), f"{gone} is still there"
    assert sh(host, f"cat {HELLO_DATA}").strip() == hello.data
    assert snapshots(host, "hello") == [hello.snapshot]


def test_hello_restore_after_remove_and_deploy(hello: Hello, hello_restored: subprocess.CompletedProcess[str]) -> None:
    proc = hello_restored
    assert proc.returncode == 0, output(proc)
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["step"] == "restore" and report["snapshot"]["id"] == hello.snapshot
    assert report["verify"]["exit_code"] == 0, report["verify"]
    assert sh(hello.host, f"cat {HELLO_DATA}").strip() == hello.data
    assert answers(hello.host, hello.domain), "the hello page does not answer after the restore"


def test_hello_purge_deletes_its_folder_and_snapshots(hello: Hello, hello_purged: Any) -> None:
    ok(hello_purged)
    assert not exists(hello.host, HELLO_ROOT)
    assert snapshots(hello.host, "hello") == []
    assert answers(hello.host, hello.domain) is None
