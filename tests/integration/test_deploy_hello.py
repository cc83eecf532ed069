"""Deploying the hello test plugin on a real lab host (Debian 13).

What is proven here is the command's behaviour (plan, Ctrl-C, --idempotence,
where the secret goes), which does not depend on the release; the base and
web roles hello rests on are converged twice on Debian 12 by test_roles.py,
and the streaming and Nextcloud recipes are deployed there by their modules.

One host, whose history module fixtures make in order: plan on
the fresh host (changes nothing), a first deploy stopped by Ctrl-C once it
has changed something (exit 130, what was done named), then deploy with
--idempotence: the re-run converges and its second run changes nothing.
Each test asks for the step it checks (run alone, it still gets its
precondition). On the deployed host: secrets only where they belong, the
host's firewall, SSH and HTTPS, and plan on the converged host (no change,
changes nothing).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from anl_stack.inventory.model import resolve_inventory_path

pytestmark = pytest.mark.lab

PROJECT = Path(__file__).resolve().parent.parent.parent
TEST_PLUGINS = PROJECT / "tests" / "plugins"


@pytest.fixture(scope="module", params=["13"])
def host(request: pytest.FixtureRequest) -> Iterator[object]:
    from tests.fixtures.lab import lab_host_for

    yield from lab_host_for(f"dh{request.param}", request.param)


def anl(*args: str, timeout: int = 1500) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ANL_STACK_PLUGINS_PATH=str(TEST_PLUGINS))
    return subprocess.run([sys.executable, "-m", "anl_stack", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=PROJECT)


def json_summary(proc: subprocess.CompletedProcess[str]) -> dict:
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    summaries = [line for line in lines if line.get("summary")]
    assert summaries, proc.stdout[-3000:] + proc.stderr[-3000:]
    return summaries[-1]


def host_state(host: object) -> str:
    """What a plan must never touch: packages, nginx config, firewall, web root."""
    cmd = ("dpkg-query -W -f='${Package} ${Version}\\n' | sha256sum; "
           "find /etc/nginx /etc/nftables.conf /etc/ssh /var/www -xdev -printf '%p %s %T@\\n' 2>/dev/null | sort | sha256sum")
    return host.ssh(cmd).stdout  # type: ignore[attr-defined]


# --- the host's history, one module fixture per step --------------------------------------
#
# Each step needs the one before it (a plan on the host as made, a first deploy interrupted,
# the re-run converging); each test asks for the step it checks, so it holds on its own.

@dataclass
class PlanOnFreshHost:
    before: str
    proc: subprocess.CompletedProcess[str]
    after: str
    web_root: int  # `test -e /var/www/hello` on the host after the plan


@pytest.fixture(scope="module")
def fresh_plan(host: object) -> PlanOnFreshHost:
    """`plan hello` on the host as it was made, before any deploy."""
    before = host_state(host)
    proc = anl("plan", "hello", "--lab", host.name, "--debian", host.release, "--json")  # type: ignore[attr-defined]
    return PlanOnFreshHost(before, proc, host_state(host), host.ssh("test -e /var/www/hello").returncode)  # type: ignore[attr-defined]


@dataclass
class InterruptedDeploy:
    returncode: int
    stdout: str
    stderr: str
    leftover_processes: int  # pgrep's exit code for the deploy's session (1: none left)


@pytest.fixture(scope="module")
def interrupted_deploy(host: object, fresh_plan: PlanOnFreshHost) -> InterruptedDeploy:
    """The first deploy, after the plan: Ctrl-C as a terminal sends it (to the whole process group)
    once a task has changed the host."""
    env = dict(os.environ, ANL_STACK_PLUGINS_PATH=str(TEST_PLUGINS))
    proc = subprocess.Popen([sys.executable, "-m", "anl_stack", "deploy", "hello", "--lab", host.name,  # type: ignore[attr-defined]
                             "--debian", host.release, "--json"],  # type: ignore[attr-defined]
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=PROJECT,
                            start_new_session=True)
    timer = threading.Timer(900, proc.kill)  # never hang the suite
    timer.start()
    try:
        seen: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            event = json.loads(line) if line.startswith("{") else {}
            if event.get("event") == "runner_on_ok" and event.get("changed"):
                os.killpg(proc.pid, signal.SIGINT)
                break
        rest, err = proc.communicate(timeout=300)
    finally:
        timer.cancel()
    left = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True).returncode
    return InterruptedDeploy(proc.returncode, "".join(seen) + rest, err, left)


@pytest.fixture(scope="module")
def converging_deploy(host: object, interrupted_deploy: InterruptedDeploy) -> subprocess.CompletedProcess[str]:
    """`deploy --idempotence` right after the interrupted deploy."""
    return anl("deploy", "hello", "--lab", host.name, "--debian", host.release, "--idempotence", "--json")  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def deployed(host: object, converging_deploy: subprocess.CompletedProcess[str]) -> object:
    """The host with hello deployed."""
    assert converging_deploy.returncode == 0, converging_deploy.stdout[-4000:] + converging_deploy.stderr[-4000:]
    return host


def test_plan_on_a_fresh_host_changes_nothing(host: object, fresh_plan: PlanOnFreshHost) -> None:
    proc = fresh_plan.proc
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    summary = json_summary(proc)
    run = summary["runs"][0]
    assert run["kind"] == "plan"
    assert run["errors"] == []
    assert run["hosts"][host.name]["changed"] > 0 or run["changed_tasks"]  # type: ignore[attr-defined]
    assert fresh_plan.after == fresh_plan.before
    assert fresh_plan.web_root != 0


def test_ctrl_c_stops_the_first_deploy_cleanly(host: object, interrupted_deploy: InterruptedDeploy) -> None:
    done = interrupted_deploy
    assert done.returncode == 130, done.stdout[-4000:] + done.stderr[-2000:]
    summary = json_summary(subprocess.CompletedProcess([], 130, done.stdout, done.stderr))
    assert summary["exit_code"] == 130
    (message,) = [e["message"] for e in summary["errors"]]
    assert "interrupted during task" in message and "changed so far" in message, message
    assert "run the same command again" in message
    (run,) = summary["runs"]
    assert run["canceled"] is True
    assert json.loads((Path(run["folder"]) / "summary.json").read_text())["canceled"] is True
    # No Ansible process is left behind on the controller, and the host still answers.
    assert done.leftover_processes == 1
    assert host.ssh("true").returncode == 0  # type: ignore[attr-defined]


def test_deploy_is_idempotent(host: object, converging_deploy: subprocess.CompletedProcess[str]) -> None:
    """Right after the interrupted deploy: this re-run converges, and its second run changes nothing."""
    proc = converging_deploy
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    summary = json_summary(proc)
    first, second = summary["runs"]
    assert first["kind"] == "deploy" and first["hosts"][host.name]["changed"] > 0  # type: ignore[attr-defined]
    assert second["kind"] == "idempotence"
    assert second["hosts"][host.name]["changed"] == 0, second["changed_tasks"]  # type: ignore[attr-defined]
    assert second["hosts"][host.name]["failed"] == 0  # type: ignore[attr-defined]
    for run in summary["runs"]:
        folder = Path(run["folder"])
        assert {"log", "events.jsonl", "summary.json"} <= {p.name for p in folder.iterdir()}


def _secret(host: object) -> str:
    proc = anl("secrets", "show", "hello_token", "-i", str(host.inventory), "--reveal")  # type: ignore[attr-defined]
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_secret_only_where_it_belongs(deployed: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The token is on the host, and nowhere in run folders, runner artifacts or command lines."""
    host = deployed
    from anl_stack.cli.progress import display_factory
    from anl_stack.deploy.engine import Options, execute
    from anl_stack.deploy.prepare import prepare

    monkeypatch.setenv("ANL_STACK_PLUGINS_PATH", str(TEST_PLUGINS))
    token = _secret(host)
    assert len(token) == 32
    on_host = host.ssh("cat /etc/nginx/snippets/hello-token.conf").stdout  # type: ignore[attr-defined]
    assert token in on_host

    seen: set[bytes] = set()
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for proc in Path("/proc").iterdir():
                if proc.name.isdigit():
                    try:
                        seen.add((proc / "cmdline").read_bytes())
                    except OSError:
                        pass
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    kept = tmp_path / "runner"
    try:
        prep = prepare(["hello"], lab_name=host.name, debian=host.release)  # type: ignore[attr-defined]
        # Force the no_log task to run again so its result passes through every channel.
        host.ssh("rm -f /etc/nginx/snippets/hello-token.conf")  # type: ignore[attr-defined]
        display = display_factory(json_output=True, out=open(os.devnull, "w"))
        result = execute(prep, Options(keep_runner_dir=kept, display=display))
    finally:
        done.set()
        sampler.join()
    assert result.exit_code == 0, result.records
    assert any(c.label.endswith("Write the token check for the private location") and c.censored
               for c in result.reports[0].model.changes)
    assert len(seen) > 10 and any(b"ansible-playbook" in c for c in seen)
    assert not [c for c in seen if token.encode() in c]

    runs = resolve_inventory_path(host.inventory).runs  # type: ignore[attr-defined]
    leaks = [p for folder in (runs, kept) for p in folder.rglob("*")
             if p.is_file() and token.encode() in p.read_bytes()]
    assert leaks == []
    assert any(kept.rglob("job_events/*.json")), "the runner artifacts were kept for inspection"
    assert token in host.ssh("cat /etc/nginx/snippets/hello-token.conf").stdout  # type: ignore[attr-defined]


