"""The collective: signed members file with its quorum, signed commune files, verify, status, publish.

Real OpenPGP keys, made once for the module by ``gpg --quick-gen-key`` in a
throw-away GNUPGHOME; real gpg and gpgv check every signature.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from anl_stack.cli import cli
from anl_stack.collective import members as members_mod
from anl_stack.collective.model import Member
from anl_stack.collective.publish import publish
from anl_stack.collective.signatures import TAMPERED, UNKNOWN_KEY
from anl_stack.collective.status import BEHIND, CURRENT, status
from anl_stack.collective.verify import NOT_MEMBER, REMOVED, review_signers, verify
from anl_stack.core.errors import AnlError
from anl_stack.inventory import vault
from anl_stack.inventory.model import resolve_inventory_path
from anl_stack.plugins.discovery import load_folder
from anl_stack.plugins.scaffold import create_plugin
from anl_stack.records import quality
from anl_stack.records.evidence import record_check, record_evidence
from anl_stack.records.reviews import record_review
from tests.unit.test_reviews import clean_check, edit, report_file, run_summary

NAME = "demo"
COMMUNES = {"A": ("Commune de Aiguebelle", "73001"), "B": ("Commune de Bessans", "73002"),
            "C": ("Commune de Cevins", "73003"), "D": ("Commune de Doucy", "73004")}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Five throw-away keys (members A-D, and X that belongs to nobody) in one GNUPGHOME."""
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    saved = os.environ.get("GNUPGHOME")
    os.environ["GNUPGHOME"] = str(home)
    found = {}
    for label in ("A", "B", "C", "D", "X"):
        uid = f"Mairie {label} <dsi-{label.lower()}@exemple.fr>"
        subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"],
                       check=True, capture_output=True)
        out = subprocess.run(["gpg", "--batch", "--with-colons", "--list-secret-keys", uid], check=True,
                             capture_output=True, text=True).stdout
        found[label] = next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr"))
    try:
        yield found
    finally:
        subprocess.run(["gpgconf", "--kill", "all"], capture_output=True, check=False)
        if saved is None:
            os.environ.pop("GNUPGHOME", None)
        else:
            os.environ["GNUPGHOME"] = saved


def member(label: str, keys: dict[str, str]) -> Member:
    commune, insee = COMMUNES[label]
    return Member(commune, insee, f"dsi@{label.lower()}.exemple.fr", keys[label])


def build_collective(root: Path, keys: dict[str, str], labels: str = "ABCD") -> Path:
    """A founds it (quorum 2); every other commune joins, and the members sign each change."""
    members_mod.init(root, name="ANL", quorum=2, founders=[member("A", keys)], key=keys["A"])
    for i, label in enumerate(labels[1:], start=1):
        members_mod.join(root, member(label, keys), key=keys[label])
        for signer in labels[: min(i, 2)]:
            members_mod.sign(root, key=keys[signer])
    return root


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    return create_plugin(NAME, tmp_path / "plugins")


def inventory(tmp_path: Path, label: str, *, settings: dict | None = None, host_vars: dict | None = None) -> Path:
    root = tmp_path / f"inv-{label.lower()}"
    (root / "group_vars" / "all").mkdir(parents=True)
    host = {"ansible_host": "192.0.2.10", **(host_vars or {})}
    (root / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {NAME: {"hosts": {"h1": host}}}}}))
    (root / "group_vars" / "all" / "anl.yml").write_text(yaml.safe_dump({
        "anl_commune": f"commune-{label.lower()}", "anl_domain": f"{label.lower()}.exemple.fr",
        "anl_admin_email": f"dsi@{label.lower()}.exemple.fr", **(settings or {})}))
    return root


def publish_for(tmp_path: Path, root: Path, plugin: Path, keys: dict[str, str], label: str, **kwargs: object) -> Path:
    inv = inventory(tmp_path, label, **kwargs)  # type: ignore[arg-type]
    report = report_file(tmp_path, plugin, environment="production", name=f"report-{label}.json")
    target, _ = publish(root, inv, key=keys[label], report=report, plugins=[load_folder(plugin, NAME)])
    return target


