"""The commune's backup settings: every mistake named (message, expected), the right ones accepted."""

from __future__ import annotations

from typing import Any

import pytest

from anl_stack.inventory.backup_settings import needs_ssh_key, partner_hosts, problems, repositories

HOSTS = {"srv1", "voisine1"}
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG2ax4z7hI0nrUiu0KXxXVnTSVXU4yd0986h8EY+tqZm"


def test_the_three_kinds_of_repository_are_accepted() -> None:
    value = [{"name": "local", "path": "/var/backups/anl-stack/restic"},
             {"name": "voisine", "partner": "voisine1"},
             {"name": "prestataire", "address": "backup.example.org", "user": "anl-exemple", "port": 2222,
              "host_key": KEY, "path": "/restic"}]
    assert problems("anl_backup_repositories", value, HOSTS) == []
    settings = {"anl_backup_repositories": value}
    assert [r.kind for r in repositories(settings)] == ["local", "partner", "sftp"]
    assert partner_hosts(settings) == ["voisine1"] and needs_ssh_key(settings)


def test_no_setting_means_one_repository_on_the_host() -> None:
    assert [(r.name, r.kind) for r in repositories({})] == [("local", "local")]
    assert not needs_ssh_key({}) and partner_hosts({}) == []


@pytest.mark.parametrize(("value", "message"), [
    ("local", "is not a list of repositories"),
    ([{"name": "Local!", "path": "/x"}], "is not a repository name"),
    ([{"name": "a", "path": "/x"}, {"name": "a", "path": "/y"}], "the name 'a' is used twice"),
    ([{"name": "a", "path": "relative"}], "is not an absolute path"),
    ([{"name": "a", "path": "/var/../etc"}], "is not an absolute path"),
    ([{"name": "a", "path": "/restic"}], "'/restic' is a system folder"),
    ([{"name": "a", "path": "/var/lib/"}], "'/var/lib/' is a system folder"),
    ([{"name": "a", "path": "/srv"}], "'/srv' is a system folder"),
    ([{"name": "a", "partner": "srv2", "path": "/commune/restic"}], "'/commune/restic' is more than one folder"),
    ([{"name": "a"}], "has no path, partner or address"),
    ([{"name": "a", "partner": "nowhere"}], "partner 'nowhere' is not a host of this inventory"),
    ([{"name": "a", "partner": "voisine1", "address": "x.org"}], "has both partner and address"),
    ([{"name": "a", "address": "x.org", "host_key": KEY}], "has an address but no user"),
    ([{"name": "a", "address": "x.org", "user": "u"}], "no usable host_key"),
    ([{"name": "a", "address": "x.org; rm -rf /", "user": "u", "host_key": KEY}], "is not an address"),
    ([{"name": "a", "partner": "voisine1", "port": 0}], "is not a port"),
    ([{"name": "a", "partner": "voisine1", "user": "Root Admin"}], "is not a user name"),
    ([{"name": "a", "path": "/x", "pasword": "x"}], "unknown key pasword"),
])
def test_bad_repositories_are_named(value: Any, message: str) -> None:
    found = problems("anl_backup_repositories", value, HOSTS)
    assert any(message in m for m, _ in found), found


@pytest.mark.parametrize(("key", "value", "message"), [
    ("anl_backup_schedule", "daily\nExecStart=/bin/sh", "is not a schedule"),
    ("anl_backup_schedule", 3, "is not a schedule"),
    ("anl_backup_retention", {"daily": -1}, "not a number of snapshots"),
    ("anl_backup_retention", {"yearly": 2}, "is not a retention policy"),
    ("anl_backup_retention", {"daily": 0, "weekly": 0}, "keeps no snapshot"),
])
def test_bad_schedule_and_retention_are_named(key: str, value: Any, message: str) -> None:
    assert any(message in m for m, _ in problems(key, value, HOSTS))


def test_good_schedule_and_retention() -> None:
    assert problems("anl_backup_schedule", "Sun 03:00", HOSTS) == []
    assert problems("anl_backup_check_schedule", "", HOSTS) == []
    assert problems("anl_backup_retention", {"daily": 7, "weekly": 4, "monthly": 12}, HOSTS) == []
