"""Generated secrets: once, encrypted by Ansible's vault, readable by Ansible, never printed."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from anl_stack.cli import cli
from anl_stack.core.errors import AnlError
from anl_stack.inventory import vault
from anl_stack.inventory.model import resolve_inventory_path, vault_password_file

DECLARED = [SimpleNamespace(name="hello_token", kind="token", length=32),
            SimpleNamespace(name="hello_db_password", kind="password", length=24),
            SimpleNamespace(name="hello_key", kind="hex", length=16)]


def test_generate_kinds() -> None:
    assert len(vault.generate("password", 24)) == 24
    assert vault.generate("password", 24).isalnum()
    assert all(c in "0123456789abcdef" for c in vault.generate("hex", 16))
    assert len(vault.generate("token", 32)) == 32
    assert vault.generate("password", 32) != vault.generate("password", 32)


def _documented_alphabets(doc: Path) -> dict[str, set[str]]:
    """Kind -> alphabet, from the "Secret kinds" table of the manifest docs (``A-Z a-z 0-9 - _``)."""
    found: dict[str, set[str]] = {}
    for row in doc.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in row.strip("|").split("|")]
        if len(cells) == 4 and cells[0] in ("`password`", "`token`", "`hex`"):
            spec = cells[1].split("`")[1]
            chars: set[str] = set()
            for part in spec.split():
                chars |= {chr(c) for c in range(ord(part[0]), ord(part[2]) + 1)} if len(part) == 3 else {part}
            found[cells[0].strip("`")] = chars
    return found


@pytest.mark.parametrize("doc", ["docs/manifest.md", "docs/manifest.fr.md"])
def test_secret_alphabets_are_the_documented_ones(project_root: Path, doc: str) -> None:
    documented = _documented_alphabets(project_root / doc)
    assert set(documented) == {"password", "token", "hex"}
    for kind, alphabet in documented.items():
        drawn = "".join(vault.generate(kind, 256) for _ in range(32))
        # 8,192 draws: every character of a 64-character alphabet shows up (missing one: p < 1e-25).
        assert set(drawn) == alphabet, kind


def test_secrets_generated_once_and_encrypted(commune: Path) -> None:
    paths = resolve_inventory_path(commune)
    password = vault_password_file(paths)
    assert vault.ensure_secrets(paths, password, DECLARED) == ["hello_token", "hello_db_password", "hello_key"]
    first = vault.read_secrets(paths, password)
    raw = paths.vault.read_text()
    assert raw.startswith("$ANSIBLE_VAULT;1.1;AES256")
    assert all(value not in raw for value in first.values())
    assert stat.S_IMODE(paths.vault.stat().st_mode) == 0o600
    # Never regenerated: a second call adds nothing and keeps values.
    assert vault.ensure_secrets(paths, password, DECLARED) == []
    assert vault.read_secrets(paths, password) == first
    more = DECLARED + [SimpleNamespace(name="hello_extra", kind="password", length=12)]
    assert vault.ensure_secrets(paths, password, more) == ["hello_extra"]
    after = vault.read_secrets(paths, password)
    assert {k: after[k] for k in first} == first


def test_ansible_reads_the_vault(commune: Path) -> None:
    paths = resolve_inventory_path(commune)
    password = vault_password_file(paths)
    vault.ensure_secrets(paths, password, DECLARED)
    values = vault.read_secrets(paths, password)
    bin_dir = Path(sys.executable).parent
    proc = subprocess.run([str(bin_dir / "ansible-inventory"), "-i", str(commune), "--host", "srv1",
                           "--vault-password-file", str(password)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert values["hello_token"] in proc.stdout


def test_password_script(commune: Path, tmp_path: Path) -> None:
    """A vault password file may be an executable printing the password."""
    paths = resolve_inventory_path(commune)
    script = tmp_path / "pw.sh"
    script.write_text("#!/bin/sh\necho from-a-script\n")
    script.chmod(0o700)
    vault.ensure_secrets(paths, script, DECLARED[:1])
    assert set(vault.read_secrets(paths, script)) == {"hello_token"}
    plain = tmp_path / "pw"
    plain.write_text("from-a-script\n")
    assert set(vault.read_secrets(paths, plain)) == {"hello_token"}


def test_wrong_password_is_a_clear_error(commune: Path, tmp_path: Path) -> None:
    paths = resolve_inventory_path(commune)
    vault.ensure_secrets(paths, vault_password_file(paths), DECLARED)
    wrong = tmp_path / "wrong"
    wrong.write_text("nope\n")
    with pytest.raises(AnlError, match="cannot decrypt"):
        vault.read_secrets(paths, wrong)


def test_cli_lists_names_and_reveals_only_on_purpose(commune: Path) -> None:
    paths = resolve_inventory_path(commune)
    vault.ensure_secrets(paths, vault_password_file(paths), DECLARED)
    token = vault.read_secrets(paths, vault_password_file(paths))["hello_token"]
    runner = CliRunner()
    listed = runner.invoke(cli, ["secrets", "list", "-i", str(commune)])
    assert listed.exit_code == 0
    assert listed.output.split() == sorted(s.name for s in DECLARED)
    assert token not in listed.output
    hidden = runner.invoke(cli, ["secrets", "show", "hello_token", "-i", str(commune)])
    assert hidden.exit_code == 2
    assert token not in hidden.output
    shown = runner.invoke(cli, ["secrets", "show", "hello_token", "-i", str(commune), "--reveal"])
    assert shown.exit_code == 0
    assert shown.output.strip() == token
    typo = runner.invoke(cli, ["secrets", "show", "hello_tokn", "-i", str(commune), "--reveal"])
    assert typo.exit_code == 2
    assert "did you mean hello_token" in typo.output