def problems(root: Path) -> dict[str, str]:
    """File name -> why, for every file verify did not trust."""
    result = verify(root)
    return {Path(r.file or "").name: r.message for r in result.chain.problems + result.ignored}


# --- the members file and its quorum --------------------------------------------------------------

def test_founding_and_joins_need_the_quorum(tmp_path: Path, keys: dict[str, str]) -> None:
    root = build_collective(tmp_path / "anl", keys, "ABC")
    chain = members_mod.read_chain(root)
    assert [m.insee for m in chain.current.members] == ["73001", "73002", "73003"]
    assert chain.current.version == 3 and chain.pending is None and not chain.problems
    assert review_signers(root) == {keys[x]: COMMUNES[x][0] for x in "ABC"}


def test_a_change_signed_by_one_member_only_is_refused(tmp_path: Path, keys: dict[str, str]) -> None:
    root = build_collective(tmp_path / "anl", keys, "ABC")
    members_mod.remove(root, "73003", key=keys["A"])  # A alone: quorum 2 not met
    chain = members_mod.read_chain(root)
    assert chain.current.version == 3 and "73003" in chain.current.by_insee()
    assert chain.pending is not None and chain.pending[1] == [keys["A"]] and chain.pending[2] == 2
    with pytest.raises(AnlError) as caught:
        members_mod.propose(root, list(chain.current.members), key=keys["B"])
    assert caught.value.exit_code == 2
    # Nobody can stack a version on the one still waiting: it is refused with it.
    forged = root / "members" / "0005.yml"
    forged.write_text((root / "members" / "0004.yml").read_text().replace("version: 4", "version: 5"))
    chain = members_mod.read_chain(root)
    assert chain.current.version == 3 and chain.pending is None
    assert any("not signed by enough members (1 of 2)" in p.message for p in chain.problems)
    # A signature by a key that is not a member's does not count either.
    forged.unlink()
    with pytest.raises(AnlError):
        members_mod.sign(root, key=keys["X"])
    members_mod.sign(root, key=keys["B"])
    assert "73003" not in members_mod.read_chain(root).current.by_insee()


def test_a_tampered_members_version_stops_the_chain(tmp_path: Path, keys: dict[str, str]) -> None:
    root = build_collective(tmp_path / "anl", keys, "AB")
    second = root / "members" / "0002.yml"
    second.write_text(second.read_text().replace("quorum: 2", "quorum: 1"))
    chain = members_mod.read_chain(root)
    assert chain.current.version == 1
    assert any(TAMPERED in p.message for p in chain.problems)


# --- commune files: three published, each kind of untrusted file ignored ------------------------

def test_tampered_removed_and_unknown_key_are_reported_and_ignored(tmp_path: Path, keys: dict[str, str],
                                                                   plugin: Path) -> None:
    root = build_collective(tmp_path / "anl", keys)
    files = {label: publish_for(tmp_path, root, plugin, keys, label) for label in "ABCD"}
    # A's file is altered after it was signed.
    files["A"].write_text(files["A"].read_text().replace("quality_level:", "quality_level: 7 #"))
    # B is removed by a members change signed by a quorum (C and D).
    members_mod.remove(root, "73002", key=keys["C"])
    members_mod.sign(root, key=keys["D"])
    # C's file is signed again, by a key that is no member's.
    subprocess.run(["gpg", "--batch", "--yes", "--local-user", keys["X"], "--detach-sign", "--armor", "--output",
                    str(files["C"]) + ".asc", str(files["C"])], check=True, capture_output=True)
    # A file for a commune that is no member at all.
    shutil.copy(files["D"], root / "communes" / "73999.yml")
    result = verify(root)
    found = {Path(r.file or "").name: r.message for r in result.chain.problems + result.ignored}
    assert found["73001.yml"].startswith(TAMPERED)
    assert found["73002.yml"] == REMOVED
    assert found["73003.yml"].startswith(UNKNOWN_KEY)
    assert found["73999.yml"] == NOT_MEMBER
    assert [c.insee for c in result.communes] == ["73004"] and not result.ok
    # Only D's instance feeds status.
    state = status(root, plugins=[load_folder(plugin, NAME)])
    assert [(r["commune"], r["state"]) for r in state.rows] == [(COMMUNES["D"][0], CURRENT)]
    edit(plugin)
    state = status(root, plugins=[load_folder(plugin, NAME)])
    assert state.rows[0]["state"] == BEHIND


