"""anl-backup, the on-host backup program, against a real restic repository on this machine.

The program is what both `anl-stack backup` and the scheduled timer run on a
server; here it runs on the controller (as root, like on a server) with its
configuration folder pointed at a temporary one. Faults are real: a SIGINT
in the middle of a backup and of a restore, a wrong password, a corrupted pack file, a
staging area too small for the snapshot (a 1 MiB tmpfs).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import in_ci

PROJECT = Path(__file__).resolve().parent.parent.parent
TOOL = PROJECT / "playbooks" / "roles" / "backup" / "files" / "anl-backup"


def _unavailable() -> str | None:
    if os.geteuid() != 0:
        return "anl-backup runs as root"
    if shutil.which("restic") is None:
        return "restic is not installed (Debian package restic)"
    return None


@pytest.fixture(autouse=True)
def _needs_root_and_restic() -> None:
    reason = _unavailable()
    if reason:
        if in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


@dataclass
class Place:
    root: Path
    data: Path
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True,
                              env=self.env, timeout=timeout)

    def ok(self, *args: str) -> dict:
        proc = self.run(*args)
        assert proc.returncode == 0, f"{args}: rc {proc.returncode}: {proc.stderr}"
        return json.loads(proc.stdout)


def _has_restic_child(pid: int, command: str) -> bool:
    """Whether process PID has a restic child running COMMAND (backup, restore...)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().split()
            argv = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if fields[1] == "(restic)" and fields[3] == str(pid) and command.encode() in argv:
            return True
    return False


