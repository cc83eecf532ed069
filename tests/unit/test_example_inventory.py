"""The example commune inventory shipped in inventories/ stays valid."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from anl_stack.cli import cli

EXAMPLE = Path(__file__).resolve().parents[2] / "inventories" / "exemple"


def test_example_inventory_passes_the_check() -> None:
    result = CliRunner().invoke(cli, ["inventory", "check", "-i", str(EXAMPLE), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["valid"] is True


def test_example_inventory_is_read_by_ansible_as_is() -> None:
    bin_dir = Path(sys.executable).parent
    proc = subprocess.run([str(bin_dir / "ansible-inventory"), "-i", str(EXAMPLE), "--list"],
                          capture_output=True, text=True, check=True)
    listing = json.loads(proc.stdout)
    assert listing["streaming"]["hosts"] == ["diffusion1"]
    assert listing["nextcloud"]["hosts"] == ["cloud1"]
    assert listing["_meta"]["hostvars"]["cloud1"]["ansible_port"] == 2222