def test_an_unsigned_commune_file_and_a_link_are_ignored(tmp_path: Path, keys: dict[str, str], plugin: Path) -> None:
    root = build_collective(tmp_path / "anl", keys, "AB")
    a = publish_for(tmp_path, root, plugin, keys, "A")
    b = publish_for(tmp_path, root, plugin, keys, "B")
    a.with_name(a.name + ".asc").unlink()
    outside = tmp_path / "outside.yml"
    outside.write_text(b.read_text())
    b.unlink()
    b.symlink_to(outside)
    found = problems(root)
    assert found["73001.yml"] == "unsigned"
    assert "symbolic link" in found["73002.yml"]
    assert verify(root).communes == []


def test_commune_file_says_what_runs_and_since_when(tmp_path: Path, keys: dict[str, str], plugin: Path) -> None:
    root = build_collective(tmp_path / "anl", keys, "AB")
    target = publish_for(tmp_path, root, plugin, keys, "A")
    data = yaml.safe_load(target.read_text())
    (instance,) = data["instances"]
    assert (data["commune"], data["insee"], data["fingerprint"]) == (*COMMUNES["A"], keys["A"])
    assert instance["plugin"] == NAME and instance["digest"].startswith("sha256:")
    assert instance["address"] == f"https://{NAME}.a.exemple.fr" or instance["address"] is None
    assert instance["since"] == "2026-11-28" and instance["result"] == "passed"
    assert isinstance(instance["quality_level"], int)


# --- nothing secret is ever published -------------------------------------------------------------

def test_publish_never_writes_a_secret(tmp_path: Path, keys: dict[str, str], plugin: Path) -> None:
    root = build_collective(tmp_path / "anl", keys, "AB")
    settings = {"demo_admin_password": "Pw-admin-31415926", "smtp_secret": "Sec-smtp-27182818",
                "api_token": "Tok-api-16180339", "demo_key": "Key-demo-14142135",
                "demo_settings": {"db_password": "Pw-nested-17320508"}}
    inv = inventory(tmp_path, "A", settings=settings, host_vars={"ansible_password": "Pw-ssh-22360679",
                                                                  "ansible_become_pass": "Pw-become-24494897"})
    password_file = tmp_path / "vault-pass"
    password_file.write_text("vault-password-for-tests\n")
    vault_values = {"demo_db_password": "Vault-db-26457513", "anl_backup_password": "Vault-backup-28284271",
                    "anl_backup_ssh_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nVault-ssh-30000000\n"}
    vault.write_secrets(resolve_inventory_path(inv), password_file, vault_values)
    report = report_file(tmp_path, plugin, environment="production", name="report.json")
    notes = tmp_path / "notes.yml"
    notes.write_text(yaml.safe_dump([{"date": "2026-10-01", "plugin": NAME,
                                      "context": {"fr": "Déploiement pour 40 agents", "en": "For 40 staff"},
                                      "worked": {"fr": "La sauvegarde"}, "cost": {"fr": "2 jours"}}],
                                     allow_unicode=True))
    target, record = publish(root, inv, key=keys["A"], report=report, notes=notes,
                             vault_password=str(password_file), plugins=[load_folder(plugin, NAME)])
    assert record["instances"] and record["notes"][0]["worked"]["fr"] == "La sauvegarde"
    secrets = [*(v for v in settings.values() if isinstance(v, str)), "Pw-nested-17320508", "Pw-ssh-22360679",
               "Pw-become-24494897", "Vault-db-26457513", "Vault-backup-28284271", "Vault-ssh-30000000",
               "vault-password-for-tests"]
    written = b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())
    for value in secrets:
        assert value.encode() not in written, value
    # A secret that would end up in a published value is refused, and nothing is written.
    before = target.read_bytes()
    with pytest.raises(AnlError) as caught:
        publish_for(tmp_path / "again", root, plugin, keys, "A",
                    settings={"demo_domain": "hush-31415926.exemple.fr", "demo_secret": "hush-31415926.exemple.fr"})
    assert caught.value.exit_code == 2 and "demo_secret" in str(caught.value)
    assert "hush-31415926" not in str(caught.value) and target.read_bytes() == before