def checksums(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def place(tmp_path: Path) -> Place:
    root = tmp_path
    data = root / "data"
    (data / "archive" / "conseil").mkdir(parents=True)
    (data / "keys").mkdir()
    (data / "archive" / "conseil" / "2026-11-30.mp4").write_bytes(os.urandom(300_000))
    (data / "keys" / "conseil").write_text("k" * 64 + "\n")
    os.chmod(data / "keys", 0o700)
    config = root / "config"
    (config / "plugins").mkdir(parents=True)
    password = config / "password"
    password.write_text("p" * 64)
    password.chmod(0o600)
    (config / "repositories.json").write_text(json.dumps({
        "password_file": str(password), "retention": {"daily": 7, "weekly": 4, "monthly": 12},
        "repositories": [{"name": "local", "url": str(root / "repo")}]}))
    (config / "plugins" / "demo.json").write_text(json.dumps({
        "plugin": "demo", "host": "srv1", "recipe": {"version": "0.1.0", "digest": "sha256:ab", "app_version": "1.2.2"},
        "paths": [str(data / "archive"), str(data / "keys")], "databases": [], "stop": [],
        "before": [{"argv": ["touch", str(root / "safe-state")]}],
        "after": [{"argv": ["rm", "-f", str(root / "safe-state")]}]}))
    env = {**os.environ, "ANL_BACKUP_CONFIG": str(config), "ANL_BACKUP_STATE": str(root / "state"),
           "ANL_BACKUP_LOCKS": str(root / "locks")}
    env.pop("RESTIC_PASSWORD", None)
    p = Place(root, data, env)
    assert p.ok("init")["created"] == ["local"]
    return p


def test_round_trip_restores_every_file_and_its_owner(place: Place) -> None:
    recording = place.data / "archive" / "conseil" / "2026-11-30.mp4"
    os.chown(recording, 33, 33)  # www-data on Debian, as the recordings are on a server
    os.chown(recording.parent, 33, 33)
    before = checksums(place.data)
    written = place.ok("backup", "demo")["snapshots"]
    assert [s["repo"] for s in written] == ["local"] and written[0]["snapshot"]
    assert not (place.root / "safe-state").exists(), "the service was not put back after the backup"
    recording.write_bytes(b"damaged")
    os.chown(recording, 0, 0)  # the owner must come back from the snapshot, not stay from the live file
    shutil.rmtree(place.data / "keys")
    (place.data / "archive" / "extra.txt").write_text("written after the backup")
    listed = place.ok("snapshots", "demo", "--sizes")["snapshots"]
    assert len(listed) == 1 and listed[0]["app_version"] == "1.2.2" and listed[0]["size"] > 300_000
    place.ok("restore", "demo", "--snapshot", listed[0]["short_id"])
    assert checksums(place.data) == before
    assert (recording.stat().st_uid, recording.stat().st_gid) == (33, 33)
    assert (recording.parent.stat().st_uid, recording.parent.stat().st_gid) == (33, 33)
    assert (place.data / "keys").stat().st_mode & 0o777 == 0o700
    assert not list(place.data.glob("*.anl-*")), "restore left its working copies behind"


def test_a_second_backup_adds_little_to_the_repository(place: Place) -> None:
    first = place.ok("backup", "demo")["snapshots"][0]
    second = place.ok("backup", "demo")["snapshots"][0]
    assert first["bytes_added"] > 300_000
    assert second["bytes_added"] < 50_000, f"nothing changed, yet {second['bytes_added']} bytes were added"


def interrupt_once_restic_runs(place: Place, *args: str) -> subprocess.CompletedProcess[str]:
    """anl-backup ARGS, sent SIGINT once restic runs the same command (ARGS[0]) for it: an
    operator's Ctrl-C in the middle of the work, not before it."""
    proc = subprocess.Popen([sys.executable, str(TOOL), *args], env=place.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if _has_restic_child(proc.pid, args[0]):
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_sigint_mid_backup_leaves_a_clean_repository_and_the_next_backup_works(place: Place) -> None:
    big = place.data / "archive" / "conseil" / "long.mp4"
    with big.open("wb") as out:
        for _ in range(24):
            out.write(os.urandom(8 * 2**20))
    proc = interrupt_once_restic_runs(place, "backup", "demo")
    assert proc.returncode == 130, f"rc {proc.returncode}: {proc.stderr}"
    assert not (place.root / "safe-state").exists(), "an interrupted backup left the service in its safe state"
    assert place.ok("snapshots", "demo")["snapshots"] == [], "an interrupted backup left a snapshot"
    place.ok("check")
    assert place.ok("backup", "demo")["snapshots"][0]["snapshot"]
    place.ok("check")


def test_sigint_mid_restore_leaves_the_live_data_and_the_next_restore_works(place: Place) -> None:
    big = place.data / "archive" / "conseil" / "long.mp4"
    with big.open("wb") as out:
        for _ in range(24):
            out.write(os.urandom(8 * 2**20))
    snapshot = place.ok("backup", "demo")["snapshots"][0]["snapshot"]
    backed_up = checksums(place.data)
    (place.data / "archive" / "extra.txt").write_text("written after the backup")
    live = checksums(place.data)
    proc = interrupt_once_restic_runs(place, "restore", "demo", "--snapshot", snapshot[:8])
    assert proc.returncode == 130, f"rc {proc.returncode}: {proc.stderr}"
    assert checksums(place.data) == live, "an interrupted restore changed the live data"
    assert not list(place.data.glob("*.anl-*")), "an interrupted restore left its working copies behind"
    staging = Path(place.env["ANL_BACKUP_STATE"]) / "staging"
    assert not staging.exists() or not any(staging.iterdir()), "an interrupted restore left its staging area"
    place.ok("check")
    place.ok("restore", "demo", "--snapshot", snapshot[:8])
    assert checksums(place.data) == backed_up


def test_wrong_password_is_named(place: Place) -> None:
    place.ok("backup", "demo")
    Path(place.env["ANL_BACKUP_CONFIG"], "password").write_text("not-the-password")
    proc = place.run("backup", "demo")
    assert proc.returncode == 1
    assert "wrong repository password" in proc.stderr
    assert not (place.root / "safe-state").exists()


def test_corrupted_snapshot_fails_and_leaves_the_live_data(place: Place) -> None:
    place.ok("backup", "demo")
    (place.data / "keys" / "conseil").write_text("new key\n")
    live = checksums(place.data)
    for pack in (place.root / "repo" / "data").rglob("*"):
        if pack.is_file():
            raw = bytearray(pack.read_bytes())
            raw[len(raw) // 2] ^= 0xFF
            pack.chmod(0o600)
            pack.write_bytes(bytes(raw))
    proc = place.run("restore", "demo", "--snapshot", "latest")
    assert proc.returncode == 1, proc.stderr
    assert "repository local" in proc.stderr
    assert checksums(place.data) == live, "a failed restore changed the live data"
    assert not (place.root / "safe-state").exists()


def test_not_enough_space_is_refused_before_anything_changes(place: Place, tmp_path: Path) -> None:
    place.ok("backup", "demo")
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)], check=True)
    try:
        env = {**place.env, "ANL_BACKUP_STATE": str(small)}
        live = checksums(place.data)
        proc = subprocess.run([sys.executable, str(TOOL), "restore", "demo", "--snapshot", "latest"],
                              capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 3, proc.stderr
        assert "not enough space" in proc.stderr and "nothing was changed" in proc.stderr
        assert checksums(place.data) == live
    finally:
        subprocess.run(["umount", str(small)], check=False)


def test_snapshots_of_a_plugin_without_settings_are_still_listed(place: Place) -> None:
    """After a removal with --purge its settings are gone; what the repositories keep is still listed."""
    place.ok("backup", "demo")
    (Path(place.env["ANL_BACKUP_CONFIG"]) / "plugins" / "demo.json").unlink()
    assert len(place.ok("snapshots", "demo")["snapshots"]) == 1


def test_unknown_snapshot_and_plugin_are_bad_requests(place: Place) -> None:
    place.ok("backup", "demo")
    proc = place.run("restore", "demo", "--snapshot", "deadbeef")
    assert proc.returncode == 2 and "no snapshot deadbeef of demo" in proc.stderr
    proc = place.run("backup", "other")
    assert proc.returncode == 2 and "other.json is missing" in proc.stderr


def set_spec(place: Place, **changes: object) -> None:
    path = Path(place.env["ANL_BACKUP_CONFIG"]) / "plugins" / "demo.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def test_a_failure_after_the_swap_puts_the_data_back_before_the_service(place: Place) -> None:
    """The last step of a restore fails: the folders the service had are back, then the service."""
    snapshot = place.ok("backup", "demo")["snapshots"][0]["snapshot"]
    (place.data / "archive" / "extra.txt").write_text("written after the backup")
    (place.data / "keys" / "conseil").write_text("changed key\n")
    live = checksums(place.data)
    # The `after` command records whether the data was already back when the service was put back.
    witness = place.root / "data-at-after"
    set_spec(place, after_restore=[{"argv": ["false"]}],
             after=[{"argv": ["sh", "-c", f'cat "{place.data}/keys/conseil" > "{witness}"; '
                              f'rm -f "{place.root}/safe-state"']}])
    proc = place.run("restore", "demo", "--snapshot", snapshot[:8])
    assert proc.returncode == 1 and "false failed" in proc.stderr, proc.stderr
    assert checksums(place.data) == live, "a restore that failed after the swap did not put the data back"
    assert witness.read_text() == "changed key\n", "the service was put back before its data"
    assert not (place.root / "safe-state").exists()
    assert not list(place.data.glob("*.anl-*")), "the failed restore left its working copies behind"


def test_a_safe_state_entered_half_way_is_left_whole(place: Place) -> None:
    """The second `before` command fails: the first one's effect is undone by `after`, exit 1."""
    set_spec(place, before=[{"argv": ["touch", str(place.root / "safe-state")]}, {"argv": ["false"]}])
    proc = place.run("backup", "demo")
    assert proc.returncode == 1 and "false failed" in proc.stderr, proc.stderr
    assert not (place.root / "safe-state").exists(), "the service was left in its safe state"
    assert place.ok("snapshots", "demo")["snapshots"] == []


def test_the_copy_an_interrupted_restore_left_is_never_deleted(place: Place) -> None:
    snapshot = place.ok("backup", "demo")["snapshots"][0]["snapshot"]
    left = place.data / "keys.anl-old"
    left.mkdir()
    (left / "conseil").write_text("the only copy\n")
    live = checksums(place.data)
    proc = place.run("restore", "demo", "--snapshot", snapshot[:8])
    assert proc.returncode == 1, proc.stderr
    assert f"{left} is left from an interrupted restore" in proc.stderr
    assert checksums(place.data) == live and (left / "conseil").read_text() == "the only copy\n"
    assert not (place.root / "safe-state").exists()


def test_bad_input_gets_one_line_and_no_traceback(place: Place) -> None:
    for args, code, message in ((["backup", "a/b"], 2, "'a/b' is not a plugin name"),
                                (["restore", "demo", "--snapshot", "latest"], 2, "no snapshot latest of demo")):
        proc = place.run(*args)
        assert proc.returncode == code and message in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    # Settings no deploy writes (a hand edit): one line naming the error.
    set_spec(place, paths=5)
    proc = place.run("backup", "demo")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_retention_keeps_one_per_day(place: Place) -> None:
    for _ in range(3):
        place.ok("backup", "demo")
    assert len(place.ok("snapshots", "demo")["snapshots"]) == 3
    place.ok("forget", "demo")
    assert len(place.ok("snapshots", "demo")["snapshots"]) == 1, "7 daily keeps one snapshot per day"
