"""A real mosquitto for tests: its own config on free loopback ports, password file, ACL, TLS.

Users: `pole1`/`pw-pole1`, `pole2`/`pw-pole2` (devices: each may write only under `edge/<user>/`),
`viewer`/`pw-viewer` (reads everything, writes commands). A plain listener and a TLS listener
whose certificate is signed by a CA the fixture makes with openssl. `stop()` / `start()` restart
the same broker on the same ports (persistence on), for outage tests; teardown stops exactly
this process.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

USERS = {"pole1": "pw-pole1", "pole2": "pw-pole2", "viewer": "pw-viewer"}
ACL = """\
user viewer
topic read #
topic write edge/+/cmd/#
topic write homeassistant/status

pattern write edge/%u/#
pattern read edge/%u/cmd/#
pattern write homeassistant/device/%u/config
pattern read homeassistant/status
"""


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None
    )
    if found is None:
        pytest.skip("mosquitto is not installed (scripts/test.sh installs it: apt install mosquitto)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_ca(directory: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for 127.0.0.1/localhost signed by it."""
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    key, csr, crt = directory / "server.key", directory / "server.csr", directory / "server.crt"
    ext = directory / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca_crt),
        "-days",
        "2",
        "-subj",
        "/CN=edge-agent test CA",
    )
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        "/CN=localhost",
    )
    run(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca_crt),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-out",
        str(crt),
        "-days",
        "2",
        "-extfile",
        str(ext),
    )
    return ca_crt, crt, key


@dataclass
class Broker:
    directory: Path
    binary: str
    port: int = field(default_factory=free_port)
    tls_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def configure(self) -> None:
        d = self.directory
        passwd = d / "passwd"
        for i, (user, pw) in enumerate(USERS.items()):
            args = ["mosquitto_passwd", "-b", *(["-c"] if i == 0 else []), str(passwd), user, pw]
            subprocess.run(args, check=True, capture_output=True)
        passwd.chmod(0o600)
        (d / "acl").write_text(ACL)
        (d / "acl").chmod(0o600)
        self.ca, crt, key = make_ca(d)
        (d / "mosquitto.conf").write_text(
            ""
            # as root, mosquitto would switch to its own user, which cannot read this folder
            + ("user root\n" if os.geteuid() == 0 else "")
            + f"per_listener_settings false\nallow_anonymous false\n"
            f"password_file {passwd}\nacl_file {d / 'acl'}\n"
            f"persistence true\npersistence_location {d}/\nautosave_interval 1\n"
            f"log_dest file {d / 'mosquitto.log'}\nlog_type all\n"
            f"max_queued_messages 100000\nmax_inflight_messages 100\n"
            f"listener {self.port} 127.0.0.1\n"
            f"listener {self.tls_port} 127.0.0.1\ncafile {self.ca}\ncertfile {crt}\nkeyfile {key}\n"
        )

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self.directory / "mosquitto.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                    raise RuntimeError(f"mosquitto exited: {err}") from None
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def url(self, tls: bool = False) -> str:
        return f"mqtts://127.0.0.1:{self.tls_port}" if tls else f"mqtt://127.0.0.1:{self.port}"

    def log(self) -> str:
        path = self.directory / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""


class Subscriber:
    """A viewer client with a persistent session: keeps receiving across broker restarts."""

    def __init__(self, broker: Broker, topics: list[str], client_id: str = "test-viewer") -> None:
        self.messages: list[mqtt.MQTTMessage] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.username_pw_set("viewer", USERS["viewer"])
        self.client.reconnect_delay_set(1, 2)
        self._topics = topics
        self._subscribed = threading.Event()
        self.client.on_message = self._on_message
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.client.connect("127.0.0.1", broker.port, clean_start=False, properties=props)
        self.client.loop_start()
        assert self._subscribed.wait(10), "subscriber could not subscribe"

    def _on_connect(self, client: mqtt.Client, *_: object) -> None:
        client.subscribe([(t, 1) for t in self._topics])

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(msg)

    def on(self, suffix: str) -> list[mqtt.MQTTMessage]:
        with self._lock:
            return [m for m in self.messages if m.topic.endswith(suffix) or f"/{suffix}/" in m.topic]

    def wait_for(self, predicate: object, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():  # type: ignore[operator]
                return True
            time.sleep(0.1)
        return False

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path / "broker", mosquitto_binary())
    b.directory.mkdir()
    b.configure()
    b.start()
    try:
        yield b
    finally:
        b.stop()
