"""Checks of the streaming plugin (live broadcast of the municipal council).

Each check's docstring gives its one-line explanation (first line) and a
remediation hint (the ``Hint:`` line). Checks marked ``live`` (``anl-stack
verify streaming --live-test``) push a short test pattern with ffmpeg *from
the host itself* to 127.0.0.1, so they work against any commune's server;
the stream key is read on the host and never passes through this process.
A test push is named beforehand in TEST_PUSHES: its recording never appears
on the public archive pages, and it is deleted when the checks end.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import time
import uuid
from typing import Any

import pytest

KEYS_DIR = "/etc/anl-streaming/keys"
HLS_DIR = "/var/lib/anl-streaming/hls"
ARCHIVE_DIR = "/var/lib/anl-streaming/archive"
TEST_PUSHES = "/var/lib/anl-streaming/test-pushes"
LIB_DIR = "/usr/local/lib/anl-streaming"
WEB_ROOT = "/var/www/anl-streaming"
#: Longer than the wait for the playlist (PLAYLIST_WAIT) plus the checks that read the live
#: stream: a push that ended first leaves a playlist whose segments are already cleaned up.
PLAYLIST_WAIT = 30
PUSH_SECONDS = PLAYLIST_WAIT + 15

# Fetches a URL from the host itself (through its own nginx, with the public
# name as SNI and Host) and prints status, headers and the body's start.
_FETCH = r"""
import base64, json, socket, ssl, sys, http.client
domain, path, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
ctx = ssl._create_unverified_context()
class Conn(http.client.HTTPSConnection):
    def connect(self):
        sock = socket.create_connection(("127.0.0.1", 443), timeout=10)
        self.sock = ctx.wrap_socket(sock, server_hostname=domain)
conn = Conn(domain, 443, context=ctx, timeout=10)
conn.request("GET", path, headers={"Host": domain})
r = conn.getresponse()
body = r.read()
print(json.dumps({"status": r.status, "headers": {k.lower(): v for k, v in r.getheaders()},
                  "length": len(body), "body": base64.b64encode(body[:limit]).decode()}))
"""


def _run(host: Any, command: str) -> str:
    result = host.run(command)
    assert result.rc == 0, f"`{command[:120]}` failed (rc {result.rc}): {result.stderr.strip()[:300]}"
    return str(result.stdout)


def fetch(host: Any, domain: str, path: str, limit: int = 65536) -> dict[str, Any]:
    out = _run(host, f"python3 -c {shlex.quote(_FETCH)} {shlex.quote(domain)} {shlex.quote(path)} {limit}")
    answer = json.loads(out)
    answer["body"] = base64.b64decode(answer["body"])
    return answer


@pytest.fixture(scope="module")
def channels(plugin_vars: dict[str, Any]) -> list[str]:
    return [c["name"] for c in plugin_vars["streaming_channels"]]


@pytest.fixture(scope="module")
def domain(plugin_vars: dict[str, Any]) -> str:
    return str(plugin_vars["streaming_domain"])


def test_nginx_running(host: Any) -> None:
    """nginx, which receives the stream and serves the player, is running and enabled.

    Hint: `systemctl status nginx` and `nginx -t` on the host; re-run the deploy.
    """
    service = host.service("nginx")
    assert service.is_running, "nginx is not running"
    assert service.is_enabled, "nginx is not enabled at boot"


def test_rtmp_module_loaded(host: Any) -> None:
    """nginx loads the RTMP module and the streaming configuration is valid.

    Hint: install libnginx-mod-rtmp and check /etc/nginx/modules-enabled/50-mod-rtmp.conf, then `nginx -t`.
    """
    dump = _run(host, "nginx -T 2>/dev/null")
    assert re.search(r"^\s*load_module\s+\S*ngx_rtmp_module\.so;", dump, re.M), "ngx_rtmp_module is not loaded"
    assert re.search(r"^\s*application live \{", dump, re.M), "no RTMP application `live` in nginx's configuration"


def test_rtmp_port_listening(host: Any) -> None:
    """The RTMP ingest listens on port 1935 for the council room's encoder.

    Hint: the rtmp block is in /etc/nginx/anl-main.d/streaming-rtmp.conf; reload nginx.
    """
    assert host.socket("tcp://0.0.0.0:1935").is_listening, "nothing listens on tcp/1935"


def test_stream_keys_private(host: Any, channels: list[str]) -> None:
    """Each channel has its own stream key, readable by root only.

    Hint: re-run the deploy; keys live in /etc/anl-streaming/keys/CHANNEL (mode 0600) and the check in
    /etc/nginx/conf.d/anl-streaming-publish.conf (mode 0600).
    """
    for name in [f"{KEYS_DIR}/{c}" for c in channels] + ["/etc/nginx/conf.d/anl-streaming-publish.conf"]:
        file = host.file(name)
        assert file.exists, f"{name} is missing"
        assert file.user == "root" and file.mode & 0o077 == 0, f"{name} is readable by others (mode {oct(file.mode)})"


def test_player_page_https(host: Any, domain: str) -> None:
    """The public player page answers over HTTPS in French and English with the security headers.

    Hint: check the vhost /etc/nginx/sites-enabled/anl-streaming.conf and the web role's headers snippet.
    """
    for path, lang in (("/", "fr"), ("/en/", "en")):
        page = fetch(host, domain, path)
        assert page["status"] == 200, f"{path}: HTTP {page['status']}"
        headers = page["headers"]
        for name in ("strict-transport-security", "x-content-type-options", "content-security-policy"):
            assert name in headers, f"{path}: no {name} header"
        body = page["body"].decode("utf-8", "replace")
        assert f'<html lang="{lang}">' in body, f"{path}: page language is not {lang}"
        assert "<video" in body and "hls.min.js" in body, f"{path}: no video player"


def test_hls_js_served(host: Any, domain: str) -> None:
    """The hls.js player library is served by the site itself (no third-party host).

    Hint: the artifact role pushes hls.js; run `anl-stack artifacts fetch streaming` then re-deploy.
    """
    page = fetch(host, domain, "/assets/hls.min.js", limit=16)
    assert page["status"] == 200 and page["length"] > 10000, f"hls.min.js: HTTP {page['status']}, {page['length']} bytes"


def test_retention_timer_active(host: Any) -> None:
    """The archive retention job is scheduled.

    Hint: `systemctl enable --now anl-streaming-retention.timer`.
    """
    timer = host.service("anl-streaming-retention.timer")
    assert timer.is_enabled and timer.is_running, "anl-streaming-retention.timer is not active"


# --- live checks: a real test pattern pushed from the host ------------------

def _push_command(channel: str, seconds: int, key_expr: str) -> str:
    return (
        f"ffmpeg -nostdin -loglevel error -re -f lavfi -i testsrc=size=640x360:rate=25 "
        f"-f lavfi -i sine=frequency=440 -t {seconds} -c:v libx264 -preset ultrafast -tune zerolatency "
        f"-pix_fmt yuv420p -g 50 -c:a aac -b:a 64k -f flv \"rtmp://127.0.0.1/live/{key_expr}\""
    )


def _wait(predicate: Any, timeout: float, step: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def _test_recordings(host: Any, channel: str, started: int) -> list[str]:
    """The test push's recordings (paths under the archive), oldest first."""
    out = host.run(f"find {ARCHIVE_DIR} -name '{channel}-*.mp4' -newermt @{started - 1} -printf '%P\\n'")
    return sorted(out.stdout.split())


