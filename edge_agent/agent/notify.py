"""systemd's notify protocol over $NOTIFY_SOCKET: READY=1, WATCHDOG=1, STATUS=…, STOPPING=1.

A few lines over a datagram socket, no dependency. Everything is a no-op when the agent does
not run under systemd (no $NOTIFY_SOCKET). `watchdog()` may be called often: it sends at most
every half watchdog interval ($WATCHDOG_USEC). The service's supervisor calls it only while every
thread of the agent is alive (service.py), so a hung inference or a dead thread gets the agent
restarted by systemd, and a camera that is merely down does not.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time

DEFAULT_WATCHDOG_S = 30.0


def watchdog_interval_s() -> float | None:
    """The watchdog interval systemd asked for, or None when there is none for this process."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 1e6
    except ValueError:
        return None


class Notifier:
    def __init__(self, socket_path: str | None = None) -> None:
        path = socket_path if socket_path is not None else os.environ.get("NOTIFY_SOCKET", "")
        self._address: str | bytes | None = None
        if path:
            # an abstract socket is written with a leading '@'
            self._address = "\0" + path[1:] if path.startswith("@") else path
        self._sock: socket.socket | None = None
        interval = watchdog_interval_s()
        self._ping_every_s = (interval or DEFAULT_WATCHDOG_S) / 2
        self._last_ping = 0.0
        self._last_status = ""

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def send(self, text: str) -> None:
        if self._address is None:
            return
        if self._sock is None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        with contextlib.suppress(OSError):  # systemd went away (shutdown): nothing to tell
            self._sock.sendto(text.encode(), self._address)

    def ready(self) -> None:
        self.send("READY=1")

    def watchdog(self) -> None:
        now = time.monotonic()
        if now - self._last_ping >= self._ping_every_s:
            self._last_ping = now
            self.send("WATCHDOG=1")

    def status(self, text: str) -> None:
        if text != self._last_status:
            self._last_status = text
            self.send(f"STATUS={text}")

    def stopping(self) -> None:
        self.send("STOPPING=1")
