"""The streaming plugin's archive builder (plugins/streaming/roles/streaming/files/archive.py).

It runs on servers as a plain script; here it is loaded from its file and
driven on a temporary archive folder (ffprobe is not needed: durations come
from the sidecar files it caches).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path
from types import ModuleType

import jinja2
import pytest

from tests.conftest import in_ci

SCRIPT = Path(__file__).resolve().parents[2] / "plugins/streaming/roles/streaming/files/archive.py"


@pytest.fixture
def archive_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("streaming_archive", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def recording(folder: Path, channel: str, when: dt.datetime, seconds: float = 61.0) -> Path:
    path = folder / f"{when:%Y-%m-%d}" / f"{channel}-{when:%Y-%m-%dT%H-%M-%S}.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * 2048)
    sidecar = path.with_suffix(".json")
    sidecar.write_text(json.dumps({"duration": seconds}))
    os.utime(sidecar, (path.stat().st_mtime + 1,) * 2)
    return path


def settings(folder: Path, days: int) -> dict:
    return {"commune": "Saint-Exemple <&>", "retention_days": days, "archive_dir": str(folder),
            "channels": [{"name": "conseil", "title_fr": "Conseil municipal", "title_en": "Municipal council"}]}


def test_pages_list_recordings_newest_first(archive_module: ModuleType, tmp_path: Path) -> None:
    old = recording(tmp_path, "conseil", dt.datetime(2026, 10, 1, 18, 30))
    new = recording(tmp_path, "conseil", dt.datetime(2026, 11, 5, 19, 0), seconds=3725)
    (tmp_path / "2026-11-05" / "notes.txt").write_text("not a recording")
    archive_module.build_pages(settings(tmp_path, 365))
    fr = (tmp_path / "index.html").read_text()
    en = (tmp_path / "en.html").read_text()
    assert '<html lang="fr">' in fr and '<html lang="en">' in en
    assert fr.index(new.name) < fr.index(old.name)
    assert "1 h 02 min 05 s" in fr and "Conseil municipal" in fr and "Municipal council" in en
    assert "conservés 365 jours" in fr and "kept for 365 days" in en
    assert "Saint-Exemple &lt;&amp;&gt;" in fr and "notes.txt" not in fr


def test_empty_archive_says_so(archive_module: ModuleType, tmp_path: Path) -> None:
    archive_module.build_pages(settings(tmp_path, 0))
    assert "Aucun enregistrement pour le moment." in (tmp_path / "index.html").read_text()
    assert "kept for" not in (tmp_path / "en.html").read_text()


def test_prune_removes_only_recordings_past_retention(archive_module: ModuleType, tmp_path: Path) -> None:
    today = dt.date(2026, 11, 28)
    kept = recording(tmp_path, "conseil", dt.datetime(2026, 11, 25, 18, 0))
    edge = recording(tmp_path, "conseil", dt.datetime(2026, 11, 21, 18, 0))
    gone = recording(tmp_path, "conseil", dt.datetime(2026, 11, 20, 18, 0))
    removed = archive_module.prune(settings(tmp_path, 7), today=today)
    assert removed == [gone]
    assert kept.exists() and edge.exists()
    assert not gone.exists() and not gone.with_suffix(".json").exists()
    assert not gone.parent.exists(), "the emptied day folder is removed"


def test_zero_retention_keeps_everything(archive_module: ModuleType, tmp_path: Path) -> None:
    old = recording(tmp_path, "conseil", dt.datetime(2001, 1, 1, 18, 0))
    assert archive_module.prune(settings(tmp_path, 0), today=dt.date(2026, 11, 28)) == []
    assert old.exists()


def test_a_named_test_push_is_never_listed(archive_module: ModuleType, tmp_path: Path) -> None:
    archive, pushes = tmp_path / "archive", tmp_path / "test-pushes"
    pushes.mkdir()
    start = dt.datetime(2026, 11, 5, 19, 0, 0)
    session = recording(archive, "conseil", dt.datetime(2026, 11, 5, 18, 0))
    test = recording(archive, "conseil", start + dt.timedelta(seconds=2))
    other = recording(archive, "commission", start + dt.timedelta(seconds=2))   # another channel, same time
    later = recording(archive, "conseil", start + dt.timedelta(minutes=10))     # a real session after the test
    (pushes / f"conseil-{int(start.timestamp())}").write_text("")
    archive_module.build_pages({**settings(archive, 365), "test_pushes_dir": str(pushes)})
    for page in ("index.html", "en.html"):
        text = (archive / page).read_text()
        assert test.name not in text, page
        assert all(path.name in text for path in (session, other, later)), page


def test_prune_removes_a_test_push_left_a_day(archive_module: ModuleType, tmp_path: Path) -> None:
    archive, pushes = tmp_path / "archive", tmp_path / "test-pushes"
    pushes.mkdir()
    old_start = dt.datetime.now().replace(microsecond=0) - dt.timedelta(days=2)
    new_start = dt.datetime.now().replace(microsecond=0) - dt.timedelta(minutes=5)
    left = recording(archive, "conseil", old_start + dt.timedelta(seconds=1))
    running = recording(archive, "conseil", new_start + dt.timedelta(seconds=1))
    for start in (old_start, new_start):
        (pushes / f"conseil-{int(start.timestamp())}").write_text("")
    removed = archive_module.prune({**settings(archive, 0), "test_pushes_dir": str(pushes)})
    assert removed == [left] and not left.with_suffix(".json").exists()
    assert running.exists(), "a test push still within its day is the check's to remove"
    assert [p.name for p in pushes.iterdir()] == [f"conseil-{int(new_start.timestamp())}"]


def test_pages_take_world_write_away(archive_module: ModuleType, tmp_path: Path) -> None:
    """Recordings made before the fix (0777 folders, 0666 files) are repaired by the next page build."""
    archive = tmp_path / "archive"
    made = recording(archive, "conseil", dt.datetime(2026, 11, 5, 19, 0))
    outside = tmp_path / "outside.txt"
    outside.write_text("not the archive's")
    for path, mode in ((archive, 0o777), (made.parent, 0o777), (made, 0o666), (made.with_suffix(".json"), 0o666),
                       (outside, 0o666)):
        os.chmod(path, mode)
    (made.parent / "link").symlink_to(outside)
    archive_module.build_pages(settings(archive, 365))
    modes = {p.name: stat.S_IMODE(p.lstat().st_mode) for p in (archive, made.parent, made, made.with_suffix(".json"))}
    # Only the others' write bit goes: the owner's and group's rights stay as they were.
    assert modes == {"archive": 0o775, made.parent.name: 0o775, made.name: 0o664, made.with_suffix(".json").name: 0o664}
    assert stat.S_IMODE(outside.stat().st_mode) == 0o666, "a symbolic link was followed out of the archive"


RECORD_DONE = SCRIPT.parent.parent / "templates" / "record-done.sh.j2"


def test_record_done_under_nginx_umask(tmp_path: Path) -> None:
    """record-done runs with nginx's umask 0 (nginx daemonises with umask(0)); its folder and MP4 are not world-writable."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        (pytest.fail if in_ci() else pytest.skip)("ffmpeg is not installed (Debian package ffmpeg)")
    lib, recordings, archive = (tmp_path / name for name in ("lib", "recordings", "archive"))
    for folder in (lib, recordings, archive):
        folder.mkdir()
    # The page builder is left out on purpose: it also repairs modes, and would hide record-done's own.
    (lib / "archive.py").write_text("")
    script = tmp_path / "record-done"
    script.write_text(jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(RECORD_DONE.read_text()).render(
        ansible_managed="test", streaming_user="www-data", streaming_archive_dir=str(archive), streaming_ffmpeg=ffmpeg,
        streaming_recordings_dir=str(recordings), streaming_lib_dir=str(lib)))
    flv = recordings / "conseil-2026-12-01T18-30-00.flv"
    subprocess.run([ffmpeg, "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=5",
                    "-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-f", "flv", str(flv)],
                   check=True, timeout=60)
    done = subprocess.run(["/bin/sh", str(script), str(flv), "conseil"], capture_output=True, text=True,
                          timeout=60, preexec_fn=lambda: os.umask(0))
    assert done.returncode == 0, done.stderr
    mp4 = archive / "2026-12-01" / "conseil-2026-12-01T18-30-00.mp4"
    assert mp4.is_file() and not flv.exists(), done.stderr
    assert stat.S_IMODE(mp4.parent.stat().st_mode) == 0o755
    assert stat.S_IMODE(mp4.stat().st_mode) == 0o644
