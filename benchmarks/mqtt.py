"""MQTT delivery benchmark against a real local mosquitto (started here on a free port).

    python benchmarks/mqtt.py

Event latency from `Delivery.publish()` (the pipeline emitting) to a subscriber receiving it,
p50 and p95, at a steady 20 events/s; sustained events per second with a 20 kB thumbnail each
(every message through the SQLite outbox and acknowledged); outbox write cost per message.
Writes benchmarks/results/mqtt.json.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from common import table, timing, write

from edge_agent import config
from edge_agent.agent.demo import LocalBroker
from edge_agent.contract.message import Kind, Message
from edge_agent.delivery.mqtt import Delivery
from edge_agent.delivery.outbox import Outbox

THUMB = os.urandom(20 * 1024)


class Counter:
    def __init__(self, port: int) -> None:
        self.latencies_ms: list[float] = []
        self.events = 0
        self.thumbs = 0
        self.done = threading.Event()
        self.want = 0
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-sub")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("edge/bench/#", qos=1)
        self.client.loop_start()
        time.sleep(0.5)

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        if "/thumbnails/" in msg.topic:
            self.thumbs += 1
            return
        if msg.topic.endswith("/events"):
            body = json.loads(msg.payload)
            self.latencies_ms.append((time.monotonic_ns() - body["t"]) / 1e6)
            self.events += 1
            if self.events >= self.want:
                self.done.set()


def event(topics_events: str, i: int) -> Message:
    body = json.dumps({"id": f"bench-cam0-{i:06d}", "seq": i, "t": time.monotonic_ns()}).encode()
    return Message(topics_events, body, Kind.EVENT)


def main() -> None:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        raise SystemExit("mosquitto is not installed")
    broker = LocalBroker(binary)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as state:
            s = config.load(
                None,
                overrides={
                    "device_id": "bench",
                    "state_dir": state,
                    "mqtt": {"url": f"mqtt://127.0.0.1:{broker.port}"},
                    "outbox": {"flush_interval_s": 0.05},
                },
            )
            sub = Counter(broker.port)
            delivery = Delivery(s).start()
            time.sleep(0.5)
            # latency at a steady 20 events/s
            sub.want = 200
            for i in range(200):
                delivery.publish(event(delivery.topics.events, i))
                time.sleep(0.05)
            sub.done.wait(30)
            lat = timing(sub.latencies_ms)
            rows.append(
                {
                    "measure": "event latency, 20 events/s",
                    "value": f"p50 {lat['median_ms']} ms, p95 {lat['p95_ms']} ms",
                    "n": len(sub.latencies_ms),
                }
            )
            # throughput: events with a 20 kB thumbnail each, as fast as the pipeline can emit
            sub.events, sub.thumbs, sub.want = 0, 0, 2000
            sub.done.clear()
            t0 = time.perf_counter()
            for i in range(2000):
                eid = f"bench-cam0-{1000 + i:06d}"
                delivery.publish(Message(delivery.topics.thumbnail(eid), THUMB, Kind.THUMBNAIL))
                delivery.publish(event(delivery.topics.events, 1000 + i))
            sub.done.wait(120)
            elapsed = time.perf_counter() - t0
            rows.append(
                {
                    "measure": "sustained events/s with 20 kB thumbnails",
                    "value": round(sub.events / elapsed, 1),
                    "n": sub.events,
                }
            )
            delivery.close()
            sub.client.loop_stop()
        with tempfile.TemporaryDirectory() as d:
            box = Outbox(Path(d) / "o.db", 512 * 2**20)
            for kind, payload, label in (
                (Kind.EVENT, b"x" * 600, "event (committed at once)"),
                (Kind.THUMBNAIL, THUMB, "thumbnail 20 kB (batched)"),
            ):
                t0 = time.perf_counter()
                for i in range(500):
                    box.put(Message(f"edge/b/c/{i}", payload, kind))
                box.flush()
                rows.append(
                    {
                        "measure": f"outbox write cost per {label}",
                        "value": f"{(time.perf_counter() - t0) / 500 * 1000:.3f} ms",
                        "n": 500,
                    }
                )
            box.close()
    finally:
        broker.stop()
    print(table(rows, ["measure", "value", "n"]))
    print(f"\nwrote {write('mqtt', {'rows': rows})}")


if __name__ == "__main__":
    main()
