"""A real mosquitto running the shipped deploy/station/mosquitto.conf and edge-acl.

Only what must differ on a test machine is rewritten: file paths, ports, the TLS certificate (from
the test CA). Users: pole1, pole2 (created by `station add-pole`'s code) and `station`.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.station.fleet.enrol import add_pole
from tests.broker import Broker, make_ca, mosquitto_binary

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "deploy" / "station"
STATION_USER, STATION_PASSWORD = "station", "pw-station"


class ShippedBroker(Broker):
    passwords: dict[str, str]

    def configure(self) -> None:
        d = self.directory
        passwd = d / "edge-passwd"
        self.passwords = {name: add_pole(name, passwd) for name in ("pole1", "pole2")}
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), STATION_USER, STATION_PASSWORD], check=True)
        self.passwords[STATION_USER] = STATION_PASSWORD
        (d / "edge-acl").write_text((SHIPPED / "edge-acl").read_text())
        self.ca, crt, key = make_ca(d)
        text = (SHIPPED / "mosquitto.conf").read_text()
        swaps = {
            r"^password_file .*$": f"password_file {passwd}",
            r"^acl_file .*$": f"acl_file {d / 'edge-acl'}",
            r"^persistence_location .*$": f"persistence_location {d}/",
            r"^listener 8883$": f"listener {self.tls_port} 127.0.0.1",
            r"^certfile .*$": f"certfile {crt}",
            r"^keyfile .*$": f"keyfile {key}",
            r"^listener 1883 127.0.0.1$": f"listener {self.port} 127.0.0.1",
        }
        for pattern, new in swaps.items():
            text, n = re.subn(pattern, new, text, flags=re.M)
            assert n == 1, f"the shipped config has no line {pattern}"
        head = "user root\n" if os.geteuid() == 0 else ""
        (d / "mosquitto.conf").write_text(head + text + f"log_dest file {d / 'mosquitto.log'}\n")


@pytest.fixture
def shipped_broker(tmp_path: Path) -> Iterator[ShippedBroker]:
    b = ShippedBroker(tmp_path / "shipped-broker", mosquitto_binary())
    b.directory.mkdir()
    b.configure()
    b.start()
    try:
        yield b
    finally:
        b.stop()
