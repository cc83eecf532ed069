"""The collection for AWX, run with plain ansible-playbook where anl-stack does not exist.

One Debian 13 lab host (``col13``) and one module fixture, which does the whole job once:

- `anl-stack collection build` writes the archive; a new virtualenv gets only the ansible-core
  this project runs (pip, the ordinary client), and cannot import anl_stack (checked);
- `ansible-galaxy collection install FILE -p DIR` from that virtualenv inside a network
  namespace with no network at all (unshare -n): the install needs no Galaxy server;
- the collections the roles call (community.crypto for the self-signed certificate) come from
  the `ansible` package this project installs, copied beside it: what an AWX execution
  environment provides;
- the releases come from `anl-stack artifacts export streaming` (anl_artifacts_dir);
- the host's own commune-style inventory, with the host in the streaming group and the
  secrets generated once into its vault (as a first plan or deploy does), read by Ansible
  with the vault password file only.

Then `ansible-playbook anl.communes.streaming` deploys, `anl-stack verify streaming -i INV`
passes on the host, and a second plain run reports changed=0.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.lab

PROJECT = Path(__file__).resolve().parent.parent.parent
HOST = "col13"
#: Collections the streaming chain calls (roles/web: community.crypto for self-signed certificates).
DEPENDENCIES = ("community/crypto",)


@dataclass
class Run:
    host: Any                 # anl_stack.lab.LabHost
    inventory: Path
    ansible_playbook: list[str]
    env: dict[str, str]
    first: subprocess.CompletedProcess[str]


def anl(*args: str, timeout: int = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "anl_stack", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=PROJECT)


def output(proc: subprocess.CompletedProcess[str]) -> str:
    return proc.stdout[-6000:] + proc.stderr[-3000:]


def ansible_core_version() -> str:
    import importlib.metadata

    return importlib.metadata.version("ansible-core")


def recap(proc: subprocess.CompletedProcess[str], host: str) -> dict[str, int]:
    """The PLAY RECAP counters of HOST in a plain ansible-playbook run's output."""
    match = re.search(rf"^{re.escape(host)}\s*:\s*(.*)$", proc.stdout.split("PLAY RECAP")[-1], re.MULTILINE)
    assert match, output(proc)
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(1))}


