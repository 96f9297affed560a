"""Why a network camera cannot be opened, in words a technician can act on.

OpenCV's `VideoCapture` only says "not opened"; FFmpeg underneath knows why (401 Unauthorized,
404, connection refused, a name that does not resolve, a timeout) and prints it on stderr. So
when a stream URL fails, the same open runs once in a child process whose stderr we read and
classify. It costs a process start (about a second on a Pi), so it runs only on a failure and at
most every `EVERY_S` per camera; in between the last reason is reused.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time

from edge_agent.contract import redact

EVERY_S = 300.0
TIMEOUT_S = 30.0

_CODE = """
import sys
import cv2
cap = cv2.VideoCapture(sys.argv[1], cv2.CAP_FFMPEG)
print("opened" if cap.isOpened() else "closed")
"""

# (pattern in FFmpeg's output, what to tell the technician); the first match wins.
REASONS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"\bUnauthorized\b", re.I),
        "the camera refused the user/password (401 Unauthorized): check them in camera.source",
    ),
    (
        re.compile(r"\bForbidden\b", re.I),
        "the camera refused this user (403 Forbidden): give the user the right to view the stream",
    ),
    (
        re.compile(r"\bNot Found\b", re.I),
        "the camera has no stream at that path (404 Not Found): check the path in camera.source",
    ),
    (
        re.compile(r"Connection refused", re.I),
        "nothing accepts connections at that address and port (connection refused): "
        "check the camera's IP address and RTSP port",
    ),
    (
        re.compile(r"Name or service not known|Temporary failure in name resolution|resolve", re.I),
        "the camera's host name cannot be resolved: use its IP address or fix the name",
    ),
    (
        re.compile(r"timed out|Timeout|No route to host|Network is unreachable", re.I),
        "no answer from the camera (timed out or no route): check that it is powered and on the network",
    ),
]


def classify(ffmpeg_output: str) -> str | None:
    # FFmpeg prefixes its lines with "[rtsp @ 0x55d4403…]": a number in an address is no status.
    ffmpeg_output = re.sub(r"0x[0-9a-fA-F]+", "", ffmpeg_output)
    for pattern, reason in REASONS:
        if pattern.search(ffmpeg_output):
            return reason
    return None


def probe_stream(url: str, timeout_s: float = TIMEOUT_S) -> str | None:
    """The reason `url` cannot be opened, from FFmpeg's own messages; None when unknown."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CODE, url],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            errors="replace",
        )
    except subprocess.TimeoutExpired:
        return classify("timed out")
    except OSError:
        return None
    if done.stdout.strip() == "opened":
        return None
    return classify(done.stderr)


class Diagnosis:
    """The last reason for one camera, refreshed at most every `every_s` seconds."""

    def __init__(self, url: str, every_s: float = EVERY_S) -> None:
        self.url = url
        self.every_s = every_s
        self._at = -float("inf")
        self._reason: str | None = None

    def reason(self) -> str:
        now = time.monotonic()
        if now - self._at >= self.every_s:
            self._at = now
            self._reason = probe_stream(self.url)
        return self._reason or "cannot be opened (unplugged, wrong URL, or busy)"


def failure(url: str, diagnosis: Diagnosis | None) -> str:
    """The one-line message for a camera that cannot be opened, without its password."""
    why = diagnosis.reason() if diagnosis is not None else "cannot be opened (unplugged, wrong URL, or busy)"
    return redact(f"camera {url}: {why}")
