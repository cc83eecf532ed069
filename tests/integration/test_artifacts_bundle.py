"""An offline bundle reaches a lab host by push from the controller.

A bundle is made from one artifact cache (the "connected" controller, which
downloads from a loopback server), imported into another (the "offline"
controller, after the server is gone), and deployed with ``anl-stack deploy
--lab`` through the test plugin ``bundled``, whose role uses the shared
``artifact`` role. The host downloads nothing: the file is pushed, checked
there, then unpacked. A file whose hash does not match on the host is
removed and never unpacked.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.fixtures.artifacts import ArtifactServer, make_archive, manifest

pytestmark = pytest.mark.lab

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
TEMPLATE = PROJECT_ROOT / "tests" / "plugins" / "bundled"
VENV_BIN = Path(sys.executable).parent
HOST = "abundle"


def anl(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(VENV_BIN / "anl-stack"), *args], env=env, capture_output=True, text=True,
                          check=False, timeout=1500)
    if check and proc.returncode != 0:
        pytest.fail(f"anl-stack {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_bundle_imported_offline_is_deployed_by_push(lab_host_factory, tmp_path: Path) -> None:
    from anl_stack.inventory.model import create_inventory

    archive = make_archive({"bundled-1.0.0/VERSION": b"1.0.0\n",
                            "bundled-1.0.0/README": b"a release carried in an offline bundle\n" * 500})
    sha256 = hashlib.sha256(archive).hexdigest()
    server = ArtifactServer(files={"/rel/bundled-1.0.0.tar.gz": archive}).start()
    try:
        plugins = tmp_path / "plugins"
        shutil.copytree(TEMPLATE, plugins / "bundled")
        (plugins / "bundled" / "plugin.yml").write_text(yaml.safe_dump(manifest("bundled", [
            {"name": "bundled", "version": "1.0.0", "url": server.url("/rel/bundled-1.0.0.tar.gz"),
             "sha256": sha256}])))
        env = dict(os.environ, ANL_STACK_PLUGINS_PATH=str(plugins),
                   ANL_STACK_ARTIFACTS_DIR=str(tmp_path / "online-cache"))
        inventory = create_inventory(tmp_path / "inv", commune="hameau", domain="hameau.test",
                                     email="mairie@hameau.test",
                                     hosts={"children": {"bundled": {"hosts": {"srv1": {}}}}},
                                     vault_password_file=tmp_path / "vault-pass").root
        bundle = tmp_path / "hameau.anlbundle"
        anl("artifacts", "bundle", "-i", str(inventory), "-o", str(bundle), env=env)
        assert server.count("/rel/bundled-1.0.0.tar.gz") == 1
    finally:
        server.stop()  # from here on, nothing can be downloaded from it

    host = lab_host_factory(HOST, "13")
    offline = dict(env, ANL_STACK_ARTIFACTS_DIR=str(tmp_path / "offline-cache"))
    missing = anl("deploy", "bundled", "--lab", HOST, env=offline, check=False)
    assert missing.returncode == 2, missing.stderr
    assert "anl-stack artifacts import BUNDLE" in missing.stderr

    imported = json.loads(anl("artifacts", "import", str(bundle), "--json", env=offline).stdout)
    assert [e["sha256"] for e in imported] == [sha256]

    anl("deploy", "bundled", "--lab", HOST, "--idempotence", env=offline)

    pushed = host.ssh("sha256sum /var/cache/anl-stack/artifacts/bundled-1.0.0.tar.gz")
    assert pushed.stdout.split()[0] == sha256
    assert host.ssh("cat /opt/bundled/bundled-1.0.0/VERSION").stdout == "1.0.0\n"

    # A file that does not match on the host is removed and never unpacked.
    corrupt = tmp_path / "corrupt.tar.gz"
    corrupt.write_bytes(archive[:100] + bytes([archive[100] ^ 1]) + archive[101:])
    actual = hashlib.sha256(corrupt.read_bytes()).hexdigest()
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps({
        "anl_artifacts": {"bundled": {"path": str(corrupt), "sha256": sha256, "filename": "bundled-1.0.0.tar.gz",
                                      "version": "1.0.0", "plugin": "bundled"}},
        "bundled_dir": "/opt/tampered", "artifact_dir": "/var/tmp/anl-tampered"}))
    playbook_env = dict(offline, ANSIBLE_ROLES_PATH=f"{PROJECT_ROOT / 'playbooks' / 'roles'}:{plugins / 'bundled' / 'roles'}",
                        ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_NOCOLOR="1")
    run = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(host.inventory), "--limit", HOST,
         "--vault-password-file", str(host.vault_password_file), "-e", f"@{extra}",
         str(plugins / "bundled" / "playbook.yml")],
        env=playbook_env, capture_output=True, text=True, check=False, timeout=900)
    assert run.returncode != 0
    assert "sha256 check on the host failed" in run.stdout
    assert sha256 in run.stdout and actual in run.stdout
    assert host.ssh("test -e /var/tmp/anl-tampered/bundled-1.0.0.tar.gz").returncode != 0
    assert host.ssh("test -e /opt/tampered").returncode != 0