# --- reviews count as a commune's only with that commune's key --------------------------------------

def test_member_signed_review_lifts_to_level_5_unknown_key_does_not(tmp_path: Path, keys: dict[str, str],
                                                                   plugin: Path) -> None:
    root = build_collective(tmp_path / "anl", keys, "AB")
    record_check(plugin, clean_check(plugin))
    record_evidence(plugin, report_file(tmp_path, plugin, name="r1.json"),
                    idempotence_run=run_summary(tmp_path, plugin, "idempotence"),
                    backup_run=run_summary(tmp_path, plugin, "backup"),
                    restore_run=run_summary(tmp_path, plugin, "restore"))
    signers = review_signers(root)
    assert quality.compute(plugin, NAME, signers).level == 4
    production = report_file(tmp_path, plugin, environment="production", name="prod.json")
    # Signed by an unknown key under A's name: counted without a collective (as before), not with one.
    forged = record_review(plugin, by=COMMUNES["A"][0], reviewer="R", evidence=production, sign=keys["X"])
    assert quality.compute(plugin, NAME).level == 5
    q = quality.compute(plugin, NAME, signers)
    assert q.level == 4 and dict(q.ignored)[forged.name] == quality.NOT_A_MEMBER_REVIEW
    # B's key under A's name does not count as A's either.
    record_review(plugin, by=COMMUNES["A"][0], reviewer="R", evidence=production, sign=keys["B"])
    assert quality.compute(plugin, NAME, signers).level == 4
    record_review(plugin, by=COMMUNES["A"][0], reviewer="R", evidence=production, sign=keys["A"])
    assert quality.compute(plugin, NAME, signers).level == 5
    # Level 6 needs a second member's signed review.
    record_review(plugin, by=COMMUNES["B"][0], reviewer="S", sign=keys["B"])
    assert quality.compute(plugin, NAME, signers).level == 6


# --- the command line -------------------------------------------------------------------------------

def test_cli_init_join_sign_verify_status(tmp_path: Path, keys: dict[str, str], plugin: Path) -> None:
    runner = CliRunner()
    root = tmp_path / "anl"
    a, b = member("A", keys), member("B", keys)
    ok = runner.invoke(cli, ["collective", "init", str(root), "--name", "ANL", "--commune", a.commune,
                             "--insee", a.insee, "--contact", a.contact, "--key", keys["A"]])
    assert ok.exit_code == 0, ok.output
    joined = runner.invoke(cli, ["collective", "join", str(root), "--commune", b.commune, "--insee", b.insee,
                                 "--contact", b.contact, "--key", keys["B"], "--json"])
    assert joined.exit_code == 0 and "0002.yml" in joined.output
    pending = runner.invoke(cli, ["collective", "verify", str(root)])
    assert pending.exit_code == 0 and "waits for signatures: 1 of 1" in pending.output
    assert runner.invoke(cli, ["collective", "sign", str(root), "--key", keys["A"]]).exit_code == 0
    publish_for(tmp_path, root, plugin, keys, "B")
    verified = runner.invoke(cli, ["collective", "verify", str(root), "--json"])
    assert verified.exit_code == 0 and '"ok": true' in verified.output
    shown = runner.invoke(cli, ["--lang", "fr", "collective", "status", str(root)])
    assert shown.exit_code == 0
    (root / "communes" / "73002.yml").write_text("anl_stack_record: collective-commune\n")
    broken = runner.invoke(cli, ["collective", "verify", str(root)])
    assert broken.exit_code == 1 and "73002.yml" in broken.output


