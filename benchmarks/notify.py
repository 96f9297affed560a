"""Alerts benchmark: the gong's latency and cost through a real mosquitto and the station.

    python benchmarks/notify.py [--alarms 200] [--storm 10000] [--poles 100]

- latency from each alarm's publish by the pole (its `time`, on the pole's clock) to the message
  accepted by a local SMTP server (aiosmtpd) and a JSON webhook receiver, p50 and p95 over
  `--alarms` alarms sent at a steady 5 a second, each with its event and a 20 kB thumbnail (the
  mail waits for it);
- the station process's CPU seconds per 1,000 alarms (ingest and alerts together);
- a storm: `--storm` alarms from `--poles` poles published as fast as one client can (about a
  minute's worth): messages each subscription received against its limit, every alarm in the
  outbox (nothing lost), and event messages ingested per second with alerts on vs off.
The station runs as its own process (`edge-agent station run`), on SQLite. Writes
benchmarks/results/notify.json.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from common import table, timing, write
from sqlalchemy import create_engine, func, select

from edge_agent.agent.demo import LocalBroker
from edge_agent.station.store.notify_tables import notify_outbox
from edge_agent.station.store.schema import event_messages
from tests.broker import free_port
from tests.station.factory import alarm, event, thumbnail
from tests.station.receivers import HttpReceiver, SmtpReceiver

EVENT_LINK = re.compile(r"/events/([a-z0-9_-]+)/([a-z0-9_-]+-\d{6})")


# The shipped station broker's queue limits (deploy/station/mosquitto.conf): a million queued
# messages per client; mosquitto's default of 1,000 would drop most of a storm on the broker,
# before the station sees it.
QUEUE_LIMITS = "max_queued_messages 1000000\nmax_queued_bytes 3000000000\nmax_inflight_messages 1000\n"


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except Exception:  # the database may not be there yet
            pass
        time.sleep(0.1)
    return False


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Station:
    def __init__(self, root: Path, broker_port: int, notify: str) -> None:
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        self.db = f"sqlite:///{root / 'state' / 'station.db'}"
        cfg = root / "station.toml"
        cfg.write_text(
            f'station_id = "bench"\nstate_dir = "{root / "state"}"\nlog_level = "warning"\n'
            f'[[brokers]]\nname = "ward"\nurl = "mqtt://127.0.0.1:{broker_port}"\nusername = "station"\n'
            f"[http]\nport = {free_port()}\n[ingest]\nthumbnail_wait_s = 30\n{notify}"
        )
        self.log = (root / "station.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edge_agent", "station", "run", "--config", str(cfg)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.engine = create_engine(self.db)
        if not wait_until(lambda: self.count(event_messages) >= 0, 60):
            self.log.close()
            raise SystemExit("the station did not start:\n" + (root / "station.log").read_text()[-2000:])
        time.sleep(2)  # subscribed

    def count(self, table: object, *where: object) -> int:
        with self.engine.connect() as c:
            return int(c.execute(select(func.count()).select_from(table).where(*where)).scalar() or 0)  # type: ignore[arg-type]

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.engine.dispose()
        self.log.close()


def poles_client(port: int) -> mqtt.Client:
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-poles-{os.getpid()}")
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def publish_alarm(client: mqtt.Client, device: str, n: int, with_thumb: bool) -> datetime:
    start = datetime.now(UTC)
    picture = (b"\xff\xd8\xff\xe0" + os.urandom(20 * 1024 - 6) + b"\xff\xd9") if with_thumb else None
    infos = [client.publish(*event(device, n, start=start, thumb=picture, zones=["gate"]), qos=1)]
    if picture is not None:
        infos.append(client.publish(*thumbnail(device, n, picture), qos=1))
    infos.append(client.publish(*alarm(device, n, start), qos=1))
    for info in infos:
        info.wait_for_publish(10)
    return start


def notify_section(smtp: SmtpReceiver, hook: HttpReceiver, max_per_hour: int, group_s: float) -> str:
    return (
        '[notify]\nbase_url = "http://bench.local"\npoll_s = 0.5\n'
        f'[[notify.channels]]\nname = "mail"\nurl = "{smtp.url()}"\n'
        f'[[notify.channels]]\nname = "hook"\nurl = "json://127.0.0.1:{hook.port}/gong"\n'
        '[[notify.subscriptions]]\nname = "officer"\nchannels = ["mail"]\nkinds = ["alarm"]\n'
        f"max_per_hour = {max_per_hour}\ngroup_window_s = {group_s}\n"
        '[[notify.subscriptions]]\nname = "to3"\nchannels = ["hook"]\nkinds = ["alarm"]\n'
        f"max_per_hour = {max_per_hour}\ngroup_window_s = {group_s}\n"
    )


def latency(root: Path, port: int, n_alarms: int) -> dict[str, object]:
    smtp, hook = SmtpReceiver(), HttpReceiver()
    station = Station(root / "latency", port, notify_section(smtp, hook, 10_000, 0))
    client = poles_client(port)
    starts: dict[str, float] = {}
    cpu0 = station.cpu()
    try:
        for i in range(n_alarms):
            device = f"pole{i % 20 + 1}"
            starts[f"{device}-cam0-{i + 1:06d}"] = publish_alarm(client, device, i + 1, True).timestamp()
            time.sleep(0.2)
        ok = wait_until(lambda: len(smtp.messages) >= n_alarms and len(hook.requests) >= n_alarms, 120)
        cpu = station.cpu() - cpu0
    finally:
        client.loop_stop()
        station.stop()
    mail_ms, hook_ms = [], []
    for msg, at in zip(smtp.messages, smtp.arrived, strict=True):
        text = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        m = EVENT_LINK.search(text)
        if m and m[2] in starts:
            mail_ms.append((at - starts[m[2]]) * 1000)
    for r in hook.requests:
        m = EVENT_LINK.search(r.json()["message"])
        if m and m[2] in starts:
            hook_ms.append((r.at - starts[m[2]]) * 1000)
    smtp.close()
    hook.close()
    return {
        "alarms": n_alarms,
        "all_delivered": ok,
        "mail": timing(mail_ms) | {"n": len(mail_ms)},
        "webhook": timing(hook_ms) | {"n": len(hook_ms)},
        "station_cpu_s_per_1000_alarms": round(cpu / n_alarms * 1000, 2),
    }


def storm(root: Path, port: int, n: int, poles: int, notify_on: bool) -> dict[str, object]:
    smtp, hook = SmtpReceiver(), HttpReceiver()
    limit = 30
    section = notify_section(smtp, hook, limit, 300) if notify_on else ""
    station = Station(root / ("storm-on" if notify_on else "storm-off"), port, section)
    client = poles_client(port)
    cpu0 = station.cpu()
    try:
        t0 = time.monotonic()
        for i in range(n):
            device = f"pole{i % poles + 1}"
            client.publish(*event(device, i // poles + 1, start=datetime.now(UTC), zones=["gate"]), qos=1)
            client.publish(*alarm(device, i // poles + 1, datetime.now(UTC)), qos=1)
        published_s = time.monotonic() - t0
        stored = wait_until(lambda: station.count(event_messages) >= n, 600)
        ingest_s = time.monotonic() - t0
        outboxed = True
        if notify_on:
            outboxed = wait_until(
                lambda: station.count(notify_outbox, notify_outbox.c.kind == "alarm") >= 2 * n, 300
            )
            time.sleep(10)  # what is due goes out
        out: dict[str, object] = {
            "alerts": "on" if notify_on else "off",
            "published_s": round(published_s, 1),
            "events_per_s": round(n / ingest_s, 0),
            "all_stored": stored,
            "cpu_s": round(station.cpu() - cpu0, 1),
        }
        if notify_on:
            out |= {
                "all_in_outbox": outboxed,
                "mails": len(smtp.messages),
                "webhook_posts": len(hook.requests),
                "limit_per_hour": limit,
                "alarm_rows": station.count(notify_outbox, notify_outbox.c.kind == "alarm"),
                "grouped": station.count(notify_outbox, notify_outbox.c.state == "grouped"),
            }
    finally:
        client.loop_stop()
        station.stop()
        smtp.close()
        hook.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--alarms", type=int, default=200)
    ap.add_argument("--storm", type=int, default=10_000)
    ap.add_argument("--poles", type=int, default=100)
    args = ap.parse_args()
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        raise SystemExit("mosquitto is not installed (sudo apt install mosquitto)")
    root = Path(tempfile.mkdtemp(prefix="edge-bench-notify-"))
    broker = LocalBroker(binary, QUEUE_LIMITS)
    try:
        lat = latency(root, broker.port, args.alarms)
        print(f"latency over {args.alarms} alarms (event start on the pole → accepted by the receiver):")
        print(
            table(
                [
                    {"receiver": "SMTP", **lat["mail"]},  # type: ignore[dict-item]
                    {"receiver": "webhook", **lat["webhook"]},  # type: ignore[dict-item]
                ],
                ["receiver", "n", "median_ms", "p95_ms"],
            )
        )
        print(f"station CPU per 1,000 alarms (ingest + alerts): {lat['station_cpu_s_per_1000_alarms']} s")
        runs = [storm(root, broker.port, args.storm, args.poles, on) for on in (False, True)]
        print(f"\nstorm: {args.storm} alarms from {args.poles} poles, alerts off vs on:")
        cols = ["alerts", "published_s", "events_per_s", "all_stored", "cpu_s", "mails", "webhook_posts"]
        print(table(runs, [*cols, "limit_per_hour", "alarm_rows", "grouped", "all_in_outbox"]))
        path = write("notify", {"latency": lat, "storm": runs})
        print(f"\nwrote {path}")
    finally:
        broker.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
