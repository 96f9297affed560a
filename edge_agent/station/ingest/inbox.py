"""What one MQTT message is: a pole's event, picture or device message, or a reject with its reason.

Pure functions of topic and payload, so anything a pole (or a stranger with a pole's password)
sends is classified here without touching the database; the topic is authoritative for the
device and camera (the broker's ACL lets a pole write only under its own name).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from pydantic import ValidationError

from edge_agent.contract import Event
from edge_agent.contract.clips import ChunkHeader, ClipReply, Unavailable, parse_chunk
from edge_agent.contract.footage import FootageError, SegmentRecord, SignedHead, parse_head, parse_record

ID = re.compile(r"^[a-z0-9_-]{1,64}$")
EVENT_ID = re.compile(r"^[a-z0-9_-]{1,80}-[0-9]{6,15}$")
LABEL = re.compile(r"^[A-Za-z0-9_ -]{1,32}$")
DEVICE_KINDS = {"status", "stats"}
CAMERA_KINDS = {"events", "snapshot", "health", "counts", "alarm", "motion"}
JSON_KINDS = {"stats", "health", "counts", "alarm"}
DEDUPED = {"health", "counts", "alarm"}


@dataclass(frozen=True, slots=True)
class EventRecord:
    device: str
    camera: str
    event: Event
    raw: bytes


@dataclass(frozen=True, slots=True)
class PictureRecord:
    kind: str  # thumbnail | snapshot
    device: str
    camera: str
    event_id: str  # "" for a snapshot
    data: bytes
    sha256: str


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    kind: str  # status | stats | health | counts | alarm | motion
    device: str
    camera: str  # "" for status and stats
    raw: bytes
    dedupe: str | None


@dataclass(frozen=True, slots=True)
class FootageRecord:
    """A segment record (`item` a SegmentRecord) or a signed head (a SignedHead) of a camera."""

    device: str
    camera: str
    item: SegmentRecord | SignedHead
    raw: bytes
    topic: str


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """Bytes of a segment the station asked for."""

    device: str
    camera: str
    header: ChunkHeader
    data: bytes
    topic: str


@dataclass(frozen=True, slots=True)
class ClipNoticeRecord:
    """What a pole says of segments asked for: its reply to `cmd/clip`, or one gone unreadable."""

    device: str
    camera: str
    unavailable: tuple[Unavailable, ...]
    error: str
    request: str | None = None  # the station's id of the ask it answers (a reply)


@dataclass(frozen=True, slots=True)
class Reject:
    topic: str
    reason: str
    payload: bytes


Record = EventRecord | PictureRecord | DeviceRecord | FootageRecord | ChunkRecord | ClipNoticeRecord | Reject


def _event(device: str, camera: str, topic: str, payload: bytes) -> Record:
    try:
        event = Event.model_validate_json(payload)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        return Reject(topic, f"not a valid event: {where}: {first['msg']}", payload)
    if not EVENT_ID.match(event.id):
        return Reject(topic, "not a valid event: id: longer than the archive keeps (96)", payload)
    if not LABEL.match(event.label):
        return Reject(topic, "not a valid event: label: 1-32 of A-Z a-z 0-9 _ - space", payload)
    if event.device != device or event.camera != camera:
        return Reject(
            topic, f"event names {event.device}/{event.camera}, topic says {device}/{camera}", payload
        )
    return EventRecord(device, camera, event, payload)


def classify(prefix: str, topic: str, payload: bytes, max_bytes: int) -> Record:
    if len(payload) > max_bytes:
        return Reject(topic, f"too large: {len(payload)} bytes (limit {max_bytes})", payload)
    parts = topic.split("/")
    if len(parts) < 3 or parts[0] != prefix or not ID.match(parts[1]):
        return Reject(topic, "not a pole topic of contract v1", payload)
    device = parts[1]
    if parts[2:] == ["cmd", "clip", "reply"]:
        return _clip_reply(device, topic, payload)
    if len(parts) == 3 and parts[2] in DEVICE_KINDS:
        return _device(parts[2], device, "", topic, payload)
    if len(parts) < 4 or not ID.match(parts[2]):
        return Reject(topic, "not a pole topic of contract v1", payload)
    camera, kind = parts[2], parts[3]
    if len(parts) == 5 and kind == "thumbnails" and EVENT_ID.match(parts[4]):
        return _picture("thumbnail", device, camera, parts[4], topic, payload)
    if kind == "footage" and len(parts) == 5 and parts[4] == "chunks":
        return _chunk(device, camera, topic, payload)
    if kind == "footage" and len(parts) == 5 and parts[4] == "unavailable":
        return _unavailable(device, camera, topic, payload)
    if kind == "footage" and (len(parts) == 4 or (len(parts) == 5 and parts[4] == "heads")):
        return _footage(device, camera, topic, payload, head=len(parts) == 5)
    if len(parts) != 4 or kind not in CAMERA_KINDS:
        return Reject(topic, "not a pole topic of contract v1", payload)
    if kind == "events":
        return _event(device, camera, topic, payload)
    if kind == "snapshot":
        return _picture("snapshot", device, camera, "", topic, payload)
    return _device(kind, device, camera, topic, payload)


def _picture(kind: str, device: str, camera: str, event_id: str, topic: str, payload: bytes) -> Record:
    if not payload.startswith(b"\xff\xd8"):
        return Reject(topic, "not a JPEG (no FF D8 start of image)", payload)
    return PictureRecord(kind, device, camera, event_id, payload, hashlib.sha256(payload).hexdigest())


def _device(kind: str, device: str, camera: str, topic: str, payload: bytes) -> Record:
    if kind == "status" and payload not in (b"online", b"offline"):
        return Reject(topic, "status must be 'online' or 'offline'", payload)
    if kind == "motion" and payload not in (b"ON", b"OFF"):
        return Reject(topic, "motion must be 'ON' or 'OFF'", payload)
    if kind in JSON_KINDS:
        try:
            body = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            return Reject(topic, f"{kind} is not valid JSON", payload)
        if not isinstance(body, dict):
            return Reject(topic, f"{kind} must be a JSON object", payload)
    dedupe = hashlib.sha256(topic.encode() + b"\0" + payload).hexdigest() if kind in DEDUPED else None
    return DeviceRecord(kind, device, camera, payload, dedupe)


def _footage(device: str, camera: str, topic: str, payload: bytes, head: bool) -> Record:
    try:
        item: SegmentRecord | SignedHead = parse_head(payload) if head else parse_record(payload)
    except FootageError as exc:
        return Reject(topic, str(exc), payload)
    if (item.device, item.camera) != (device, camera):
        what = "head" if head else "record"
        return Reject(
            topic, f"footage {what} names {item.device}/{item.camera}, topic says {device}/{camera}", payload
        )
    return FootageRecord(device, camera, item, payload, topic)


def _chunk(device: str, camera: str, topic: str, payload: bytes) -> Record:
    try:
        header, data = parse_chunk(payload)
    except FootageError as exc:
        return Reject(topic, str(exc), payload)
    if header.camera != camera:
        return Reject(topic, f"footage chunk names camera {header.camera}, topic says {camera}", payload)
    return ChunkRecord(device, camera, header, data, topic)


def _unavailable(device: str, camera: str, topic: str, payload: bytes) -> Record:
    try:
        notice = Unavailable.model_validate_json(payload, strict=True)
    except ValidationError as exc:
        return Reject(topic, f"not a footage notice: {exc.errors(include_url=False)[0]['msg']}", payload)
    if notice.camera != camera:
        return Reject(topic, f"footage notice names camera {notice.camera}, topic says {camera}", payload)
    return ClipNoticeRecord(device, camera, (notice,), "")


def _clip_reply(device: str, topic: str, payload: bytes) -> Record:
    try:
        reply = ClipReply.model_validate_json(payload)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        return Reject(topic, f"not a clip reply: {where}: {first['msg']}", payload)
    cameras = {u.camera for u in reply.unavailable}
    return ClipNoticeRecord(
        device, cameras.pop() if len(cameras) == 1 else "", tuple(reply.unavailable), reply.error
    )