def test_bad_input_is_exit_2_without_traceback(tmp_path: Path, keys: dict[str, str]) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["collective", "verify", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "not a collective folder" in result.output and "Traceback" not in result.output
    root = build_collective(tmp_path / "anl", keys, "AB")
    (root / "members" / "0003.yml").write_text("anl_stack_record: collective-members\nschema: 1\nmembers: [1, 2\n")
    chain = members_mod.read_chain(root)
    assert chain.current.version == 2 and any(p.file and p.file.endswith("0003.yml") for p in chain.problems)
    (root / "members" / "0003.yml").unlink()
    (root / "members" / "0003.yml").symlink_to("/etc/passwd")
    chain = members_mod.read_chain(root)
    assert chain.current.version == 2 and any("symbolic link" in p.message for p in chain.problems)
    result = runner.invoke(cli, ["collective", "join", str(root), "--commune", "X", "--insee", "bad",
                                 "--contact", "x", "--key", keys["X"]])
    assert result.exit_code == 2 and "Traceback" not in result.output
    again = runner.invoke(cli, ["collective", "init", str(root), "--name", "ANL", "--commune", "A",
                                "--insee", "73001", "--contact", "x", "--key", keys["A"]])
    assert again.exit_code == 2 and "already exists" in again.output


def test_init_with_several_founders_waits_for_each_ones_signature(tmp_path: Path, keys: dict[str, str]) -> None:
    runner = CliRunner()
    root = tmp_path / "anl"
    a, b, c = member("A", keys), member("B", keys), member("C", keys)
    founders = [f"{m.commune};{m.insee};{m.contact};{m.fingerprint}" for m in (b, c)]
    made = runner.invoke(cli, ["--lang", "en", "collective", "init", str(root), "--name", "ANL", "--commune", a.commune,
                               "--insee", a.insee, "--contact", a.contact, "--key", keys["A"],
                               "--founder", founders[0], "--founder", founders[1]])
    assert made.exit_code == 0 and "each founder signs it" in made.output, made.output
    chain = members_mod.read_chain(root)
    assert chain.current is None and chain.pending is not None and chain.pending[2] == 3
    assert sorted(chain.pending[1]) == [keys["A"]]
    members_mod.sign(root, key=keys["B"])
    assert members_mod.read_chain(root).current is None  # C has not signed yet
    members_mod.sign(root, key=keys["C"])
    chain = members_mod.read_chain(root)
    assert [m.insee for m in chain.current.members] == [a.insee, b.insee, c.insee] and chain.pending is None
    with pytest.raises(AnlError) as outsider:
        members_mod.sign(root, key=keys["X"])
    assert outsider.value.exit_code == 2


@pytest.mark.parametrize("founder, key", [("Commune de Bessans;73002;dsi@b.fr", "--founder"),
                                          ("Commune de Bessans;7300;dsi@b.fr;{B}", "members[1].insee"),
                                          ("Commune de Bessans;73002;dsi@b.fr;ABCDEF", "members[1].fingerprint")])
def test_a_bad_founder_is_refused_before_anything_is_written(tmp_path: Path, keys: dict[str, str], founder: str,
                                                             key: str) -> None:
    root = tmp_path / "anl"
    a = member("A", keys)
    result = CliRunner().invoke(cli, ["--lang", "en", "collective", "init", str(root), "--name", "ANL",
                                      "--commune", a.commune, "--insee", a.insee, "--contact", a.contact,
                                      "--key", keys["A"], "--founder", founder.format(B=keys["B"])])
    assert result.exit_code == 2 and key in result.output and "Traceback" not in result.output, result.output
    assert not root.exists()
