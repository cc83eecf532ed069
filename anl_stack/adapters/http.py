"""Downloads over HTTP(S): resume with Range, retries, progress reported to the caller.

A download goes to a ``.part`` file next to its destination. When the
connection drops, the next attempt asks for the missing bytes only
(``Range: bytes=N-``); a server that ignores Range answers 200 and the file
starts again. Nothing here decides whether the bytes are trustworthy: the
caller checks them before keeping them.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from anl_stack import __version__

CHUNK = 256 * 1024
USER_AGENT = f"anl-stack/{__version__}"


class DownloadError(Exception):
    """The download could not complete after every retry."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


#: ``progress(label, bytes_done, bytes_total_or_None)``: how a caller follows a download.
ProgressHook = Callable[[str, int, "int | None"], None]


def download(
    url: str,
    dest: Path,
    *,
    retries: int = 5,
    timeout: float = 30.0,
    backoff: float = 1.0,
    progress: ProgressHook | None = None,
    on_attempt: Callable[[int, int], None] | None = None,
) -> Path:
    """Download ``url`` to ``dest`` (atomically), resuming a partial ``dest.part``.

    Raises DownloadError after ``retries`` failed attempts, or at once on a
    4xx answer other than 408/429 (retrying cannot help).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    last_reason = "no attempt made"
    report = progress or (lambda _label, _done, _total: None)
    for attempt in range(1, retries + 1):
        offset = part.stat().st_size if part.exists() else 0
        if on_attempt:
            on_attempt(attempt, offset)
        try:
            if _attempt(url, part, offset, timeout, lambda done, total: report(dest.name, done, total)):
                part.replace(dest)
                return dest
            last_reason = "connection closed before the end of the file"
        except urllib.error.HTTPError as error:
            last_reason = f"HTTP {error.code} {error.reason}"
            if error.code == 416 and offset:
                part.unlink(missing_ok=True)  # our partial file is longer than theirs: start again
            elif 400 <= error.code < 500 and error.code not in (408, 429):
                raise DownloadError(url, last_reason) from None
        except (urllib.error.URLError, OSError, TimeoutError) as error:
            last_reason = str(getattr(error, "reason", error))
        if attempt < retries:
            time.sleep(backoff * attempt)
    raise DownloadError(url, f"{last_reason} (after {retries} attempts)")


def _attempt(url: str, part: Path, offset: int, timeout: float, report: Callable[[int, int | None], None]) -> bool:
    """One request; True when the whole file is in ``part``."""
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (URLs come from manifests)
        status = getattr(response, "status", 200)
        length = response.headers.get("Content-Length")
        if offset and status == 206:
            mode, done = "ab", offset
        else:
            mode, done = "wb", 0  # no Range support: start again
        total = int(length) + done if length is not None else None
        with part.open(mode) as out:
            while True:
                try:
                    chunk = response.read(CHUNK)
                except Exception:  # http.client.IncompleteRead and friends: keep what we have
                    out.flush()
                    return False
                if not chunk:
                    break
                out.write(chunk)
                done += len(chunk)
                report(done, total)
    return total is None or done >= total
