"""Every hostile case: the tables of ``cases_*.py`` and the inventories of ``tests/data/bad_inventories``."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tests.hostile import cases_artifacts, cases_inventory, cases_output, cases_plugins, cases_yaml
from tests.hostile.model import PROJECT, Case, Where, write

BAD_INVENTORIES = PROJECT / "tests" / "data" / "bad_inventories"


def _bad_inventory(folder: Path) -> Case:
    expect = yaml.safe_load((folder / "expect.yml").read_text())

    def build(where: Where) -> None:
        shutil.copytree(folder, where.inv, ignore=shutil.ignore_patterns("expect.yml"))
        write(where.home / "config" / "vault-passwords" / "exemple.txt", "case-password\n")

    return Case(f"bad-inventory-{folder.name}", "Mistakes in inventories (tests/data/bad_inventories)", build,
                ["inventory", "check", "-i", "{inv}"], "{inv}/" + expect["file"], expect.get("key"), line=True)


CASES: list[Case] = [
    *cases_yaml.CASES,
    *cases_inventory.CASES,
    *cases_plugins.CASES,
    *cases_artifacts.CASES,
    *cases_output.CASES,
    *[_bad_inventory(p) for p in sorted(BAD_INVENTORIES.iterdir()) if (p / "expect.yml").is_file()],
]
