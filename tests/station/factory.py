"""Contract-valid pole messages for station tests and the benchmark."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

from edge_agent.contract import Event, Topics


def jpeg(n: int, size: int = 2000) -> bytes:
    """A JPEG-looking picture, different for each n (the station checks the magic, not the image)."""
    body = hashlib.sha256(str(n).encode()).digest() * (size // 32 + 1)
    return b"\xff\xd8\xff\xe0" + body[: max(0, size - 6)] + b"\xff\xd9"


def event(
    device: str,
    seq: int,
    *,
    n: int | None = None,
    type: str = "start",
    camera: str = "cam0",
    label: str = "person",
    start: datetime | None = None,
    thumb: bytes | None = None,
    zones: list[str] | None = None,
    lines: list[str] | None = None,
    score: float = 0.8,
    stationary: bool = False,
    synced: bool = True,
    prefix: str = "edge",
) -> tuple[str, bytes]:
    n = seq if n is None else n
    start = start or datetime(2026, 11, 22, 21, 0, tzinfo=UTC) + timedelta(seconds=n)
    topics = Topics(prefix, device, camera)
    eid = f"{device}-{camera}-{n:06d}"
    body: dict[str, object] = {
        "schema": "edge-agent/event/1",
        "id": eid,
        "seq": seq,
        "type": type,
        "device": device,
        "camera": camera,
        "label": label,
        "track": n,
        "start": start.isoformat().replace("+00:00", "Z"),
        "end": (start + timedelta(seconds=3)).isoformat().replace("+00:00", "Z") if type == "end" else None,
        "score": score,
        "box": [0.1, 0.1, 0.3, 0.4],
        "stationary": stationary,
        "zones": zones or [],
        "crossings": [
            {"line": line, "direction": "A>B", "at": start.isoformat().replace("+00:00", "Z")}
            for line in (lines or [])
        ],
        "clock": {"synced": synced},
        "model": "test",
    }
    if thumb is not None:
        body["thumbnail"] = {
            "topic": topics.thumbnail(eid),
            "sha256": hashlib.sha256(thumb).hexdigest(),
            "width": 320,
            "height": 240,
        }
    Event.model_validate(body)
    return topics.events, json.dumps(body).encode()


def thumbnail(
    device: str, n: int, data: bytes, camera: str = "cam0", prefix: str = "edge"
) -> tuple[str, bytes]:
    return Topics(prefix, device, camera).thumbnail(f"{device}-{camera}-{n:06d}"), data


def alarm(device: str, n: int, time: datetime, camera: str = "cam0", zone: str = "gate") -> tuple[str, bytes]:
    """The alarm a pole's rule `night-gate` fires for its event n (a motorcycle in `zone`)."""
    body = {
        "schema": "edge-agent/alarm/1",
        "rule": "night-gate",
        "event": f"{device}-{camera}-{n:06d}",
        "device": device,
        "camera": camera,
        "zone": zone,
        "label": "motorcycle",
        "time": time.isoformat().replace("+00:00", "Z"),
    }
    return Topics("edge", device, camera).alarm, json.dumps(body).encode()
