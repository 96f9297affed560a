"""MQTT in: one persistent MQTT 5 session per broker, acknowledged only after a durable store.

paho-mqtt 2 with `manual_ack`: the broker keeps every message it has not had a PUBACK for and
sends it again after a reconnect, so a station killed at any instant loses nothing. The clients'
threads only queue; one writer thread classifies a batch, writes its pictures (fsync), stores its
rows in one transaction (commit), and only then acknowledges each message.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from sqlalchemy.exc import InterfaceError, OperationalError

from edge_agent.contract import Topics, redact
from edge_agent.station.config import BrokerConfig, StationSettings
from edge_agent.station.ingest.archive import Archive, BatchResult, Received
from edge_agent.station.ingest.inbox import PictureRecord, Reject, classify
from edge_agent.station.store.ops import now_us
from edge_agent.station.store.pictures import PictureStore

log = logging.getLogger("edge_agent.station.ingest.subscriber")


def subscriptions(prefix: str) -> list[str]:
    """Every pole topic of contract v1 that the station keeps."""
    any_pole = Topics(prefix, "+", "+")
    return [
        any_pole.status,
        any_pole.stats,
        any_pole.events,
        any_pole.thumbnail("+"),
        any_pole.snapshot,
        any_pole.health,
        any_pole.counts,
        any_pole.alarm,
        any_pole.motion,
        any_pole.footage,
        any_pole.footage_heads,
        any_pole.footage_chunks,
        any_pole.footage_unavailable,
        Topics(prefix, "+", "").reply("clip"),
    ]


@dataclass(frozen=True, slots=True)
class Incoming:
    broker: BrokerConfig
    client: mqtt.Client
    message: mqtt.MQTTMessage
    received_us: int


class BrokerClient:
    def __init__(self, settings: StationSettings, broker: BrokerConfig, inbox: queue.Queue[Incoming]) -> None:
        self.broker = broker
        self.inbox = inbox
        self.connected = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=settings.client_id(broker),
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if broker.username:
            pw = broker.password.get_secret_value() if broker.password else None
            self.client.username_pw_set(broker.username, pw)
        url = urlsplit(broker.url)
        self.host, self.port = (
            url.hostname or "127.0.0.1",
            url.port or (8883 if url.scheme == "mqtts" else 1883),
        )
        if url.scheme == "mqtts":
            self.client.tls_set(ca_certs=str(broker.ca_file) if broker.ca_file else None)
        self.client.reconnect_delay_set(1, 30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = min(int(self.broker.session_expiry_days * 86400), 0xFFFFFFFF)
        props.ReceiveMaximum = self.broker.receive_maximum
        self.client.connect_async(self.host, self.port, keepalive=30, clean_start=False, properties=props)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()  # the session (and every unacknowledged message) stays on the broker
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("broker %s refused the connection: %s", self.broker.name, reason)
            return
        opts = SubscribeOptions(qos=1)
        client.subscribe([(t, opts) for t in subscriptions(self.broker.prefix)])
        self.connected.set()
        log.info("connected to broker %s (%s)", self.broker.name, redact(self.broker.url))

    def _on_disconnect(self, _c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        self.connected.clear()
        log.warning("disconnected from broker %s: %s", self.broker.name, reason)

    def _on_message(self, client: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        self.inbox.put(Incoming(self.broker, client, msg, now_us()))


class Ingest:
    def __init__(self, settings: StationSettings, archive: Archive, pictures: PictureStore) -> None:
        self.settings = settings
        self.archive = archive
        self.pictures = pictures
        self.inbox: queue.Queue[Incoming] = queue.Queue()
        self.clients = [BrokerClient(settings, b, self.inbox) for b in settings.brokers]
        self.totals = BatchResult()
        self.on_stored: Callable[[], None] | None = None  # told after each commit (the alerts wake)
        self._stop = threading.Event()
        self._writer = threading.Thread(target=self._run, name="station-writer", daemon=True)

    def start(self) -> None:
        self._writer.start()
        for c in self.clients:
            c.start()

    def stop(self) -> None:
        for c in self.clients:
            c.stop()
        self._stop.set()
        self._writer.join(30)

    def _take(self) -> list[Incoming]:
        try:
            batch = [self.inbox.get(timeout=0.2)]
        except queue.Empty:
            return []
        while len(batch) < self.settings.ingest.batch_max:
            try:
                batch.append(self.inbox.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        while not (self._stop.is_set() and self.inbox.empty()):
            batch = self._take()
            while batch and not self._stop.is_set():
                try:
                    self._store(batch)
                    break
                except (OSError, OperationalError, InterfaceError) as exc:  # disk full, database away: retry
                    log.error("cannot store %d messages (will retry): %s", len(batch), redact(str(exc)))
                    time.sleep(1.0)
                except Exception:
                    log.exception("storing a batch failed; storing its messages one by one")
                    self._store_singly(batch)
                    break

    def _received(self, item: Incoming) -> Received:
        msg = item.message
        payload = bytes(msg.payload)
        record = classify(item.broker.prefix, msg.topic, payload, self.settings.ingest.max_payload_bytes)
        if isinstance(record, PictureRecord):
            self.pictures.put(record.data, sync=False, sha256=record.sha256)
        return Received(item.broker.name, item.received_us, record)

    def _store(self, batch: list[Incoming]) -> None:
        received = [self._received(i) for i in batch]
        if any(isinstance(r.record, PictureRecord) for r in received):
            self.pictures.sync()  # the pictures are on disk before any row names them
        result = self.archive.store(received)
        self._ack(batch)
        self._count(result)
        if self.on_stored is not None:
            self.on_stored()

    def _store_singly(self, batch: list[Incoming]) -> None:
        for item in batch:
            try:
                self._store([item])
            except Exception as exc:  # a bug met by one message: keep its head and the reason, go on
                reason = f"internal error: {type(exc).__name__}: {redact(str(exc))[:200]}"
                log.exception("message on %s could not be stored", item.message.topic)
                bad = Received(item.broker.name, item.received_us, Reject(item.message.topic, reason, b""))
                self._count(self.archive.store([bad]))
                self._ack([item])

    def _ack(self, batch: list[Incoming]) -> None:
        for item in batch:
            if item.message.qos > 0:
                item.client.ack(item.message.mid, item.message.qos)

    def _count(self, result: BatchResult) -> None:
        self.totals.stored += result.stored
        self.totals.duplicates += result.duplicates
        self.totals.rejected += result.rejected
        self.totals.counts.update(result.counts)