@pytest.fixture(scope="module")
def live_push(host: Any, channels: list[str], domain: str) -> Any:
    """Push the first channel's test pattern for PUSH_SECONDS from the host itself.

    The push is named in TEST_PUSHES first, so that its recording is never listed on the
    archive pages; when the checks end it is deleted. If it never arrives, the name stays
    and the daily retention run deletes both a day later.
    """
    channel = channels[0]
    unit = f"anl-streaming-verify-{uuid.uuid4().hex[:8]}"
    started = int(_run(host, "date +%s").strip())
    marker = f"{TEST_PUSHES}/{channel}-{started}"
    _run(host, f"touch {marker}")
    # The key is read by the shell on the host: it never reaches this process.
    inner = _push_command(channel, PUSH_SECONDS, f"$(cat {KEYS_DIR}/{channel})")
    _run(host, f"systemd-run --quiet --unit {unit} --collect /bin/sh -c {shlex.quote(inner)}")
    playlist = f"/hls/{channel}.m3u8"
    ready = _wait(lambda: fetch(host, domain, playlist, 16)["status"] == 200, PLAYLIST_WAIT)
    yield {"channel": channel, "unit": unit, "started": started, "ready": ready, "playlist": playlist}
    host.run(f"systemctl stop {unit} 2>/dev/null")
    if ready and _wait(lambda: bool(_test_recordings(host, channel, started)), 60):
        for relative in _test_recordings(host, channel, started):
            mp4 = f"{ARCHIVE_DIR}/{relative}"
            host.run(f"rm -f {shlex.quote(mp4)} {shlex.quote(mp4.removesuffix('.mp4') + '.json')}")
        host.run(f"rm -f {marker} && runuser -u \"$(stat -c %U {ARCHIVE_DIR})\" -- "
                 f"/usr/bin/python3 {LIB_DIR}/archive.py pages")


@pytest.mark.live
def test_live_playlist(host: Any, domain: str, live_push: dict[str, Any]) -> None:
    """While the encoder pushes, the HLS playlist answers with the HLS content type and short caching.

    Hint: check `journalctl -u nginx`, /var/log/nginx/error.log and that /var/lib/anl-streaming/hls is writable by www-data.
    """
    assert live_push["ready"], f"the playlist did not appear within {PLAYLIST_WAIT} s of the push"
    answer = fetch(host, domain, live_push["playlist"])
    assert answer["status"] == 200
    assert answer["headers"].get("content-type") == "application/vnd.apple.mpegurl"
    assert "no-cache" in answer["headers"].get("cache-control", "")
    assert answer["body"].startswith(b"#EXTM3U"), "the playlist does not start with #EXTM3U"


