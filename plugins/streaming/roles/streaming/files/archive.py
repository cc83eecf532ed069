#!/usr/bin/python3
"""Archive of recorded sessions: build the archive pages, apply the retention.

    archive.py pages   rebuild index.html (French) and en.html (English)
    archive.py prune   remove recordings older than the retention, then rebuild

Settings come from /etc/anl-streaming/site.json (written by Ansible).
Recordings live in ARCHIVE/YYYY-MM-DD/CHANNEL-YYYY-MM-DDTHH-MM-SS.mp4.

A test push of `anl-stack verify --live-test` is named beforehand by a file
TEST_PUSHES/CHANNEL-EPOCH (the second it starts): its recording is never
listed on the pages, and prune removes it (and the file) after a day if the
check could not.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

SETTINGS = Path("/etc/anl-streaming/site.json")
NAME = re.compile(r"^(?P<channel>[a-z0-9_-]+)-(?P<day>\d{4}-\d{2}-\d{2})T(?P<h>\d{2})-(?P<m>\d{2})-(?P<s>\d{2})\.mp4$")

TEXT = {
    "fr": {
        "title": "Séances enregistrées",
        "intro": "Enregistrements des séances publiques diffusées en direct, conservés {days} jours.",
        "forever": "Enregistrements des séances publiques diffusées en direct.",
        "empty": "Aucun enregistrement pour le moment.",
        "date": "Date", "time": "Heure de début", "channel": "Diffusion", "duration": "Durée",
        "file": "Vidéo", "download": "Télécharger (MP4, {size})",
        "back": "Retour à la diffusion en direct", "home": "../",
        "other": "English", "other_href": "en.html", "other_lang": "en",
        "a11y": "Accessibilité", "a11y_href": "../accessibilite.html",
        "privacy": "Données personnelles", "privacy_href": "../confidentialite.html",
        "skip": "Aller au contenu",
    },
    "en": {
        "title": "Recorded sessions",
        "intro": "Recordings of the public sessions streamed live, kept for {days} days.",
        "forever": "Recordings of the public sessions streamed live.",
        "empty": "No recording yet.",
        "date": "Date", "time": "Start time", "channel": "Broadcast", "duration": "Duration",
        "file": "Video", "download": "Download (MP4, {size})",
        "back": "Back to the live broadcast", "home": "../en/",
        "other": "Français", "other_href": "./", "other_lang": "fr",
        "a11y": "Accessibility", "a11y_href": "../en/accessibility.html",
        "privacy": "Privacy", "privacy_href": "../en/privacy.html",
        "skip": "Skip to content",
    },
}


def load_settings() -> dict:
    return json.loads(SETTINGS.read_text(encoding="utf-8"))


#: a test push's recording starts within this many seconds after its named start
TEST_PUSH_WINDOW = 120
TEST_PUSH = re.compile(r"^(?P<channel>[a-z0-9_-]+)-(?P<epoch>\d{9,11})$")


def test_pushes(settings: dict) -> list[tuple[str, dt.datetime, Path]]:
    """(channel, local start time, marker file) of each named test push."""
    folder = Path(settings.get("test_pushes_dir") or "/nonexistent")
    found = []
    for marker in sorted(folder.glob("*")) if folder.is_dir() else []:
        match = TEST_PUSH.match(marker.name)
        if match:
            found.append((match["channel"], dt.datetime.fromtimestamp(int(match["epoch"])), marker))
    return found


def is_test_push(item: dict, pushes: list[tuple[str, dt.datetime, Path]]) -> bool:
    return any(channel == item["channel"] and dt.timedelta(seconds=-5) <= item["started"] - started
               <= dt.timedelta(seconds=TEST_PUSH_WINDOW) for channel, started, _ in pushes)


def recordings(archive: Path) -> list[dict]:
    found = []
    for path in sorted(archive.glob("*/*.mp4")):
        match = NAME.match(path.name)
        if not match:
            continue
        started = dt.datetime(*map(int, match["day"].split("-")), int(match["h"]), int(match["m"]), int(match["s"]))
        found.append({"path": path, "channel": match["channel"], "started": started,
                      "size": path.stat().st_size, "duration": duration(path)})
    return sorted(found, key=lambda r: r["started"], reverse=True)


def duration(path: Path) -> float | None:
    """Seconds, from a sidecar cache or ffprobe (once per file)."""
    cache = path.with_suffix(".json")
    if cache.exists() and cache.stat().st_mtime >= path.stat().st_mtime:
        try:
            return json.loads(cache.read_text())["duration"]
        except (ValueError, KeyError):
            pass
    try:
        out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                              "-of", "default=nw=1:nk=1", str(path)],
                             capture_output=True, text=True, timeout=60, check=True).stdout.strip()
        seconds = float(out)
    except (subprocess.SubprocessError, ValueError, OSError):
        return None
    try:
        cache.write_text(json.dumps({"duration": seconds}))
    except OSError:
        pass
    return seconds


def human_size(size: int) -> str:
    return f"{size / 1_000_000:.1f} Mo".replace(".", ",") if size else "0 Mo"


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    total = int(round(seconds))
    return f"{total // 3600} h {total % 3600 // 60:02d} min {total % 60:02d} s"


def page(lang: str, settings: dict, items: list[dict]) -> str:
    t = TEXT[lang]
    esc = html.escape
    titles = {c["name"]: c.get(f"title_{lang}", c["name"]) for c in settings["channels"]}
    days = settings["retention_days"]
    intro = t["intro"].format(days=days) if days > 0 else t["forever"]
    rows = []
    for item in items:
        rel = f"{item['path'].parent.name}/{item['path'].name}"
        size = human_size(item["size"]) if lang == "fr" else f"{item['size'] / 1_000_000:.1f} MB"
        rows.append(
            "<tr>"
            f"<td>{item['started']:%Y-%m-%d}</td>"
            f"<td>{item['started']:%H:%M}</td>"
            f"<td>{esc(titles.get(item['channel'], item['channel']))}</td>"
            f"<td>{human_duration(item['duration'])}</td>"
            f"<td><a href=\"{esc(rel)}\">{esc(t['download'].format(size=size))}</a></td>"
            "</tr>"
        )
    if rows:
        body = ("<table><caption>" + esc(t["title"]) + "</caption><thead><tr>"
                + "".join(f"<th scope=\"col\">{esc(t[k])}</th>" for k in ("date", "time", "channel", "duration", "file"))
                + "</tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>")
    else:
        body = f"<p class=\"empty\">{esc(t['empty'])}</p>"
    commune = esc(settings["commune"])
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(t['title'])} - {commune}</title>
<link rel="stylesheet" href="../assets/player.css">
<link rel="alternate" hreflang="{t['other_lang']}" href="{t['other_href']}">
</head>
<body>
<a class="skip" href="#main">{esc(t['skip'])}</a>
<header>
<p class="commune">{commune}</p>
<nav aria-label="Langue / Language"><a href="{t['other_href']}" hreflang="{t['other_lang']}" lang="{t['other_lang']}">{esc(t['other'])}</a></nav>
</header>
<main id="main">
<h1>{esc(t['title'])}</h1>
<p>{esc(intro)}</p>
{body}
<p><a href="{t['home']}">{esc(t['back'])}</a></p>
</main>
<footer>
<a href="{t['a11y_href']}">{esc(t['a11y'])}</a> ·
<a href="{t['privacy_href']}">{esc(t['privacy'])}</a>
</footer>
</body>
</html>
"""


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".page-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def take_away_world_write(archive: Path) -> list[Path]:
    """Remove other accounts' write access from everything in the archive; return what changed.

    Recordings made before record-done set its umask are 0777 folders and 0666 files.
    """
    changed = []
    for path in [archive, *archive.rglob("*")]:
        try:
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode) or not mode & stat.S_IWOTH:
                continue
            os.chmod(path, stat.S_IMODE(mode) & ~stat.S_IWOTH)
        except OSError:
            # Gone meanwhile, or another account's (the verify baseline names what stays).
            continue
        changed.append(path)
    return changed


