"""Who created each lab host, and `lab down --all` keeping other people's hosts (fake state, no host booted)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from anl_stack.cli import cli
from anl_stack.lab import owner, service, state

ME = owner.Operator(1000, "claire")
ALICE = owner.Operator(1001, "alice")


def _record(name: str, creator: owner.Operator | None) -> None:
    """A host's state.json as `lab up` writes it (only the fields listing and selection read)."""
    data = {"name": name, "release": "13", "address": "10.77.0.2", "gateway": "10.77.0.1", "status": "running"}
    if creator is not None:
        data["creator"] = creator.to_dict()
    state.write(name, data)


@pytest.fixture
def hosts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Hosts of claire (mine), alice, and one made before creators were recorded; `down` only records calls."""
    _record("mine", ME)
    _record("hers", ALICE)
    _record("old", None)
    removed: list[str] = []
    monkeypatch.setattr(owner, "current", lambda: ME)
    monkeypatch.setattr(service, "preflight", lambda tools=None: None)
    monkeypatch.setattr(service, "down", lambda name, log=None: removed.append(name) or True)
    return removed


def down(*args: str, answer: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["lab", "down", *args], input=answer)


def test_sudo_caller_then_login_user_then_effective_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 0)
    loginuid = tmp_path / "loginuid"
    loginuid.write_text("0\n")
    assert owner.current({"SUDO_UID": "4000001", "SUDO_USER": "bob"}, loginuid) == owner.Operator(4000001, "bob")
    assert owner.current({"SUDO_UID": "4000001", "SUDO_USER": "bob"}, loginuid).user == "bob"  # no account here
    assert owner.current({}, loginuid) == owner.Operator(0, "root")
    loginuid.write_text(f"{owner.UNSET_LOGINUID}\n")  # a service or a container: no login uid
    assert owner.current({}, loginuid).uid == 0
    assert owner.current({}, tmp_path / "missing").uid == 0


def test_sudo_variables_count_only_for_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    loginuid = tmp_path / "loginuid"
    loginuid.write_text("1000\n")
    assert owner.current({"SUDO_UID": "0"}, loginuid).uid == 1000


@pytest.mark.parametrize("creator", [None, "alice", {"uid": "1001", "user": "alice"}, {"uid": True, "user": "x"},
                                     {"uid": 1001}])
def test_malformed_creator_records_are_unknown(creator: object) -> None:
    assert owner.from_record({"creator": creator}) is None


def test_hosts_are_split_by_creator(hosts: list[str]) -> None:
    (state.hosts_dir() / "leftover").mkdir()  # a host folder whose state.json is gone
    selection = owner.select_all(ME)
    assert selection.mine == ["mine"]
    assert selection.others == {"hers": "alice", "leftover": None, "old": None}
    # The same person through another name (a renamed account) is still the creator.
    assert owner.select_all(owner.Operator(1000, "renamed")).mine == ["mine"]


def test_down_all_keeps_other_peoples_hosts_and_names_them(hosts: list[str]) -> None:
    result = down("--all")
    assert result.exit_code == 0, result.output
    assert hosts == ["mine"]
    assert "removed 1 lab host(s): mine" in result.output
    assert "kept 2 lab host(s) created by other people: hers (alice), old (creator not recorded)" in result.output
    assert "`anl-stack lab down --all --everyone`" in result.output


def test_python_api_down_all_is_limited_the_same_way(hosts: list[str]) -> None:
    assert service.down_all() == ["mine"]
    assert service.down_all(everyone=True) == ["mine", "hers", "old"]


def test_everyone_asks_first_and_a_no_removes_nothing(hosts: list[str]) -> None:
    result = down("--all", "--everyone", answer="n\n")
    assert "Remove also the lab hosts other people created: hers (alice), old (creator not recorded)?" \
        in result.output
    assert result.exit_code == 2
    assert "not confirmed: no lab host was removed" in result.stderr
    assert hosts == []


def test_everyone_without_a_terminal_or_yes_removes_nothing(hosts: list[str]) -> None:
    result = down("--all", "--everyone")  # a script: stdin at its end
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert hosts == []


@pytest.mark.parametrize(("args", "answer"), [(("--everyone",), "y\n"), (("--everyone", "--yes"), None)])
def test_everyone_confirmed_removes_every_host(hosts: list[str], args: tuple[str, ...], answer: str | None) -> None:
    result = down("--all", *args, answer=answer)
    assert result.exit_code == 0, result.output
    assert sorted(hosts) == ["hers", "mine", "old"]
    assert "kept" not in result.output
    assert ("Remove also" in result.output) == (answer is not None)


def test_everyone_does_not_ask_when_every_host_is_mine(hosts: list[str]) -> None:
    for name in ("hers", "old"):
        state.write(name, {**(state.read(name) or {}), "creator": ME.to_dict()})
    result = down("--all", "--everyone")
    assert result.exit_code == 0, result.output
    assert sorted(hosts) == ["hers", "mine", "old"]


@pytest.mark.parametrize(("args", "message"), [
    (("--everyone",), "--everyone goes with --all"),
    (("mine", "--everyone"), "--everyone goes with --all"),
    (("--all", "--yes"), "--yes goes with --everyone"),
    (("mine", "--all"), "give either NAME or --all"),
])
def test_misused_options_are_refused_before_anything(hosts: list[str], args: tuple[str, ...], message: str) -> None:
    result = down(*args)
    assert result.exit_code == 2
    assert message in result.stderr and "expected: anl-stack lab down NAME | --all" in result.stderr
    assert hosts == []


def test_the_kept_hosts_are_named_in_french(hosts: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LC_ALL", "fr_FR.UTF-8")
    result = down("--all")
    assert "1 hôte(s) de labo supprimé(s) : mine" in result.output
    assert "hers (alice), old (créateur non enregistré)" in result.output


def test_list_shows_who_created_each_host(hosts: list[str]) -> None:
    table = CliRunner().invoke(cli, ["lab", "list"])
    assert table.exit_code == 0, table.output
    header, *rows = table.output.splitlines()
    assert header.split()[-2:] == ["CREATED", "BY"]
    assert {row.split()[0]: row.split()[-1] for row in rows} == {"hers": "alice", "mine": "claire", "old": "-"}
    listed = CliRunner().invoke(cli, ["lab", "list", "--json"])
    assert '"creator": "alice"' in listed.output