@pytest.mark.live
def test_live_segments_download(host: Any, domain: str, live_push: dict[str, Any]) -> None:
    """The playlist's video segments download as MPEG-TS.

    Hint: the segments are in /var/lib/anl-streaming/hls; check the /hls/ locations of the vhost.
    """
    assert live_push["ready"], "no playlist"
    text = fetch(host, domain, live_push["playlist"])["body"].decode()
    segments = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert segments, "the playlist lists no segment"
    segment = fetch(host, domain, "/hls/" + segments[-1].rsplit("/", 1)[-1], limit=188)
    assert segment["status"] == 200, f"segment: HTTP {segment['status']}"
    assert segment["headers"].get("content-type") == "video/mp2t"
    assert segment["length"] > 0 and segment["body"][:1] == b"\x47", "the segment is not MPEG-TS"


@pytest.mark.live
def test_live_wrong_key_refused(host: Any, live_push: dict[str, Any]) -> None:
    """A push with a wrong stream key is refused.

    Hint: the key check is /etc/nginx/conf.d/anl-streaming-publish.conf (on_publish); re-run the deploy.
    """
    wrong = "wrong" + uuid.uuid4().hex
    result = host.run(f"timeout 20 {_push_command('x', 10, wrong)}")
    assert result.rc not in (0, 124), "the push with a wrong key was accepted"
    listing = _run(host, f"ls -A {HLS_DIR}")
    assert wrong not in listing, "the refused stream produced HLS files"


@pytest.mark.live
def test_live_key_never_public(host: Any, domain: str, channels: list[str], live_push: dict[str, Any]) -> None:
    """No public file, file name, playlist or page contains a stream key.

    Hint: the stream must be renamed by on_publish (302 to the channel name) before HLS and recording.
    """
    assert live_push["ready"], "no playlist"
    # grep runs on the host with the keys as patterns: they never reach this process.
    patterns = " ".join(f"-f {KEYS_DIR}/{c}" for c in channels)
    found = host.run(
        f"(find {HLS_DIR} {ARCHIVE_DIR} {WEB_ROOT} -print; cat {HLS_DIR}/*.m3u8 "
        f"{WEB_ROOT}/*.html {WEB_ROOT}/en/*.html {ARCHIVE_DIR}/*.html) 2>/dev/null | grep -c -F {patterns}"
    )
    assert found.rc == 1 and found.stdout.strip() == "0", "a stream key appears in a public file or file name"


@pytest.mark.live
def test_live_recording_archived(host: Any, domain: str, live_push: dict[str, Any]) -> None:
    """When the push ends, the session becomes a valid MP4 in a dated folder and the archive pages are rebuilt.

    The test push itself is not listed on them (it is named as a test) and is deleted when the checks end.
    Hint: see `journalctl -u nginx` for record-done errors; the FLV stays in /var/lib/anl-streaming/recordings if ffmpeg failed.
    """
    assert live_push["ready"], "no playlist"
    unit = live_push["unit"]
    _wait(lambda: host.run(f"systemctl is-active --quiet {unit}").rc != 0, PUSH_SECONDS + 30)
    channel = live_push["channel"]

    def newest() -> str:
        found = _test_recordings(host, channel, live_push["started"])
        return found[-1] if found else ""

    assert _wait(lambda: bool(newest()), 60), "no MP4 appeared in the archive after the push ended"
    relative = newest()
    assert re.fullmatch(rf"\d{{4}}-\d{{2}}-\d{{2}}/{channel}-\d{{4}}-\d{{2}}-\d{{2}}T\d{{2}}-\d{{2}}-\d{{2}}\.mp4", relative), relative
    probe = json.loads(_run(host, f"ffprobe -v error -print_format json -show_format -show_streams {ARCHIVE_DIR}/{relative}"))
    assert "mp4" in probe["format"]["format_name"], probe["format"]["format_name"]
    assert any(s["codec_type"] == "video" for s in probe["streams"]), "the recording has no video stream"
    assert float(probe["format"]["duration"]) >= PUSH_SECONDS / 2, "the recording is much shorter than the push"
    # record-done rebuilds the pages just after moving the MP4 in place.
    newer = f"test {ARCHIVE_DIR}/index.html -nt {ARCHIVE_DIR}/{relative} -a {ARCHIVE_DIR}/en.html -nt {ARCHIVE_DIR}/{relative}"
    assert _wait(lambda: host.run(newer).rc == 0, 30), "the archive pages were not rebuilt after the recording"
    for page in ("/archives/", "/archives/en.html"):
        answer = fetch(host, domain, page)
        assert answer["status"] == 200, f"{page}: HTTP {answer['status']}"
        assert relative.encode() not in answer["body"], f"{page} lists the test push {relative} as a session"
    mp4 = fetch(host, domain, "/archives/" + relative, limit=16)
    assert mp4["status"] == 200 and mp4["headers"].get("content-type") == "video/mp4"
