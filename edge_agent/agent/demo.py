"""`edge-agent demo`: the bundled clip through a real mosquitto, printing each event as it arrives.

When `mosquitto` is installed, a private broker is started on a free loopback port (its own
config, anonymous, loopback only) and stopped afterwards; a subscriber prints every event it
receives. Without mosquitto, the demo says so and writes the replay folder only.

When the station's extra is installed too, a ward station (`edge-agent station run`, its own
process, SQLite in OUT/station) archives the demo's events, and the demo ends by printing the
address of its web pages and a login; on a terminal it keeps running until Ctrl-C.

With the `demo` extra (aiosmtpd, as `scripts/demo.sh` installs it), a local SMTP server keeps a
Maildir in OUT/mailbox: the demo pole has an alarm zone over the whole road, the station's
`[notify]` mails each alarm there, and the demo prints the file the first one landed in.
"""

from __future__ import annotations

import importlib.util
import json
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from edge_agent import config, shipped
from edge_agent.agent.demo_mailbox import DemoMailbox, mailbox_installed, show_mail
from edge_agent.agent.loopback import free_port, listening
from edge_agent.agent.progress import Progress
from edge_agent.agent.replay import replay

DEMO_DEVICE = "demo"
WAIT_FOR_BROKER_S = 10.0
WAIT_FOR_EVENTS_S = 15.0
WAIT_FOR_STATION_S = 60.0
WAIT_FOR_FOOTAGE_S = 30.0
# The demo pole watches the whole frame for cars at any hour: the alarm (the "gong") it fires is
# what the station mails to the demo's mailbox.
DEMO_RULES: dict[str, object] = {
    "zones": [{"name": "road", "polygon": [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]}],
    "alarms": [
        {"name": "car-on-the-road", "zone": "road", "labels": ["car"], "start": "00:00", "end": "23:59"}
    ],
}
DEMO_ROLES = ("police", "volunteer", "admin", "resident")


def demo_clip() -> Path:
    clip = shipped("demo") / "car-detection.mp4"
    if clip.is_file():
        return clip
    raise FileNotFoundError("the demo clip demo/car-detection.mp4 is missing from this install")


