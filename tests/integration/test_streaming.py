"""The streaming recipe end to end on real lab hosts (Debian 13 and 12).

One host per release, deployed once by a module fixture; each test needs
nothing else (one that needs a recording makes it when there is none):

- `anl-stack deploy streaming --idempotence` (second run changed=0);
  `anl-stack verify streaming --live-test` (a test pattern pushed from the
  host: playlist, segments, wrong key, recording to MP4 on the archive page),
  after a first recording so that the baseline's world-writable check walks
  a real one; that recording's folder, MP4 and duration file are 0755/0644;
- an encoder outside the host: on Debian 13 the controller is the allowed
  encoder (`streaming_ingest_allowed_sources`), so its push with the right
  key plays and a wrong key is refused; a push from an address outside the
  list (the host's own public address there, the controller on Debian 12
  where only 192.0.2.10 is allowed) is refused;
- headless Chromium on the player page, idle then live: the video plays
  (currentTime advances, started from the keyboard), no serious or critical
  axe-core violation, no stream key in any URL or page;
- old HLS segments are cleaned up during a long push;
- with a short retention an old recording is removed by the retention job
  and disappears from the archive page.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.browser import serious_violations
from tests.fixtures.lab import ENGINE_BY_RELEASE, assert_release_engine, wait_for
from tests.integration.test_nextcloud import json_summary

pytestmark = pytest.mark.lab

PROJECT = Path(__file__).resolve().parent.parent.parent
CHANNEL = "conseil"
KEY_FILE = f"/etc/anl-streaming/keys/{CHANNEL}"
HLS_DIR = "/var/lib/anl-streaming/hls"
ARCHIVE_DIR = "/var/lib/anl-streaming/archive"
RETENTION_DAYS = 3
FRAGMENT_SECONDS = 2
PLAYLIST_SECONDS = 8
OUTSIDE_SOURCE = "192.0.2.10"  # TEST-NET-1: never a real encoder


@dataclass
class Site:
    host: Any            # anl_stack.lab.LabHost
    domain: str          # the player's public name
    controller: str      # the controller's address as the host sees it
    controller_allowed: bool


def anl(*args: str, timeout: int = 2400) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "anl_stack", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=PROJECT)


def output(proc: subprocess.CompletedProcess[str]) -> str:
    return proc.stdout[-4000:] + proc.stderr[-4000:]


def ssh(site: Site, command: str, timeout: float = 120) -> str:
    proc = site.host.ssh(command, timeout=timeout)
    assert proc.returncode == 0, f"{command[:100]}: rc {proc.returncode} {proc.stderr[-500:]}"
    return proc.stdout


def stream_key(site: Site) -> str:
    return ssh(site, f"cat {KEY_FILE}").strip()


def push_command(url: str, seconds: int) -> list[str]:
    return ["ffmpeg", "-nostdin", "-loglevel", "error", "-re",
            "-f", "lavfi", "-i", "testsrc=size=640x360:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
            "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
            "-pix_fmt", "yuv420p", "-g", "50", "-c:a", "aac", "-b:a", "64k", "-f", "flv", url]


def push_from_controller(site: Site, key: str, seconds: int = 6, timeout: float = 25) -> int | None:
    """ffmpeg's exit code, or None when it was still pushing (or still connecting) at the timeout."""
    url = f"rtmp://{site.host.address}/live/{key}"
    try:
        return subprocess.run(push_command(url, seconds), capture_output=True, timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        return None


def hls_files(site: Site) -> list[str]:
    return ssh(site, f"ls -A {HLS_DIR}").split()


def start_host_push(site: Site, seconds: int, target: str = "127.0.0.1") -> str:
    """Push from the host itself (key read there) in a transient unit; returns the unit name."""
    unit = f"anl-streaming-test-{int(time.time() * 1000) % 10**8}"
    inner = shlex.join(push_command(f"rtmp://{target}/live/KEY", seconds)).replace("KEY", f"$(cat {KEY_FILE})")
    ssh(site, f"systemd-run --quiet --collect --unit {unit} /bin/sh -c {shlex.quote(inner)}")
    return unit


def unit_active(site: Site, unit: str) -> bool:
    return site.host.ssh(f"systemctl is-active --quiet {unit}").returncode == 0


def assert_refused_push_left_no_recording(site: Site, before: set[str]) -> None:
    """The refused push left no recording in the archive, observed rather than slept on.

    A push from the host itself (always allowed) follows it. The refused session was closed first
    (its encoder has exited), so by the time the host's push is in the archive the refused one would
    be there too: exactly one recording may be new.
    """
    unit = start_host_push(site, 4)
    assert wait_for(lambda: len(recordings(site) - before) >= 1, 90, step=2), \
        f"the host's own push ({unit}) made no recording"
    new = recordings(site) - before
    assert len(new) == 1, f"the refused push was recorded: {sorted(new)}"


@pytest.fixture(scope="module", params=["13", "12"])
def lab_site(request: pytest.FixtureRequest) -> Iterator[Site]:
    from tests.fixtures.lab import _down_quietly, require_lab

    require_lab()
    from anl_stack import lab

    # The player's hls.js release, from the npm registry into the artifact cache, as the
    # README's main job does (a cache hit when it is there already).
    fetched = anl("artifacts", "fetch", "streaming")
    assert fetched.returncode == 0, output(fetched)
    name = f"sl{request.param}"
    host = lab.up(name, request.param)
    try:
        domain = f"live.{host.domain}"
        lab.add_names(name, [domain])
        allowed = request.param == "13"
        settings_file = Path(host.inventory) / "group_vars" / "all" / "anl.yml"
        settings = yaml.safe_load(settings_file.read_text())
        settings.update({
            "streaming_ingest_allowed_sources": [host.gateway if allowed else OUTSIDE_SOURCE],
            "streaming_archive_retention_days": RETENTION_DAYS,
            "streaming_hls_fragment_seconds": FRAGMENT_SECONDS,
            "streaming_hls_playlist_seconds": PLAYLIST_SECONDS,
            "anl_engine": ENGINE_BY_RELEASE[request.param],
        })
        settings_file.write_text(yaml.safe_dump(settings, sort_keys=False, allow_unicode=True))
        yield Site(host=host, domain=domain, controller=host.gateway, controller_allowed=allowed)
    finally:
        _down_quietly(name)


@pytest.fixture(scope="module")
def deploy_run(lab_site: Site) -> subprocess.CompletedProcess[str]:
    """`deploy streaming --idempotence`, once per host: every other test needs the recipe deployed."""
    return anl("deploy", "streaming", "--lab", lab_site.host.name, "--debian", lab_site.host.release,
               "--idempotence", "--json")


@pytest.fixture(scope="module")
def site(lab_site: Site, deploy_run: subprocess.CompletedProcess[str]) -> Site:
    """The lab host with the streaming recipe deployed."""
    assert deploy_run.returncode == 0, output(deploy_run)
    return lab_site


def test_deploy_is_idempotent(lab_site: Site, deploy_run: subprocess.CompletedProcess[str]) -> None:
    assert deploy_run.returncode == 0, output(deploy_run)
    runs = json_summary(deploy_run)["runs"]
    assert [r["kind"] for r in runs] == ["deploy", "idempotence"]
    name = lab_site.host.name
    assert runs[0]["hosts"][name]["changed"] > 0 and runs[0]["hosts"][name]["failed"] == 0, runs[0]
    assert runs[1]["hosts"][name]["changed"] == 0 and runs[1]["hosts"][name]["failed"] == 0, runs[1]
    assert_release_engine(runs, lab_site.host.release)


def test_verify_live_passes(site: Site) -> None:
    # A recording first, so that the baseline walks a real one (it runs before the live checks).
    a_recording(site)
    proc = anl("verify", "streaming", "--lab", site.host.name, "--live-test", "--json")
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        pytest.fail(f"verify printed no JSON (exit {proc.returncode}): {output(proc)}")
    failed = [f"{c['suite']}/{c['check']}: {c.get('message', '')[:300]}" for c in report["checks"]
              if c["outcome"] in ("failed", "error")]
    assert proc.returncode == 0, "\n".join(failed) or output(proc)
    ran = {c["check"]: c["outcome"] for c in report["checks"] if c["suite"] == "streaming"}
    for check in ("test_live_playlist", "test_live_segments_download", "test_live_wrong_key_refused",
                  "test_live_key_never_public", "test_live_recording_archived"):
        assert ran.get(check) == "passed", f"{check}: {ran.get(check, 'did not run')}"
    baseline = {c["check"]: c["outcome"] for c in report["checks"] if c["suite"] == "baseline"}
    assert baseline.get("test_plugin_data_not_world_writable") == "passed", baseline


def test_recordings_not_world_writable(site: Site) -> None:
    """A session recorded by nginx-rtmp (its exec children start with nginx's umask 0) is 0755/0644."""
    recording = a_recording(site)
    day = recording.split("/")[0]
    sidecar = recording.removesuffix(".mp4") + ".json"
    modes = ssh(site, f"cd {ARCHIVE_DIR} && stat -c '%n %a %U' . {day} {recording} {sidecar}").splitlines()
    assert modes == [". 755 www-data", f"{day} 755 www-data", f"{recording} 644 www-data",
                     f"{sidecar} 644 www-data"], modes
    assert ssh(site, f"find {ARCHIVE_DIR} ! -type l -perm -o+w").strip() == ""


def recordings(site: Site) -> set[str]:
    return set(ssh(site, f"cd {ARCHIVE_DIR} && find . -name '*.mp4' -printf '%P\\n'").split())


def test_encoder_outside_the_host(site: Site) -> None:
    """The controller as an external encoder: allowed on 13 (right key recorded, wrong key refused), not on 12."""
    key = stream_key(site)
    before = recordings(site)
    if site.controller_allowed:
        assert push_from_controller(site, "wrong" + key[:8]) not in (0, None), "a wrong key was accepted"
        assert push_from_controller(site, key, seconds=8) == 0, "the allowed encoder could not push"
        assert wait_for(lambda: len(recordings(site) - before) == 1, 60), "the accepted push made no one recording"
    else:
        code = push_from_controller(site, key, seconds=6, timeout=20)
        assert code != 0, f"a push from {site.controller}, outside the allowed list, was accepted"
        assert_refused_push_left_no_recording(site, before)


def test_source_outside_allowed_list_refused(site: Site) -> None:
    """nginx's `allow publish` refuses a right key from an address outside the list (the host's public one)."""
    before = recordings(site)
    inner = shlex.join(push_command(f"rtmp://{site.host.address}/live/KEY", 5)).replace("KEY", f"$(cat {KEY_FILE})")
    proc = site.host.ssh(f"timeout 20 /bin/sh -c {shlex.quote(inner)}", timeout=60)
    assert proc.returncode not in (0, 124), "a push from an address outside the allowed list was accepted"
    assert_refused_push_left_no_recording(site, before)


# --- the player in a real browser ---------------------------------------------------------

def new_context(browser: Any) -> Any:
    # bypass_csp: the site's CSP (script-src 'self') rightly refuses the injected axe-core script.
    return browser.new_context(ignore_https_errors=True, bypass_csp=True)


def test_player_idle_in_browser(site: Site, browser: Any, axe_script: Path) -> None:
    # Earlier pushes leave a playlist until nginx-rtmp's cleanup removes it.
    assert wait_for(lambda: f"{CHANNEL}.m3u8" not in hls_files(site), 90, step=3), "the playlist of an ended push stayed"
    context = new_context(browser)
    try:
        page = context.new_page()
        for path, lang, idle in (("/", "fr", "Aucune diffusion en cours."), ("/en/", "en", "No broadcast in progress.")):
            page.goto(f"https://{site.domain}{path}")
            assert page.get_attribute("html", "lang") == lang
            page.wait_for_function("text => document.querySelector('.status').textContent === text", arg=idle,
                                   timeout=20000)
            assert page.is_hidden("video"), "the video is shown while nothing is broadcast"
            assert serious_violations(page, axe_script) == [], path
        for path in ("/accessibilite.html", "/en/accessibility.html", "/confidentialite.html", "/en/privacy.html",
                     "/archives/", "/archives/en.html"):
            page.goto(f"https://{site.domain}{path}")
            assert page.title(), path
            assert serious_violations(page, axe_script) == [], path
        privacy = page.goto(f"https://{site.domain}/confidentialite.html")
        assert privacy is not None and "14 jours" in privacy.text()
    finally:
        context.close()


def test_player_plays_live_in_browser(site: Site, browser: Any, axe_script: Path) -> None:
    key = stream_key(site)
    # Long enough to cover the waits below on a busy machine (the player's start, playback, axe: over
    # 100 s can pass under CI's load), with time left for the cleanup check; the push is stopped at the end.
    push_seconds = 240
    unit = start_host_push(site, push_seconds)
    started = time.monotonic()
    context = new_context(browser)
    urls: list[str] = []
    responses: list[Any] = []
    console: list[str] = []
    try:
        page = context.new_page()
        page.on("request", lambda request: urls.append(request.url))
        page.on("response", lambda response: responses.append(response))
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        page.goto(f"https://{site.domain}/")
        page.wait_for_function("() => document.querySelector('.status').textContent === 'Diffusion en cours.'",
                               timeout=40000)
        # Native controls: focus the video with the keyboard and start it with the space bar.
        page.focus("video")
        page.keyboard.press("Space")
        plays = _video_advances(page, by=2.0, within=45)
        assert plays is True, f"the video did not play: {plays}; console: {console[-10:]}; " \
                              f"playlist: {[f for f in hls_files(site) if f.endswith('.m3u8')]}"
        assert page.evaluate("() => document.querySelector('video').paused") is False
        assert serious_violations(page, axe_script) == []
        # Bodies of what the page fetched (GET: the player's HEAD polls have none).
        fetched = [r for r in responses if r.ok and r.request.method == "GET"
                   and r.url.endswith((".m3u8", ".html", "/", ".js"))]
        assert any(r.url.endswith(".m3u8") for r in fetched), "no playlist body to check"
        bodies = [page.content()] + [r.text() for r in fetched]
        assert any(u.endswith(f"/hls/{CHANNEL}.m3u8") for u in urls), "the player did not load the public playlist"
        assert not [u for u in urls if key in u], "a stream key appears in a URL"
        assert not [b for b in bodies if key in b], "a stream key appears in a page or playlist"

        # Old segments are cleaned up while the push goes on (hls_cleanup).
        # Checked while the push runs, once it has run for 50 s: without cleanup the oldest
        # segment would then be well above the bound below.
        time.sleep(max(0.0, 50 - (time.monotonic() - started)))
        assert unit_active(site, unit), "the push ended before the cleanup check: " + site.host.ssh(
            f"systemctl status --no-pager {unit}; journalctl --no-pager -n 30 -u {unit} -u nginx").stdout[-3000:]
        segments = [f for f in hls_files(site) if f.endswith(".ts")]
        assert f"{CHANNEL}-0.ts" not in segments, "the first segment is still there"
        # nginx-rtmp removes segments older than twice the playlist, sweeping once per playlist
        # length; one more sweep of slack for a busy machine's late timers. Without cleanup the
        # oldest segment would be as old as the push (50 s here).
        ages = [int(a) for a in ssh(site, f"now=$(date +%s); for f in {HLS_DIR}/*.ts; do "
                                          "echo $((now - $(stat -c %Y $f))); done").split()]
        assert max(ages) <= 4 * PLAYLIST_SECONDS + 2 * FRAGMENT_SECONDS, f"segment ages {sorted(ages)}"
    finally:
        context.close()
        site.host.ssh(f"systemctl stop {unit}", timeout=60)


def _video_advances(page: Any, by: float, within: float) -> bool | str:
    """True once the video's currentTime has advanced by `by` seconds; else its state at the deadline."""
    first: list[float] = []  # the first currentTime above 0

    def advanced() -> bool:
        now = page.evaluate("() => document.querySelector('video').currentTime")
        if not first and now > 0:
            first.append(now)
        return bool(first) and now > first[0] + by

    if wait_for(advanced, within, step=0.5):
        return True
    return page.evaluate("""() => { const v = document.querySelector('video');
        const ranges = Array.from({length: v.buffered.length}, (_, i) => [v.buffered.start(i), v.buffered.end(i)]);
        return JSON.stringify({currentTime: v.currentTime, paused: v.paused, readyState: v.readyState,
                               networkState: v.networkState, error: v.error && v.error.code, buffered: ranges}); }""")


def a_recording(site: Site) -> str:
    """The newest recording of the archive (relative path); a short push from the host makes one if none is there."""
    def newest() -> str:
        return ssh(site, f"cd {ARCHIVE_DIR} && ls */{CHANNEL}-*.mp4 2>/dev/null | sort | tail -1").strip()

    if not newest():
        start_host_push(site, 6)
        assert wait_for(lambda: bool(newest()), 90, step=2), "a push from the host made no recording"
    return newest()


def test_short_retention_removes_old_recording(site: Site) -> None:
    def page_text(path: str) -> str:
        return ssh(site, f"cat {ARCHIVE_DIR}/{path}")

    recent = a_recording(site)
    old_day = dt.date.today() - dt.timedelta(days=RETENTION_DAYS + 7)
    old = f"{old_day:%Y-%m-%d}/{CHANNEL}-{old_day:%Y-%m-%d}T18-30-00.mp4"
    ssh(site, f"cd {ARCHIVE_DIR} && runuser -u www-data -- mkdir -p {old_day:%Y-%m-%d} && "
              f"runuser -u www-data -- cp {recent} {old} && "
              "runuser -u www-data -- python3 /usr/local/lib/anl-streaming/archive.py pages")
    assert old in page_text("index.html") and old in page_text("en.html")

    ssh(site, "systemctl start anl-streaming-retention.service")
    assert site.host.ssh(f"test -e {ARCHIVE_DIR}/{old}").returncode != 0, "the old recording was kept"
    assert site.host.ssh(f"test -d {ARCHIVE_DIR}/{old_day:%Y-%m-%d}").returncode != 0, "its empty folder was kept"
    assert old not in page_text("index.html") and old not in page_text("en.html")
    assert recent in page_text("index.html"), "the retention job removed a recent recording"
    assert re.search(rf"{RETENTION_DAYS}\s+jours", page_text("index.html"))
