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
from pathlib import Path
from types import ModuleType

import pytest

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