class LocalBroker:
    """A throw-away mosquitto on 127.0.0.1 for the demo."""

    def __init__(self, binary: str, extra_config: str = "") -> None:
        self.port = free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="edge-agent-demo-")
        conf = Path(self._dir.name) / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n{extra_config}"
        )
        self._proc = subprocess.Popen(
            [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if not listening(self.port, WAIT_FOR_BROKER_S):
            self.stop()
            raise RuntimeError(f"mosquitto did not start on port {self.port}")

    def stop(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
        self._dir.cleanup()


class DemoStation:
    """`edge-agent station run` in its own process on the demo's broker (the agent never imports
    the station's code): SQLite and pictures in OUT/station, one account per role; with a
    mailbox, alarms are mailed to it."""

    def __init__(self, out: Path, broker_port: int, mail_url: str | None = None) -> None:
        self.dir = out / "station"
        shutil.rmtree(self.dir, ignore_errors=True)
        (self.dir / "state").mkdir(parents=True)
        self.port = free_port()
        self.url = f"http://localhost:{self.port}"
        self.password = secrets.token_urlsafe(12)
        self.config = self.dir / "station.toml"
        self.config.write_text(
            'station_id = "demo"\n'
            f'state_dir = "{self.dir / "state"}"\n'
            'log_level = "warning"\n'
            "[[brokers]]\n"
            'name = "demo"\n'
            f'url = "mqtt://127.0.0.1:{broker_port}"\n'
            "[http]\n"
            'host = "127.0.0.1"\n'
            f"port = {self.port}\n"
            "[web]\n"
            f'public_poles = ["{DEMO_DEVICE}"]\n'
            "[footage]\n"
            "ask_every_s = 5\n" + (notify_section(mail_url, self.port) if mail_url else "")
        )
        self.log = (self.dir / "station.log").open("wb")
        database = f"sqlite:///{self.dir / 'state' / 'station.db'}"
        adduser = [sys.executable, "-m", "edge_agent.station.auth", "--database", database]
        for role in DEMO_ROLES:
            subprocess.run(
                [*adduser, role, "--role", role, "--password-stdin"],
                input=f"{self.password}\n".encode(),
                stdout=subprocess.DEVNULL,
                stderr=self.log,
                check=True,
                timeout=120,
            )
        self.proc = subprocess.Popen(
            [*edge_agent_command(), "station", "run", "--config", str(self.config)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + WAIT_FOR_STATION_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"it stopped; see {self.dir / 'station.log'}")
            try:
                with urllib.request.urlopen(f"{self.url}/login", timeout=1) as r:
                    if r.status == 200:
                        time.sleep(1.0)  # its MQTT session subscribes while the page comes up
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"its pages did not answer within {WAIT_FOR_STATION_S:.0f} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


def start_mailbox(out: Path) -> DemoMailbox | None:
    if not mailbox_installed():
        print("demo: no mailbox for the alarm mail (scripts/demo.sh installs aiosmtpd: the `demo` extra)")
        return None
    try:
        return DemoMailbox(out)
    except (RuntimeError, OSError) as exc:
        print(f"demo: {exc}; going on without the alarm mail")
        return None


def notify_section(mail_url: str, http_port: int) -> str:
    return (
        f'[notify]\nbase_url = "http://localhost:{http_port}"\n'
        f'[[notify.channels]]\nname = "demo-mailbox"\nurl = "{mail_url}"\n'
        '[[notify.subscriptions]]\nname = "demo-volunteer"\nchannels = ["demo-mailbox"]\n'
        'kinds = ["alarm"]\n'
    )


def edge_agent_command() -> list[str]:
    script = Path(sys.executable).with_name("edge-agent")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from edge_agent.cli import main; sys.exit(main())"]


def station_installed() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("sqlalchemy", "starlette", "argon2"))


class Printer:
    """Subscribes to the demo device's events and thumbnails and prints each as it arrives."""

    def __init__(self, port: int, prefix: str) -> None:
        self.events: list[dict] = []
        self.thumbnails: dict[str, int] = {}
        self._lock = threading.Lock()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="edge-agent-demo-viewer")
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.subscribe(f"{prefix}/{DEMO_DEVICE}/+/events", qos=1)
        self._client.subscribe(f"{prefix}/{DEMO_DEVICE}/+/thumbnails/+", qos=1)
        self._client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            if "/thumbnails/" in msg.topic:
                self.thumbnails[msg.topic.rsplit("/", 1)[-1]] = len(msg.payload)
                return
            event = json.loads(msg.payload)
            self.events.append(event)
        thumb = self.thumbnails.get(event["id"])
        extra = f"thumbnail {thumb / 1024:.0f} kB" if thumb and event["type"] == "start" else ""
        if event["type"] == "end":
            extra = f"{event.get('duration_s') or 0:.1f} s, top score {event.get('top_score') or 0:.2f}"
        print(
            f"  [mqtt] {event['start'][11:23]} {event['type']:<6} {event['label']:<10} "
            f"score {event['score']:.2f}  {event['id']}  {extra}",
            flush=True,
        )

    def stop(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def run_demo(out: Path, with_station: Callable[[str, str], None] | None = None) -> int:
    """The demo; `with_station(url, password)` runs while the station is still up (screenshots)."""
    clip = demo_clip()
    binary = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None
    )
    broker: LocalBroker | None = None
    printer: Printer | None = None
    station: DemoStation | None = None
    mailbox: DemoMailbox | None = None
    overrides: dict[str, object] = {"device_id": DEMO_DEVICE, "state_dir": str(out / "state"), **DEMO_RULES}
    if binary:
        broker = LocalBroker(binary)
        overrides["mqtt"] = {"url": f"mqtt://127.0.0.1:{broker.port}"}
        if station_installed():
            mailbox = start_mailbox(out)
            try:
                station = DemoStation(out, broker.port, mailbox.url if mailbox else None)
                print(f"demo: ward station started ({station.url}), archiving every message")
            except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
                print(f"demo: the ward station did not start ({exc}); going on without it")
        else:
            print("demo: no ward station (install it with: pip install 'edge-agent[station]')")
        print(f"demo: mosquitto started on 127.0.0.1:{broker.port}; events as they arrive:")
    else:
        print(
            "demo: mosquitto is not installed (sudo apt install mosquitto), so nothing is published; "
            f"the events are written to {out}/ only"
        )
    settings = config.load(None, overrides=overrides)
    try:
        if broker is not None:
            printer = Printer(broker.port, settings.mqtt.prefix)
        progress = Progress(0, label="demo")
        result = replay(
            settings,
            clip,
            out,
            on_start=lambda n: setattr(progress, "total", n),
            on_frame=lambda done, events: progress.update(done, f"{events} events"),
        )
        progress.close(f"{result.events} events")
        if printer is not None:
            deadline = time.monotonic() + WAIT_FOR_EVENTS_S
            while len(printer.events) < result.event_messages and time.monotonic() < deadline:
                time.sleep(0.1)
            print(
                f"demo: {len(printer.events)} of {result.event_messages} event messages arrived "
                f"through the broker, {len(printer.thumbnails)} thumbnails"
            )
        print(f"demo: {result.events} events from {result.frames} frames of {clip.name}")
        print(f"demo: look at {out}/summary.png (contact sheet), {out}/events.jsonl and {out}/thumbnails/")
        if mailbox is not None:
            show_mail(mailbox)
        if station is not None:
            footage = start_footage(settings, clip, out, station)
            try:
                show_station(station, with_station)
            finally:
                if footage is not None:
                    footage.stop()
    finally:
        if printer is not None:
            printer.stop()
        if station is not None:
            station.stop()
        if mailbox is not None:
            mailbox.stop()
        if broker is not None:
            broker.stop()
    sys.stdout.flush()
    return 0


def start_footage(settings: config.Settings, clip: Path, out: Path, station: DemoStation) -> Any:
    """The demo pole's footage for the station to pull (the alarms' clips by themselves)."""
    from edge_agent.agent.demo_footage import DemoFootage

    try:
        footage = DemoFootage(settings, clip, out).start()
    except Exception as exc:  # the demo goes on without clips; it says why
        print(f"demo: no footage for the station ({type(exc).__name__}: {exc})")
        return None
    pulled = station.dir / "state" / "footage"
    deadline = time.monotonic() + WAIT_FOR_FOOTAGE_S
    while time.monotonic() < deadline and not any(pulled.rglob("*.mp4")):
        time.sleep(0.5)
    time.sleep(2.0)
    n = len([p for p in pulled.rglob("*.mp4") if not p.name.endswith("mismatch.mp4")])
    print(
        f"demo: the pole recorded {footage.segments} segments of the clip, signed with its key "
        f"{footage.key.fingerprint}; the station pulled {n} of them for the alarms' events "
        "(each event's page plays its clip; 'Lấy video' asks for any other)"
    )
    return footage


def show_station(station: DemoStation, with_station: Callable[[str, str], None] | None) -> None:
    time.sleep(2.0)  # the station acknowledges after it has stored: let the last ones land
    print(f"demo: the ward station's pages: open {station.url}")
    print(
        f"demo: log in as police (search, cases), volunteer (fleet), admin (audit) or resident (wall), "
        f"password {station.password}"
    )
    sys.stdout.flush()
    if with_station is not None:
        with_station(station.url, station.password)
    elif sys.stdin.isatty() and sys.stdout.isatty():
        print("demo: the station and the broker keep running; press Ctrl-C to stop them")
        try:
            while station.proc.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            print()
