"""Backup and restore time, and repository size, for a given data set (anl-backup + restic).

Runs the on-host program ``anl-backup`` (playbooks/roles/backup/files) on this
machine, as root, against an on-host restic repository in a temporary folder:
the same program and restic a server runs, without the network. The data set
imitates a year of council recordings: ``--recordings`` files of ``--size-mb``
MiB of random data (video does not compress), plus the stream keys.

Figures (median of ``--runs``, with min and max, and the 1-minute load average):
first backup, a second backup with nothing changed (deduplication), a backup
after one new recording, a full restore, and the repository's size on disk
against the data's.

    sudo .venv/bin/python benchmarks/backup.py [--recordings 12] [--size-mb 32] [--runs 3] [--json]

Measurements, not tests: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TOOL = Path(__file__).resolve().parent.parent / "playbooks" / "roles" / "backup" / "files" / "anl-backup"


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def setup(root: Path, recordings: int, size_mb: int) -> dict[str, str]:
    data = root / "data"
    (data / "archive").mkdir(parents=True)
    (data / "keys").mkdir()
    for n in range(recordings):
        with (data / "archive" / f"seance-{n:02d}.mp4").open("wb") as out:
            for _ in range(size_mb):
                out.write(os.urandom(2**20))
    (data / "keys" / "conseil").write_text("k" * 64 + "\n")
    config = root / "config"
    (config / "plugins").mkdir(parents=True)
    (config / "password").write_text("p" * 64)
    (config / "repositories.json").write_text(json.dumps({
        "password_file": str(config / "password"), "retention": {"daily": 7},
        "repositories": [{"name": "local", "url": str(root / "repo")}]}))
    (config / "plugins" / "bench.json").write_text(json.dumps({
        "plugin": "bench", "host": "bench", "recipe": {}, "paths": [str(data / "archive"), str(data / "keys")],
        "databases": [], "stop": [], "before": [], "after": []}))
    return {**os.environ, "ANL_BACKUP_CONFIG": str(config), "ANL_BACKUP_STATE": str(root / "state"),
            "ANL_BACKUP_LOCKS": str(root / "locks")}


def timed(env: dict[str, str], *args: str) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(TOOL), *args], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"anl-backup {' '.join(args)} failed: {done.stderr}")
    return elapsed


def one_run(recordings: int, size_mb: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="anl-bench-backup-") as tmp:
        root = Path(tmp)
        env = setup(root, recordings, size_mb)
        timed(env, "init")
        figures = {"first backup (s)": timed(env, "backup", "bench"),
                   "second backup, nothing changed (s)": timed(env, "backup", "bench")}
        with (root / "data" / "archive" / "new.mp4").open("wb") as out:
            for _ in range(size_mb):
                out.write(os.urandom(2**20))
        figures["backup after one new recording (s)"] = timed(env, "backup", "bench")
        shutil.rmtree(root / "data" / "archive")
        figures["full restore (s)"] = timed(env, "restore", "bench", "--snapshot", "latest")
        figures["data (MiB)"] = folder_size(root / "data") / 2**20
        figures["repository, 3 snapshots (MiB)"] = folder_size(root / "repo") / 2**20
        figures["load1"] = os.getloadavg()[0]
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=int, default=12, help="recordings in the data set (default 12)")
    parser.add_argument("--size-mb", type=int, default=32, help="MiB per recording (default 32)")
    parser.add_argument("--runs", type=int, default=3, help="runs (at least 3, default 3)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a Markdown table")
    args = parser.parse_args()
    if args.runs < 3:
        parser.error("--runs must be at least 3")
    if os.geteuid() != 0 or shutil.which("restic") is None:
        parser.error("needs root and restic (Debian package restic)")
    runs = [one_run(args.recordings, args.size_mb) for _ in range(args.runs)]
    result: dict[str, Any] = {
        "data_set": f"{args.recordings} recordings of {args.size_mb} MiB (random data) and the keys",
        "restic": subprocess.run(["restic", "version"], capture_output=True, text=True).stdout.strip(),
        "figures": {key: {"median": round(statistics.median(r[key] for r in runs), 2),
                          "min": round(min(r[key] for r in runs), 2), "max": round(max(r[key] for r in runs), 2)}
                    for key in runs[0]},
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"Data set: {result['data_set']}; {result['restic']}; {args.runs} runs\n")
    print("| figure | median | min | max |\n|---|---|---|---|")
    for key, value in result["figures"].items():
        print(f"| {key} | {value['median']} | {value['min']} | {value['max']} |")


if __name__ == "__main__":
    main()
