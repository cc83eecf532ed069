"""Inputs that are valid but large or looping: handled within resource limits, never by the clock.

Each test runs a real process under RLIMIT_CPU (and RLIMIT_AS): work that
grows with the square of the input, or a walk that never ends, is killed by
the limit and the test fails, however fast the machine is.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

from tests.hostile.cases_artifacts import BLOB, GOOD_ENTRY, SHA, _index, _plugin, bundle
from tests.hostile.model import HOSTS, PROJECT, TEST_PLUGINS, Where, inventory, link, outside_files, plugin, write

CPU_SECONDS = 30


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS + 5))
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def _run(args: list[str], env: dict[str, str], cwd: Path = PROJECT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=env,
                          preexec_fn=_limited, timeout=600)


# 200,000 hosts in three groups, read and checked as inventory check and deploy do (firewall ports per host).
LINEAR = """
import sys
from pathlib import Path
from anl_stack.core.yamlfile import YamlDoc
from anl_stack.inventory.check import Checker
from anl_stack.inventory.model import Inventory, InventoryPaths, _walk_group, firewall_ports

count = int(sys.argv[1])
hosts = {f"h{i}": {"ansible_host": "10.0.0.1", "ansible_port": 22} for i in range(count)}
body = {"hosts": hosts, "children": {name: {"hosts": {h: {} for h in hosts}} for name in ("one", "two", "three")}}
inv = Inventory(InventoryPaths(Path("/nowhere")), YamlDoc(Path("/nowhere/hosts.yml"), {"all": body}, None))
_walk_group(inv, "all", body, ("all",))
records = [r for r in Checker(inv, []).run() if "names no known plugin" in r.message]
ports = firewall_ports(inv, {})
seen = sum(len(inv.groups_of(h)) + len(inv.host_settings(h)) for h in inv.hosts)
print(len(inv.groups["all"]), len(inv.groups["two"]), len(records), len(ports), seen)
"""


def test_a_200000_host_inventory_is_walked_in_linear_time(tmp_path: Path) -> None:
    done = _run(["-c", LINEAR, "200000"], dict(os.environ))
    assert done.returncode == 0, f"killed or failed (a quadratic walk?): {done.returncode} {done.stderr[-2000:]}"
    hosts, two, records, ports, seen = map(int, done.stdout.split())
    # every host in all and in each group; one error per group (no plugin here); 4 groups + 2 variables per host
    assert (hosts, two, records, ports, seen) == (200_000, 200_000, 3, 200_000, 200_000 * (4 + 2))


def test_plugins_list_ends_on_a_plugin_with_looping_links(tmp_path: Path) -> None:
    """Two links to folders holding them made the listing cache walk 2^depth paths; now the plugin is refused."""
    where = Where(tmp_path)
    folder = plugin(where)
    link(folder / "roles" / "up", ".")
    link(folder / "roles" / "again", "..")
    env = {**os.environ, "ANL_STACK_PLUGINS_PATH": str(where.plugins), "ANL_STACK_CACHE_DIR": str(tmp_path / "cache")}
    done = _run(["-m", "anl_stack", "plugins", "list", "--json"], env)
    assert done.returncode == 0, done.stderr[-2000:]
    listed = {p["name"]: p for p in json.loads(done.stdout)["plugins"]}
    errors = listed["hostile"]["error"]
    assert {e["key"] for e in errors} == {"roles/up", "roles/again"}, errors
    assert all("a folder holding it" in e["message"] for e in errors), errors


def _environment(where: Where) -> dict[str, str]:
    return {**os.environ, "HOME": str(where.home), "ANL_STACK_CONFIG_DIR": str(where.home / "config"),
            "ANL_STACK_CACHE_DIR": str(where.home / "cache"), "ANL_STACK_STATE_DIR": str(where.home / "state"),
            "ANL_STACK_PLUGINS_PATH": os.pathsep.join([str(TEST_PLUGINS), str(where.plugins)])}


def test_the_corpus_starting_points_are_accepted(tmp_path: Path) -> None:
    """The inputs the hostile cases change one thing in are themselves accepted: each refusal is that change's."""
    where = Where(tmp_path)
    outside_files(where)
    _plugin(where)
    inventory(where, hosts=HOSTS.replace("    hello:\n", "    hello:\n      hosts: {srv1: {}}\n    hostile:\n"))
    write(where.case / "bundle.tar", bundle())
    where.case.mkdir(parents=True, exist_ok=True)
    env = _environment(where)
    for args in (["inventory", "check", "-i", str(where.inv)], ["plugins", "show", "hostile", "--json"],
                 ["plugins", "check", str(where.plugins / "hostile"), "--no-lint", "--json"],
                 ["artifacts", "import", str(where.case / "bundle.tar"), "--json"],
                 ["artifacts", "fetch", "hostile", "--json"]):
        done = _run(["-m", "anl_stack", *args], env, cwd=where.case)
        assert done.returncode == 0, f"{args}: {done.stdout[-1500:]} {done.stderr[-1500:]}"
    fetched = json.loads(done.stdout)
    assert fetched[0]["cache_hit"] is True and fetched[0]["sha256"] == SHA


def test_a_cache_hit_on_a_tampered_file_is_refused_and_an_intact_one_accepted(tmp_path: Path) -> None:
    where = Where(tmp_path)
    _plugin(where)
    blob = where.home / "cache" / "artifacts" / "blobs" / SHA
    write(where.home / "cache" / "artifacts" / "index.json", _index(GOOD_ENTRY))
    write(blob, BLOB)
    env = _environment(where)
    assert _run(["-m", "anl_stack", "artifacts", "fetch", "hostile"], env).returncode == 0
    blob.write_bytes(BLOB.replace(b"1.0.0", b"6.6.6"))
    done = _run(["-m", "anl_stack", "artifacts", "fetch", "hostile"], env)
    assert done.returncode == 2, done.stdout
    assert f"error: {blob}: hostile: deployment.artifacts.app: artifact app 1.0.0 (plugin hostile): cached file " \
           "changed since it was checked; sha256 check failed" in done.stderr
    assert "cache hit" not in done.stdout
    shutil.rmtree(where.home / "cache")