def clean_venv(where: Path) -> Path:
    """A virtualenv holding ansible-core alone (no anl-stack), from the package registry."""
    system_python = shutil.which("python3", path="/usr/bin:/bin") or "python3"
    subprocess.run([system_python, "-m", "venv", str(where)], check=True, timeout=300)
    proc = subprocess.run([str(where / "bin" / "pip"), "install", "--quiet", f"ansible-core=={ansible_core_version()}"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return where / "bin"


def plain_env(bin_dir: Path, collections: list[Path], vault_password_file: Path, home: Path) -> dict[str, str]:
    """What the plain runs see: the clean virtualenv first on PATH, no variable of this project."""
    return {"PATH": f"{bin_dir}:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8", "ANSIBLE_COLLECTIONS_PATH": ":".join(str(c) for c in collections),
            "ANSIBLE_VAULT_PASSWORD_FILE": str(vault_password_file), "ANSIBLE_HOST_KEY_CHECKING": "False",
            "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}


@pytest.fixture(scope="module")
def collection_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    from tests.fixtures.lab import lab_host_for

    work = tmp_path_factory.mktemp("collection")
    built = anl("collection", "build", "--output", str(work / "dist"), "--json")
    assert built.returncode == 0, output(built)
    archive = Path(json.loads(built.stdout)["archive"])
    assert archive.name == f"anl-communes-{json.loads(built.stdout)['version']}.tar.gz"

    bin_dir = clean_venv(work / "venv")
    no_anl = subprocess.run([str(bin_dir / "python"), "-c", "import anl_stack"], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(work)}, cwd=work)
    assert no_anl.returncode != 0 and "No module named 'anl_stack'" in no_anl.stderr, no_anl.stderr

    # The install, in a network namespace where only loopback exists: no server can be reached.
    installed = subprocess.run(["unshare", "--net", "--", str(bin_dir / "ansible-galaxy"), "collection", "install",
                                str(archive), "-p", str(work / "collections")],
                               capture_output=True, text=True, timeout=300, cwd=work,
                               env={"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(work)})
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert (work / "collections" / "ansible_collections" / "anl" / "communes" / "playbooks" / "streaming.yml").is_file()
    import ansible_collections

    deps = work / "deps" / "ansible_collections"
    for name in DEPENDENCIES:
        source = next(Path(p) / name for p in ansible_collections.__path__ if (Path(p) / name).is_dir())
        shutil.copytree(source, deps / name)

    fetched = anl("artifacts", "fetch", "streaming")
    assert fetched.returncode == 0, output(fetched)
    exported = anl("artifacts", "export", "streaming", "--output", str(work / "artifacts"))
    assert exported.returncode == 0, output(exported)

    for host in lab_host_for(HOST, "13"):
        from anl_stack import lab
        from anl_stack.inventory import vault
        from anl_stack.inventory.model import add_host_to_group, load_inventory, resolve_inventory_path
        from anl_stack.plugin_api import BACKUP_PASSWORD_SECRET
        from anl_stack.plugins import discover_plugins, get_plugin
        from anl_stack.plugins.manifest import Secret

        paths = resolve_inventory_path(Path(host.inventory))
        add_host_to_group(paths, HOST, "streaming")
        lab.add_names(HOST, [f"live.{host.domain}"])
        password = Path(host.vault_password_file)
        declared = [*get_plugin("streaming", discover_plugins()).manifest.deployment.secrets,
                    Secret(name=BACKUP_PASSWORD_SECRET, kind="hex", length=64, description="backups")]
        vault.ensure_secrets(paths, password, declared)
        assert load_inventory(paths).groups["streaming"] == [HOST]
        assert "$ANSIBLE_VAULT" in paths.vault.read_text()

        env = plain_env(bin_dir, [work / "collections", work / "deps"], password, work)
        command = [str(bin_dir / "ansible-playbook"), "-i", str(paths.root), "anl.communes.streaming",
                   "-e", f"anl_artifacts_dir={work / 'artifacts'}"]
        # cwd outside the project: its ansible.cfg must not be read.
        first = subprocess.run(command, capture_output=True, text=True, timeout=2400, env=env, cwd=work)
        yield Run(host, paths.root, command, env, first)


def test_plain_playbook_deploys_and_is_idempotent(collection_run: Run) -> None:
    run = collection_run
    first = recap(run.first, HOST)
    assert run.first.returncode == 0 and first["failed"] == 0 and first["changed"] > 0, output(run.first)
    assert "anl.communes.gate" in run.first.stdout or "Anl-stack gate for streaming" in run.first.stdout
    ports = run.host.ssh("nft list ruleset").stdout
    assert "1935" in ports and "443" in ports, ports[-2000:]

    verified = anl("verify", "streaming", "-i", str(run.inventory), "--vault-password-file",
                   str(run.host.vault_password_file), "--json")
    try:
        report = json.loads(verified.stdout)
    except ValueError:
        pytest.fail(f"verify printed no JSON (exit {verified.returncode}): {output(verified)}")
    failed = [f"{c['suite']}/{c['check']}: {c.get('message', '')[:300]}" for c in report["checks"]
              if c["outcome"] in ("failed", "error")]
    assert verified.returncode == 0, "\n".join(failed) or output(verified)
    assert any(c["suite"] == "streaming" and c["outcome"] == "passed" for c in report["checks"]), report["checks"]

    second = subprocess.run(run.ansible_playbook, capture_output=True, text=True, timeout=1800, env=run.env,
                            cwd=Path(run.env["HOME"]))
    counters = recap(second, HOST)
    assert second.returncode == 0 and counters["failed"] == 0, output(second)
    assert counters["changed"] == 0, output(second)


def test_unsupported_release_refused_before_any_change(collection_run: Run) -> None:
    """A recipe whose manifest lists only Debian 12 (the gate's embedded facts, overridden) is refused on this
    Debian 13 host by the first play: the recipe's plays never start."""
    proc = subprocess.run([*collection_run.ansible_playbook, "-e", json.dumps({"gate_plugins": {"streaming": {
        "releases": ["12"]}}})], capture_output=True, text=True, timeout=600, env=collection_run.env,
        cwd=Path(collection_run.env["HOME"]))
    assert proc.returncode != 0, output(proc)
    assert "the streaming recipe supports Debian 12" in proc.stdout, output(proc)
    assert "Live streaming of the municipal council" not in proc.stdout, output(proc)


def test_relative_artifacts_folder_refused_before_any_change(collection_run: Run) -> None:
    """anl_artifacts_dir must be an absolute path (Ansible would look a relative one up beside the playbook)."""
    command = [a for a in collection_run.ansible_playbook if not a.startswith("anl_artifacts_dir=")]
    proc = subprocess.run([*command, "anl_artifacts_dir=artifacts"], capture_output=True, text=True, timeout=600,
                          env=collection_run.env, cwd=Path(collection_run.env["HOME"]))
    assert proc.returncode != 0, output(proc)
    assert "set anl_artifacts_dir to the absolute path" in proc.stdout, output(proc)
    assert "Live streaming of the municipal council" not in proc.stdout, output(proc)
