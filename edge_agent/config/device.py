"""The default device id: the Pi's serial number, else the host name."""

from __future__ import annotations

import os
import re
from pathlib import Path


def default_device_id() -> str:
    """The Pi's serial number (from the device tree), else the host name, made a valid id."""
    for path in (
        Path("/sys/firmware/devicetree/base/serial-number"),
        Path("/proc/device-tree/serial-number"),
    ):
        try:
            serial = path.read_bytes().strip(b"\x00\n ").decode("ascii", "replace").lower()
        except OSError:
            continue
        if serial:
            return "pi-" + serial.lstrip("0")[-12:]
    name = re.sub(r"[^a-z0-9_-]", "-", os.uname().nodename.lower())[:64]
    return name or "edge-agent"
