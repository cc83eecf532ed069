"""Contributing a recipe, end to end on one lab host (q13, Debian 13).

scaffold (`plugins new`) -> `plugins check --record` passes (lint included)
-> deploy to the lab host with --idempotence -> verify passes with a JSON
report -> lab and idempotence evidence, a review -> level 3; the same
plugin built and pip-installed as a separate distribution is discovered
(with its evidence), checked and deployed; then a file changes: "changed
since review", the level drops to 0, and a commune requiring reviews is
refused (exit 2); checked, deployed, verified and reviewed again, it is back
at level 3. A second lab record made the same day counts beside the first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.lab

PROJECT = Path(__file__).resolve().parent.parent.parent
NAME = "qdemo"
HOST = "q13"


def anl(*args: str, env: dict[str, str], timeout: int = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "anl_stack", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=timeout, cwd=PROJECT, check=False)


def ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-3000:]}"
    return done


def summary(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    found = [line for line in lines if line.get("summary")]
    assert found, done.stdout[-3000:] + done.stderr[-3000:]
    return found[-1]


def quality(name: str, env: dict[str, str]) -> dict[str, Any]:
    return json.loads(ok(anl("plugins", "show", name, "--json", env=env)).stdout)["quality"]


@pytest.fixture(scope="module")
def host() -> Iterator[Any]:
    from tests.fixtures.lab import lab_host_for

    yield from lab_host_for(HOST, "13")


def test_from_scaffold_to_review_and_back(host: Any, tmp_path: Path) -> None:
    from anl_stack.plugins.digest import content_digest

    src = tmp_path / "src"
    ok(anl("plugins", "new", NAME, "--dir", str(src), env={}))
    plugin = src / NAME
    path_env = {"ANL_STACK_PLUGINS_PATH": str(src)}

    # 1. the full check passes and is recorded: level 1
    check = ok(anl("plugins", "check", str(plugin), "--record", "--json", env={}))
    assert json.loads(check.stdout)["ok"] is True
    assert quality(NAME, path_env)["level"] == 1

    # 2. deploy to the lab host, twice (the second run must change nothing)
    deployed = summary(anl("deploy", NAME, "--lab", HOST, "--idempotence", "--json", env=path_env))
    assert deployed["exit_code"] == 0, json.dumps({k: deployed[k] for k in ("errors", "runs")})[-6000:]
    idempotence_run = next(r["folder"] for r in deployed["runs"] if r["kind"] == "idempotence")

    # 3. verify passes, with the JSON report (and Markdown for people)
    report = tmp_path / "r.json"
    verified = anl("verify", NAME, "--lab", HOST, "--report", str(report), "--json", env=path_env)
    assert verified.returncode == 0, verified.stdout[-4000:]
    ok(anl("verify", NAME, "--lab", HOST, "--report", str(tmp_path / "r.md"), env=path_env))
    assert "| lab |" in (tmp_path / "r.md").read_text()
    data = json.loads(report.read_text())
    assert [h["environment"] for h in data["hosts"]] == ["lab"]
    assert data["plugins"][0]["digest"] == content_digest(plugin)

    # 4. evidence from that report and the idempotence run: level 3
    written = json.loads(ok(anl("plugins", "evidence", str(plugin), "--from-report", str(report),
                                "--idempotence-run", idempotence_run, "--json", env={})).stdout)
    assert len(written["records"]) == 2
    q = quality(NAME, path_env)
    assert q["level"] == 3 and q["next_level"] == 4 and "backup" in q["missing"]

    # 4b. a second lab record the same day: its report gets its own file, and both records count
    report2 = tmp_path / "r2.json"
    assert anl("verify", NAME, "--lab", HOST, "--report", str(report2), "--json", env=path_env).returncode == 0
    second = json.loads(ok(anl("plugins", "evidence", str(plugin), "--from-report", str(report2), "--json",
                               env={})).stdout)
    assert set(second["records"]).isdisjoint(written["records"])
    q = quality(NAME, path_env)
    assert q["level"] == 3 and q["ignored"] == [], q["ignored"]
    assert len(list((plugin / "evidence").glob("*-lab*.yml"))) == 2

    # 5. a review with that evidence; adding it changes neither the digest nor the level
    before = content_digest(plugin)
    ok(anl("plugins", "review", str(plugin), "--by", "Commune de Quimperlé", "--reviewer", "Q. Test",
           "--evidence", str(report), env={}))
    assert content_digest(plugin) == before
    q = quality(NAME, path_env)
    assert q["level"] == 3
    (review,) = q["reviews"]
    assert (review["status"], review["signature"]) == ("current", "unsigned")
    assert review["evidence"]["environments"] == ["lab"] and review["evidence"]["debian_releases"] == ["13"]
    shown = ok(anl("plugins", "show", NAME, "--lang", "en", env=path_env)).stdout
    assert "Commune de Quimperlé (Q. Test): current, unsigned" in shown

    # 6. the same plugin as a separate Python distribution, with its records
    site = tmp_path / "site"
    ok(subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                       "--no-index", "--target", str(site), str(plugin)], capture_output=True, text=True,
                      timeout=600, check=False))
    dist_env = {"PYTHONPATH": str(site), "ANL_STACK_PLUGINS_PATH": ""}
    listed = {p["name"]: p for p in json.loads(ok(anl("plugins", "list", "--json", env=dist_env)).stdout)["plugins"]}
    installed = Path(listed[NAME]["path"])
    assert listed[NAME]["source"] == "entry point" and installed == site / f"anl_plugin_{NAME}"
    assert content_digest(installed) == before
    assert listed[NAME]["quality"]["level"] == 3
    assert json.loads(ok(anl("plugins", "check", str(installed), "--no-lint", "--json", env=dist_env)).stdout)["ok"]
    again = summary(anl("deploy", NAME, "--lab", HOST, "--json", env=dist_env))
    assert again["exit_code"] == 0 and all(h["changed"] == 0 for h in again["runs"][0]["hosts"].values()), \
        json.dumps({k: again[k] for k in ("errors", "runs")})[-6000:]

    # 7. a file changes: changed since review, level 0, and a commune requiring reviews refuses it
    defaults = plugin / "roles" / NAME / "defaults" / "main.yml"
    defaults.write_text(defaults.read_text() + "# a later change\n")
    q = quality(NAME, path_env)
    assert q["level"] == 0 and q["reviews"][0]["status"] == "changed since review"
    shown = ok(anl("plugins", "show", NAME, "--lang", "en", env=path_env)).stdout
    assert "changed since review" in shown
    settings = Path(host.inventory) / "group_vars" / "all" / "anl.yml"
    values = yaml.safe_load(settings.read_text())
    settings.write_text(yaml.safe_dump({**values, "anl_require_reviews": True}))
    try:
        refused = anl("deploy", NAME, "--lab", HOST, env=path_env)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "changed since review" in refused.stderr and "anl_require_reviews" in refused.stderr
    finally:
        settings.write_text(yaml.safe_dump(values))

    # 8. review again: the changed recipe is checked, deployed, verified and reviewed on its new digest
    ok(anl("plugins", "check", str(plugin), "--record", "--json", env={}))
    redeployed = summary(anl("deploy", NAME, "--lab", HOST, "--idempotence", "--json", env=path_env))
    assert redeployed["exit_code"] == 0, json.dumps({k: redeployed[k] for k in ("errors", "runs")})[-6000:]
    report3 = tmp_path / "r3.json"
    assert anl("verify", NAME, "--lab", HOST, "--report", str(report3), "--json", env=path_env).returncode == 0
    ok(anl("plugins", "evidence", str(plugin), "--from-report", str(report3), "--idempotence-run",
           next(r["folder"] for r in redeployed["runs"] if r["kind"] == "idempotence"), "--json", env={}))
    ok(anl("plugins", "review", str(plugin), "--by", "Commune de Quimperlé", "--reviewer", "Q. Test",
           "--evidence", str(report3), env={}))
    q = quality(NAME, path_env)
    assert q["level"] == 3 and q["digest"] == content_digest(plugin)
    assert sorted(r["status"] for r in q["reviews"]) == ["changed since review", "current"]