def test_served_over_https_with_firewall_and_no_password_login(deployed: object) -> None:
    host = deployed
    domain = f"hello.{host.domain}"  # type: ignore[attr-defined]
    token = _secret(host)
    base = ["curl", "-sk", "--max-time", "10", "--resolve", f"{domain}:443:{host.address}"]  # type: ignore[attr-defined]
    page = subprocess.run(base + ["-D", "-", f"https://{domain}/"], capture_output=True, text=True)
    assert "200" in page.stdout.splitlines()[0]
    assert "strict-transport-security" in page.stdout.lower()
    assert "Bonjour" in page.stdout
    denied = subprocess.run(base + ["-o", "/dev/null", "-w", "%{http_code}", f"https://{domain}/private/"],
                            capture_output=True, text=True)
    assert denied.stdout == "403"
    allowed = subprocess.run(base + ["-H", f"X-Hello-Token: {token}", f"https://{domain}/private/"],
                             capture_output=True, text=True)
    assert "private hello" in allowed.stdout
    ruleset = host.ssh("nft list ruleset").stdout  # type: ignore[attr-defined]
    assert "policy drop" in ruleset
    for port in ("22", "80", "443"):
        assert f"dport {port}" in ruleset or f"{port}," in ruleset or f" {port} " in ruleset
    sshd = host.ssh("sshd -T").stdout.lower()  # type: ignore[attr-defined]
    assert "passwordauthentication no" in sshd


