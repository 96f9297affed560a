"""Is the system clock synchronised? A Pi has no real-time clock: until NTP answers, its time
is whatever was saved at the last shutdown, and every event says so (`clock.synced`)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from pathlib import Path

TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")
STA_UNSYNC = 0x0040
TIME_ERROR = 5


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h> (Linux): the fields up to `tai`, then padding.
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long),
        ("time_usec", ctypes.c_long),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_pad", ctypes.c_int * 11),
    ]


@functools.cache
def _libc() -> ctypes.CDLL:
    """The C library, found once: `find_library` runs `ldconfig -p` in a child process each time."""
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _adjtimex_synced() -> bool | None:
    """The kernel's view (read-only adjtimex): None when it cannot be asked."""
    try:
        libc = _libc()
        tx = _Timex()
        state = libc.adjtimex(ctypes.byref(tx))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != TIME_ERROR and not tx.status & STA_UNSYNC


def synced() -> bool:
    """True when systemd-timesyncd says so, or else when the kernel's NTP state is synchronised."""
    if TIMESYNC_FLAG.exists():
        return True
    return bool(_adjtimex_synced())
