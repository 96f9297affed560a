"""A network camera that cannot be opened is reported with its real cause, without its password.

FFmpeg (inside OpenCV) is pointed at a small RTSP stand-in on loopback that answers every request
with a fixed status (401, 404), at a closed port and at a name that cannot resolve.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator

import pytest

from edge_agent.sources.base import SourceError
from edge_agent.sources.diagnose import classify
from edge_agent.sources.opencv import CaptureGrabber
from tests.broker import free_port

PASSWORD = "Wr0ng-pass-4321"


class RtspStandIn:
    """Answers every RTSP request with `status` (e.g. "401 Unauthorized")."""

    def __init__(self, status: str) -> None:
        self.status = status
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while chunk := conn.recv(4096):
                buf += chunk
                while b"\r\n\r\n" in buf:
                    request, buf = buf.split(b"\r\n\r\n", 1)
                    found = re.search(rb"CSeq: *(\d+)", request)
                    cseq = found.group(1) if found else b"1"
                    conn.sendall(
                        f"RTSP/1.0 {self.status}\r\nCSeq: {cseq.decode()}\r\n"
                        'WWW-Authenticate: Basic realm="camera"\r\n\r\n'.encode()
                    )

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def camera_401() -> Iterator[RtspStandIn]:
    server = RtspStandIn("401 Unauthorized")
    yield server
    server.close()


@pytest.fixture
def camera_404() -> Iterator[RtspStandIn]:
    server = RtspStandIn("404 Not Found")
    yield server
    server.close()


def open_error(url: str) -> str:
    grabber = CaptureGrabber(url, 640, 480, 10, 120)
    with pytest.raises(SourceError) as info:
        grabber.open()
    return str(info.value)


def test_wrong_password_is_named(camera_401: RtspStandIn) -> None:
    message = open_error(f"rtsp://admin:{PASSWORD}@127.0.0.1:{camera_401.port}/stream1")
    assert "refused the user/password" in message and "401" in message
    assert PASSWORD not in message and "admin:***@" in message


def test_wrong_path_is_named(camera_404: RtspStandIn) -> None:
    message = open_error(f"rtsp://127.0.0.1:{camera_404.port}/nope")
    assert "no stream at that path" in message


def test_closed_port_is_named() -> None:
    message = open_error(f"rtsp://admin:{PASSWORD}@127.0.0.1:{free_port()}/stream1")
    assert "connection refused" in message and PASSWORD not in message


def test_unknown_reasons_fall_back_to_the_plain_message() -> None:
    assert classify("something FFmpeg never said") is None
    assert "resolved" in (classify("Temporary failure in name resolution") or "")


def test_numbers_in_ffmpeg_addresses_are_no_status() -> None:
    noise = "[tcp @ 0x55d4403d8800] Connection to tcp://127.0.0.1:40340?timeout=0 failed: Connection refused"
    assert "connection refused" in (classify(noise) or "")
    assert "refused the user" in (classify("[rtsp @ 0x5] method OPTIONS failed: 401 (Unauthorized)") or "")
