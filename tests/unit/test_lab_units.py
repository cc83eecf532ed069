"""Lab pieces that need neither root nor network: names, subnets, apt sources, files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from anl_stack.adapters import netfilter
from anl_stack.core.errors import AnlError
from anl_stack.lab import hostsfile, network
from anl_stack.lab.aptsources import debian_mirrors, parse_deb822, parse_one_line
from anl_stack.lab.names import validate_name, validate_release


@pytest.mark.parametrize("name", ["a", "lab13", "t-1", "abcdefghijkl"])
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["", "1abc", "Lab", "a_b", "ab-", "abcdefghijklm", "a.b", "a b"])
def test_invalid_names_are_refused_with_exit_2(name: str) -> None:
    with pytest.raises(AnlError) as caught:
        validate_name(name)
    assert caught.value.exit_code == 2
    assert "15 characters" in (caught.value.records[0].expected or "")


def test_releases() -> None:
    assert validate_release("13") == "13"
    assert validate_release(12) == "12"
    assert validate_release("trixie") == "13"
    with pytest.raises(AnlError):
        validate_release("11")


def test_subnet_allocation_skips_recorded_and_configured_addresses() -> None:
    first = network.allocate(set())
    assert (first.cidr, first.gateway, first.address) == ("10.77.0.0/30", "10.77.0.1", "10.77.0.2")
    assert network.allocate({0, 1}).cidr == "10.77.0.8/30"
    # An address of the range already on an interface (another state dir's host).
    assert network.allocate({0}, {"10.77.0.5"}).cidr == "10.77.0.8/30"
    assert network.capacity() == 16384


def test_subnet_range_exhausted() -> None:
    with pytest.raises(AnlError):
        network.allocate(set(range(network.capacity())))


DEB822 = """\
Types: deb
# a comment line
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
URIs: https://vendor.example/apt
Suites: stable
Components: main

Types: deb
Enabled: no
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
"""


def test_deb822_parsing() -> None:
    sources = parse_deb822(DEB822)
    assert [s.uri for s in sources] == [
        "http://mirror.example/debian", "http://security.example/debian-security",
        "https://vendor.example/apt",
    ]
    assert sources[0].suites == ("bookworm", "bookworm-updates")
    assert sources[1].is_security and not sources[0].is_security


def test_one_line_parsing() -> None:
    text = (
        "# comment\n"
        "deb [signed-by=/usr/share/keyrings/x.gpg arch=amd64] http://m.example/debian trixie main\n"
        "deb-src http://m.example/debian trixie main\n"
        "deb http://s.example/debian-security trixie-security main # trailing\n"
    )
    sources = parse_one_line(text)
    assert [(s.types[0], s.uri, s.suites) for s in sources] == [
        ("deb", "http://m.example/debian", ("trixie",)),
        ("deb-src", "http://m.example/debian", ("trixie",)),
        ("deb", "http://s.example/debian-security", ("trixie-security",)),
    ]


def test_mirrors_from_apt_dir_ignore_non_debian(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "vendor.list").write_text(
        "deb https://vendor.example/debian-like stable main\n")
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    (tmp_path / "sources.list.d" / "old.list.disabled").write_text("deb http://no.example/debian bookworm main\n")
    mirrors = debian_mirrors(tmp_path)
    assert mirrors.archive == "http://mirror.example/debian"
    assert mirrors.security == "http://security.example/debian-security"
    assert mirrors.hosts == ["mirror.example", "security.example"]


def test_mirrors_security_default_and_missing(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text("deb http://m.example/debian bookworm main\n")
    mirrors = debian_mirrors(tmp_path)
    assert mirrors.security is None
    assert mirrors.security_or_default() == "http://m.example/debian-security"
    (tmp_path / "sources.list").write_text("deb https://vendor.example/apt stable main\n")
    with pytest.raises(AnlError):
        debian_mirrors(tmp_path)


def test_hosts_file_block_added_replaced_and_removed(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    original = "127.0.0.1 localhost\n10.0.0.9 other\n"
    path.write_text(original)
    hostsfile.set_block("ta", "10.77.0.2", ["ta.anl.test"], path)
    hostsfile.set_block("tb", "10.77.0.6", ["tb.anl.test"], path)
    hostsfile.set_block("ta", "10.77.0.2", ["ta.anl.test", "live.ta.anl.test"], path)
    text = path.read_text()
    assert text.count("# BEGIN anl-stack lab ta") == 1
    assert hostsfile.block_names(text, "ta") == ["ta.anl.test", "live.ta.anl.test"]
    assert hostsfile.block_names(text, "tb") == ["tb.anl.test"]
    hostsfile.remove_block("ta", path)
    hostsfile.remove_block("tb", path)
    assert path.read_text() == original


def test_nft_script_filters_each_subnet() -> None:
    script = netfilter.render("t-a", "10.77.0.4/30", ["192.0.2.53"], ["192.0.2.80", "192.0.2.81"])
    assert "table inet anl_lab_t_a {" in script
    assert "set mirrors { type ipv4_addr; elements = { 192.0.2.80, 192.0.2.81 }; }" in script
    assert "set resolvers { type ipv4_addr; elements = { 192.0.2.53 }; }" in script
    # Both hooks send the host's interface to the same filter; what it does is shown in
    # network namespaces (tests/integration/test_lab_netfilter.py).
    assert 'iifname "ve-t-a" ip saddr 10.77.0.4/30 ip daddr != 10.77.0.4/30 masquerade' in script
    assert script.count('iifname "ve-t-a" jump from_host') == 2


def test_resolvers_and_hosts_entries() -> None:
    assert network.parse_resolvers("nameserver 192.0.2.1\nnameserver ::1\n# x\nnameserver 192.0.2.1\n") == ["192.0.2.1"]
    lines = network.hosts_entries("192.0.2.80 mirror.example  # pinned\n127.0.0.1 localhost\n", ["mirror.example"])
    assert lines == ["192.0.2.80 mirror.example"]


def test_subnet_reservations_are_shared_by_state_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from anl_stack.lab import reservations

    monkeypatch.setattr(reservations, "RUN_DIR", tmp_path / "run")
    first, second = tmp_path / "a" / "state.json", tmp_path / "b" / "state.json"
    for state_file, index in ((first, 0), (second, 1)):
        state_file.parent.mkdir()
        state_file.write_text(json.dumps({"subnet_index": index}))
        reservations.reserve(index, state_file)
    assert reservations.reserved() == {0, 1}
    # Another folder's reservation is never released by mistake.
    reservations.release(1, first)
    assert reservations.reserved() == {0, 1}
    # A host whose state is gone (crash, removed folder) no longer holds its subnet.
    second.unlink()
    assert reservations.reserved() == {0}
    assert not (tmp_path / "run" / "1").exists()
    reservations.release(0, first)
    assert reservations.reserved() == set()
