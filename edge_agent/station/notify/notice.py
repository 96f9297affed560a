"""One fact worth telling someone: a notice, before it is fanned out to subscriptions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Notice:
    kind: str  # a key of config.notify.KIND_FIELDS
    source: str  # what it is about, unique per fact: "alarm:<row id>", "offline:pole17:<since>"
    device: str
    camera: str  # "" for the pole itself
    at_us: int  # when it happened (the station's receive time)
    facts: dict[str, Any] = field(default_factory=dict)  # the templates' fields beyond the common
    picture_sha256: str | None = None
    event_id: str | None = None  # an event whose thumbnail is attached once it is in
    group: bool = True  # storms of this kind on one pole are grouped
