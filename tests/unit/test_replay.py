"""A run folder's replay/ replays the run with plain ansible-playbook (a real run, on this machine)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from anl_stack.deploy import replay
from anl_stack.plugin_api import GENERATED_INVENTORY

PLAY = """- name: Write the port the generated inventory gives
  hosts: all
  gather_facts: false
  tasks:
    - name: Write it
      ansible.builtin.copy:
        content: "{{ anl_firewall_ports[0].port }}\\n"
        dest: "{{ out }}"
        mode: "0600"
"""


def test_the_replay_script_runs_the_same_playbook_with_the_generated_inventory(tmp_path: Path) -> None:
    root = tmp_path / "commune"
    root.mkdir()
    out = tmp_path / "out.txt"
    (root / "hosts.yml").write_text(f"all:\n  hosts:\n    here:\n      ansible_connection: local\n"
                                    f"      ansible_python_interpreter: {sys.executable}\n      out: {out}\n")
    (tmp_path / "play.yml").write_text(PLAY)
    config = root / "ansible.cfg"
    config.write_text("[defaults]\nretry_files_enabled = False\n")
    files = {GENERATED_INVENTORY: "all:\n  hosts:\n    here:\n      anl_firewall_ports: [{port: 8443}]\n",
             replay.PLAYBOOK: f"- ansible.builtin.import_playbook: {tmp_path / 'play.yml'}\n"}
    env = {"ANSIBLE_CONFIG": str(config), "ANSIBLE_NOCOLOR": "1", "ANL_SAMPLE_TOKEN": "s3cr3t-value"}
    folder = root / ".anl-stack" / "runs" / "20261203-000000-deploy-abcdef"
    folder.mkdir(parents=True)
    script = replay.write(folder, root=root, files=files, env=env, inventory=root,
                          options=replay.options_of(["--diff"], limit="here", tags=None, skip_tags=None),
                          scrub=lambda text: text.replace("s3cr3t-value", "********"))

    assert stat.S_IMODE(script.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "replay").stat().st_mode) == 0o700
    assert all("s3cr3t-value" not in f.read_text() for f in (folder / "replay").iterdir())
    config.write_text("[defaults]\nthis is not an ansible.cfg\n")  # the next run rewrites it: the replay has its own
    env_run = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    proc = subprocess.run([str(script)], capture_output=True, text=True, timeout=300, env=env_run)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert out.read_text().strip() == "8443"
    assert "--limit here" in script.read_text() and "--diff" in script.read_text()
    # Arguments reach ansible-playbook: in check mode nothing is written.
    out.unlink()
    proc = subprocess.run([str(script), "--check"], capture_output=True, text=True, timeout=300, env=env_run)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert not out.exists()
