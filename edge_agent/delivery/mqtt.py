"""Delivery over MQTT 5 with paho-mqtt 2: the outbox drained to the broker, acks delete rows.

One `Delivery` per device is the pipeline's sink. `publish()` stores the message in the outbox
and returns at once; a delivery thread commits the outbox in batches and, while connected, hands
the oldest unsent rows to paho (at most `max_inflight` unacknowledged). A PUBACK deletes its row;
a PUBACK with a failure reason (e.g. 135, not authorised by the ACL) is logged, counted and the
row deleted — it would fail again forever. paho re-sends in-flight messages after a reconnect;
after a restart, every stored row is sent again (QoS 1: a consumer drops duplicates by `id`).
`publish_now()` is for what must not be copied onto the SD card (footage chunks, which the station
asks for again when they are lost): one QoS 1 message straight to paho, True once its PUBACK
succeeded; its mid is never the outbox's, so the outbox's own count in flight is untouched.

Connection: `connect_async` + `loop_start` (in `start()`, once the command handlers are in
place), reconnect with backoff, last will `offline` (retained, delayed by `will_delay_s` so that
a Wi-Fi blip does not flap the status), `online` on every connect, TLS and username/password. A
refused connection is logged once per attempt with the broker's reason and is never taken for a
connection.

Nothing a stranger on the broker sends can stop delivery: every paho callback and every turn of
the delivery loop is guarded (an exception is logged and counted, the thread lives on), paho is
told to suppress callback exceptions, the broker is told our maximum packet size (so an 80 MB
"command" is never sent to us), retained commands are neither asked for nor run, and a row paho
refuses to publish (a topic over MQTT's limits) is dropped and counted instead of blocking the
outbox forever. `alive()` says whether the delivery and paho threads still run: the service
feeds systemd's watchdog only while they do.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from edge_agent.config import Settings
from edge_agent.contract import Kind, Message, Topics
from edge_agent.delivery import connect_errors, homeassistant
from edge_agent.delivery.client import MAX_INFLIGHT, build_client
from edge_agent.delivery.client import message_properties as _properties
from edge_agent.delivery.commands import CommandHandler, command_reply, valid_name
from edge_agent.delivery.outbox import Outbox

log = logging.getLogger(__name__)

MAX_INCOMING_PACKET = 65536  # told to the broker: it must not send us anything larger
DRAIN_ON_CLOSE_S = 5.0
LOOP_ERROR_PAUSE_S = 1.0


@dataclass
class DeliveryStats:
    handed: int = 0
    acked: int = 0
    rejected: dict[int, int] = field(default_factory=dict)  # PUBACK reason code → count
    refused: int = 0  # connection attempts the broker refused
    connects: int = 0
    unpublishable: int = 0  # rows paho refused to publish (dropped)
    commands_refused: int = 0  # command messages ignored: bad name or retained
    errors: int = 0  # exceptions caught in callbacks and the delivery loop


def _guarded(method: Callable[..., None]) -> Callable[..., None]:
    """A paho callback or loop step that logs and counts any exception instead of raising it."""

    @functools.wraps(method)
    def wrapper(self: Delivery, *args: Any) -> None:
        try:
            method(self, *args)
        except Exception:
            self.stats.errors += 1
            log.exception("delivery: %s failed; carrying on", method.__name__)

    return wrapper


class Delivery:
    def __init__(
        self,
        settings: Settings,
        outbox: Outbox | None = None,
        on_command: CommandHandler | None = None,
    ) -> None:
        self.settings = settings
        self.topics = Topics(settings.mqtt.prefix, settings.device_id, settings.camera.id)
        self.outbox = outbox or Outbox(settings.state_dir / "outbox.db", settings.outbox.max_bytes)
        self.on_command = on_command
        self.stats = DeliveryStats()
        self.connected = False
        self.since = time.monotonic()  # when `connected` last changed
        self._acks: queue.SimpleQueue[tuple[int, ReasonCode]] = queue.SimpleQueue()
        self._direct_lock = threading.Lock()  # one publish_now() at a time (never taken by paho)
        self._direct_reasons: dict[int, ReasonCode] | None = None  # PUBACKs while one waits
        self._inflight: dict[int, int] = {}  # paho mid → outbox row id
        self._sent_upto = 0
        self._generation = self.outbox.generation
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.client, self.host, self.port = build_client(settings, self.topics)
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self._thread = threading.Thread(target=self._run, name="delivery", daemon=True)

    def start(self) -> Delivery:
        """Connect and start delivering (after the command handlers are in place)."""
        session = Properties(PacketTypes.CONNECT)
        session.SessionExpiryInterval = self.settings.mqtt.will_delay_s
        session.MaximumPacketSize = MAX_INCOMING_PACKET
        self.client.connect_async(
            self.host,
            self.port,
            self.settings.mqtt.keepalive_s,
            clean_start=mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=session,
        )
        self.client.loop_start()
        self._thread.start()
        return self

    def alive(self) -> bool:
        """Both the delivery thread and paho's network thread are running."""
        paho = getattr(self.client, "_thread", None)  # paho keeps its loop thread here
        return self._thread.is_alive() and paho is not None and paho.is_alive()

    # -- the sink -------------------------------------------------------------------------

    def publish(self, message: Message) -> None:
        self.outbox.put(message)
        self._wake.set()  # send now; the fsync still comes once per flush interval (sync())

    def publish_now(
        self, topic: str, payload: bytes, timeout_s: float, cancel: threading.Event | None = None
    ) -> bool:
        """Publish QoS 1 outside the outbox; True only once the broker's PUBACK says success.

        False at once when not connected, and when the broker does not answer within `timeout_s`,
        the connection drops meanwhile or `cancel` is set (the caller sends it again); a PUBACK
        with a failure reason (135: the ACL) is False too, logged and counted in `rejected`.
        """
        with self._direct_lock:
            if not self.connected or self._stop.is_set():
                return False
            reasons: dict[int, ReasonCode] = {}
            self._direct_reasons = reasons  # before publish(): its PUBACK may beat our next line
            try:
                try:
                    info = self.client.publish(topic, payload, qos=1)
                except (ValueError, TypeError) as exc:
                    self.stats.unpublishable += 1
                    log.error("message for %.80r cannot be published (%s)", topic, exc)
                    return False
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    return False
                deadline = time.monotonic() + timeout_s
                while not info.is_published():
                    if not self.connected or time.monotonic() >= deadline or (cancel and cancel.is_set()):
                        return False
                    with contextlib.suppress(RuntimeError, ValueError):
                        info.wait_for_publish(0.1)
                reason = reasons.get(info.mid)
            finally:
                self._direct_reasons = None
        if reason is not None and reason.is_failure:
            code = reason.value
            self.stats.rejected[code] = self.stats.rejected.get(code, 0) + 1
            log.error(
                "broker rejected a message on %.80r (reason %d: %s). Check the broker's ACL for "
                "this device's topics",
                topic,
                code,
                reason,
            )
            return False
        return True

    @property
    def depth(self) -> int:
        return self.outbox.depth

    def figures(self) -> dict[str, Any]:
        """Delivery state for stats and the service status line."""
        return {
            "broker_connected": self.connected,
            "broker_since_s": round(time.monotonic() - self.since),
            "outbox_depth": self.outbox.depth,
            "outbox_bytes": self.outbox.bytes,
            "outbox_dropped": dict(self.outbox.drops),
            "outbox_write_errors": self.outbox.write_errors,
            "outbox_lost": self.outbox.lost,
            "outbox_unpublishable": self.stats.unpublishable,
            "outbox_damaged": self.outbox.damaged,
            "broker_rejected": dict(self.stats.rejected),
            "broker_refused": self.stats.refused,
            "commands_refused": self.stats.commands_refused,
            "delivery_errors": self.stats.errors,
        }

    def drain(self, timeout_s: float) -> int:
        """Wait until everything is acknowledged or `timeout_s` passed; the messages left."""
        deadline = time.monotonic() + timeout_s
        self._wake.set()
        while self.outbox.depth and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.outbox.depth

    def close(self, drain_s: float = DRAIN_ON_CLOSE_S) -> None:
        """Send what is waiting (end events first of all) for up to `drain_s`, then `offline`."""
        if self.connected and self._thread.is_alive():
            self.drain(drain_s)
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._process_acks()
        if self.connected:
            info = self.client.publish(self.topics.status, b"offline", qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(2)
        self.client.disconnect()
        self.client.loop_stop()
        self.outbox.close()

    # -- delivery thread ------------------------------------------------------------------

    def _run(self) -> None:
        interval = self.settings.outbox.flush_interval_s
        next_sync = time.monotonic() + interval
        while not self._stop.is_set():
            self._wake.wait(interval)
            self._wake.clear()
            if not self._turn():
                self._stop.wait(LOOP_ERROR_PAUSE_S)  # e.g. the disk: do not spin on it
            if time.monotonic() >= next_sync:
                self.outbox.sync()
                next_sync = time.monotonic() + interval
        self.outbox.flush()

    def _turn(self) -> bool:
        """One turn of the delivery loop; False when it failed (logged and counted)."""
        try:
            self._process_acks()
            self.outbox.flush()
            if self.connected:
                self._send()
        except Exception:
            self.stats.errors += 1
            log.exception("delivery loop failed; carrying on")
            return False
        return True

    def _send(self) -> None:
        if self._generation != self.outbox.generation:  # a damaged file was replaced
            self._generation, self._sent_upto = self.outbox.generation, 0
            self._inflight.clear()
        room = MAX_INFLIGHT - len(self._inflight)
        if room <= 0:
            return
        for row in self.outbox.read(self._sent_upto, room):
            m = row.message
            try:
                info = self.client.publish(
                    m.topic, m.payload, qos=m.qos, retain=m.retain, properties=_properties(m)
                )
            except (ValueError, TypeError) as exc:  # a topic or payload MQTT cannot carry
                self.stats.unpublishable += 1
                log.error("message for %.80r cannot be published (%s); dropped", m.topic, exc)
                self.outbox.ack(row.id)
                self._sent_upto = row.id
                continue
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                break  # not connected any more: paho did not take it; try again later
            self._inflight[info.mid] = row.id
            self._sent_upto = row.id
            self.stats.handed += 1

    def _process_acks(self) -> None:
        while True:
            try:
                mid, reason = self._acks.get_nowait()
            except queue.Empty:
                return
            row_id = self._inflight.pop(mid, None)
            if row_id is None:
                continue
            if reason.is_failure:
                code = reason.value
                self.stats.rejected[code] = self.stats.rejected.get(code, 0) + 1
                log.error(
                    "broker rejected a message (reason %d: %s); it is dropped, not retried. "
                    "Check the broker's ACL for this device's topics",
                    code,
                    reason,
                )
            else:
                self.stats.acked += 1
            self.outbox.ack(row_id)
        # more room in flight: send on
        if self.connected:
            self._wake.set()

    # -- paho callbacks (paho's thread: keep them short, take none of our locks) -----------

    @_guarded
    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, reason: ReasonCode, _p: Any) -> None:
        if reason.is_failure:
            self.stats.refused += 1
            log.warning(
                "broker %s:%d refused the connection: %s (check mqtt.username, the password and "
                "the broker's ACL); retrying with backoff",
                self.host,
                self.port,
                reason,
            )
            return
        self.stats.connects += 1
        self.connected, self.since = True, time.monotonic()
        log.info("connected to broker %s:%d", self.host, self.port)
        client.publish(self.topics.status, b"online", qos=1, retain=True)
        no_retained = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_DO_NOT_SEND)
        client.subscribe(self.topics.command_filter, options=no_retained)
        if self.settings.homeassistant.enabled:
            client.subscribe(homeassistant.status_topic(self.settings), qos=1)
        self._publish_discovery()
        self._wake.set()

    def _publish_discovery(self) -> None:
        """Home Assistant's device description: retained state, sent at once, ahead of the backlog.

        While discovery is off, the empty retained payload that removes the device is sent once
        after it was on (a marker file in state_dir remembers that it was), not at every connect
        of a pole that never used Home Assistant.
        """
        marker = self.settings.state_dir / "homeassistant-discovery"
        enabled = self.settings.homeassistant.enabled
        if not enabled and not marker.exists():
            return
        for m in homeassistant.discovery_messages(self.settings, self.topics):
            self.client.publish(m.topic, m.payload, qos=m.qos, retain=m.retain, properties=_properties(m))
        with contextlib.suppress(OSError):
            if enabled:
                marker.touch()
            else:
                marker.unlink()

    @_guarded
    def _on_connect_fail(self, _c: mqtt.Client, _u: Any) -> None:
        why = connect_errors.describe(connect_errors.current())
        log.warning("cannot reach broker %s:%d: %s; retrying with backoff", self.host, self.port, why)

    @_guarded
    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        if self.connected and not self._stop.is_set():
            log.warning(
                "disconnected from broker %s:%d: %s; messages wait in the outbox",
                self.host,
                self.port,
                reason,
            )
        self.connected, self.since = False, time.monotonic()

    @_guarded
    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, reason: ReasonCode, _p: Any) -> None:
        direct = self._direct_reasons
        if direct is not None:  # a publish_now() waits: it takes its own mid from here
            direct[mid] = reason
        self._acks.put((mid, reason))  # _process_acks skips mids that are not the outbox's
        self._wake.set()

    @_guarded
    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if self.settings.homeassistant.enabled and msg.topic == homeassistant.status_topic(self.settings):
            if msg.payload == b"online":  # Home Assistant restarted: describe the device again
                self._publish_discovery()
            return
        name = msg.topic[len(self.topics.command_filter) - 1 :]
        if msg.retain or not valid_name(name):
            self.stats.commands_refused += 1
            log.warning(
                "ignored a command on %.80r: %s",
                msg.topic,
                "retained commands are never run" if msg.retain else "not a command name ([a-z_], 1-32)",
            )
            return
        reply = command_reply(self.on_command, name, msg.payload)
        self.publish(Message(self.topics.reply(name), reply, Kind.REPLY))
        self._wake.set()


def open_delivery(settings: Settings, on_command: Callable[[str, dict], dict] | None = None) -> Delivery:
    return Delivery(settings, on_command=on_command).start()