def build_pages(settings: dict) -> None:
    archive = Path(settings["archive_dir"])
    pushes = test_pushes(settings)
    items = [item for item in recordings(archive) if not is_test_push(item, pushes)]
    write_atomic(archive / "index.html", page("fr", settings, items))
    write_atomic(archive / "en.html", page("en", settings, items))
    for path in take_away_world_write(archive):
        print(f"no longer world-writable: {path}", file=sys.stderr)


def prune(settings: dict, today: dt.date | None = None) -> list[Path]:
    """Remove recordings whose day is older than the retention, and test pushes a day old; return them."""
    archive = Path(settings["archive_dir"])
    days = settings["retention_days"]
    limit = (today or dt.date.today()) - dt.timedelta(days=days)
    stale = [p for p in test_pushes(settings) if p[1] < dt.datetime.now() - dt.timedelta(days=1)]
    removed = []
    for item in recordings(archive):
        if (days > 0 and item["started"].date() < limit) or is_test_push(item, stale):
            item["path"].unlink()
            item["path"].with_suffix(".json").unlink(missing_ok=True)
            removed.append(item["path"])
    for _, _, marker in stale:
        marker.unlink(missing_ok=True)
    for folder in archive.iterdir():
        if folder.is_dir() and not any(folder.iterdir()):
            shutil.rmtree(folder)
    return removed


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in ("pages", "prune"):
        print(__doc__, file=sys.stderr)
        return 2
    # Its callers (nginx's exec, Ansible, timers) pass different umasks: files it writes are 0644.
    os.umask(0o022)
    settings = load_settings()
    if argv[1] == "prune":
        for path in prune(settings):
            print(f"removed {path}")
    build_pages(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