def test_plan_on_a_converged_host_shows_no_change(deployed: object) -> None:
    host = deployed
    before = host_state(host)
    proc = anl("plan", "hello", "--lab", host.name, "--debian", host.release, "--json")  # type: ignore[attr-defined]
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    run = json_summary(proc)["runs"][0]
    assert run["hosts"][host.name]["changed"] == 0, run["changed_tasks"]  # type: ignore[attr-defined]
    assert run["changed_tasks"] == []
    assert host_state(host) == before


def test_a_run_replays_with_plain_ansible_playbook(deployed: object, converging_deploy: subprocess.CompletedProcess[str]) -> None:
    """The deploy's replay/ runs the same play with ansible-playbook alone: on the converged host, nothing changes."""
    host = deployed
    first = json_summary(converging_deploy)["runs"][0]
    script = Path(first["folder"]) / "replay" / "replay.sh"
    before = host_state(host)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "ANL_STACK_"))}
    proc = subprocess.run([str(script), "--check"], capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    recap = re.search(rf"^{re.escape(host.name)}\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=0\s+failed=0",  # type: ignore[attr-defined]
                      proc.stdout, re.M)
    assert recap and int(recap.group(1)) > 10 and recap.group(2) == "0", proc.stdout[-3000:]
    assert host_state(host) == before


def test_the_mitogen_engine_runs_the_same_tasks_to_the_same_result(
        deployed: object, converging_deploy: subprocess.CompletedProcess[str]) -> None:
    """--engine mitogen on the converged host: the same tasks as Ansible's linear runs, none changes, twice."""
    host = deployed
    before = host_state(host)
    proc = anl("deploy", "hello", "--lab", host.name, "--debian", host.release,  # type: ignore[attr-defined]
               "--engine", "mitogen", "--idempotence", "--json")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    linear = json_summary(converging_deploy)["runs"][-1]["hosts"][host.name]  # type: ignore[attr-defined]
    runs = json_summary(proc)["runs"]
    assert [r["kind"] for r in runs] == ["deploy", "idempotence"]
    for run in runs:
        counts = run["hosts"][host.name]  # type: ignore[attr-defined]
        assert (counts["ok"], counts["changed"], counts["failed"]) == (linear["ok"], 0, 0), run["changed_tasks"]
        cfg = (Path(run["folder"]) / "replay" / "ansible.cfg").read_text()
        assert "strategy = mitogen_linear" in cfg
    assert host_state(host) == before
