"""Lab host timings: image build, and cached host start to SSH-ready.

    sudo .venv/bin/python benchmarks/lab.py [--runs 5] [--release 13] [--build] [--json]

- ``--build`` also times a full image build (debootstrap + preparation) in a
  temporary cache folder, so the shared image is left untouched.
- The start measurement brings up host ``tbench`` from the cached image
  ``--runs`` times (down between runs) and reports the median and range of
  the time until SSH answers and systemd reports running/degraded, and of
  the time ``down`` takes.

Measurements, not tests: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import summary  # noqa: E402  (after the path set-up)

NAME = "tbench"


def time_build(release: str) -> float:
    from anl_stack.lab import image

    folder = Path(tempfile.mkdtemp(prefix="anl-lab-bench-"))
    previous = os.environ.get("ANL_STACK_CACHE_DIR")
    os.environ["ANL_STACK_CACHE_DIR"] = str(folder)
    try:
        started = time.monotonic()
        image.ensure_image(release, log=lambda _m: None)
        return time.monotonic() - started
    finally:
        if previous is None:
            os.environ.pop("ANL_STACK_CACHE_DIR", None)
        else:
            os.environ["ANL_STACK_CACHE_DIR"] = previous
        shutil.rmtree(folder, ignore_errors=True)


def time_starts(release: str, runs: int, name: str = NAME) -> dict[str, list[float]]:
    from anl_stack import lab
    from anl_stack.lab import image

    image.ensure_image(release)
    up_times, down_times = [], []
    for _ in range(runs):
        started = time.monotonic()
        host = lab.up(name, release, log=None)
        up_times.append(time.monotonic() - started)
        assert host.ssh("true").returncode == 0
        started = time.monotonic()
        lab.down(name)
        down_times.append(time.monotonic() - started)
    return {"up_to_ssh_ready_s": up_times, "down_s": down_times}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--release", default="13", choices=["13", "12"])
    parser.add_argument("--build", action="store_true", help="also time a full image build")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from anl_stack.lab import preflight

    preflight()
    results: dict[str, object] = {
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release()},
        "release": args.release,
    }
    if args.build:
        results["image_build_s"] = round(time_build(args.release), 1)
    raw = time_starts(args.release, args.runs)
    results.update({key: summary(values) for key, values in raw.items()})
    if args.json:
        print(json.dumps(results, indent=2))
        return
    if "image_build_s" in results:
        print(f"image build (Debian {args.release}): {results['image_build_s']} s")
    for key in raw:
        s = results[key]
        print(f"{key}: median {s['median']} s (min {s['min']}, max {s['max']}, {s['runs']} runs)")


if __name__ == "__main__":
    main()
