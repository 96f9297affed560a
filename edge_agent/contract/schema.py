"""The JSON payloads of the MQTT contract, version 1, as pydantic models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

EVENT_SCHEMA = "edge-agent/event/1"

NormBox = tuple[float, float, float, float]


def iso_ms(t: datetime) -> str:
    """UTC ISO 8601 with milliseconds and a Z, as every time in the contract."""
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ThumbnailRef(Strict):
    topic: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    width: int = Field(gt=0)
    height: int = Field(gt=0)


class ClockState(Strict):
    synced: bool
    # time.monotonic_ns() of the event's last observation, so a consumer can order and time
    # events of one device even when the wall clock jumped.
    monotonic_ns: int | None = None


class Crossing(Strict):
    line: str
    direction: Literal["A>B", "B>A"]
    at: datetime

    @field_serializer("at")
    def _ser_at(self, v: datetime) -> str:
        return iso_ms(v)


class Event(Strict):
    schema_: Literal["edge-agent/event/1"] = Field(EVENT_SCHEMA, alias="schema")
    id: str = Field(pattern=r"^[a-z0-9_-]+-[0-9]{6,}$")
    seq: int = Field(ge=1)
    type: Literal["start", "update", "end"]
    device: str
    camera: str
    label: str
    track: int
    start: datetime
    end: datetime | None = None
    score: float = Field(ge=0.0, le=1.0)
    top_score: float | None = Field(None, ge=0.0, le=1.0)
    box: NormBox
    riders: int = 0
    stationary: bool = False
    zones: list[str] = Field(default_factory=list)
    crossings: list[Crossing] = Field(default_factory=list)
    duration_s: float | None = None
    path: list[tuple[float, float]] = Field(default_factory=list)
    thumbnail: ThumbnailRef | None = None
    clock: ClockState
    model: str

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_serializer("start", "end")
    def _ser_time(self, v: datetime | None) -> str | None:
        return None if v is None else iso_ms(v)

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()


class Alarm(Strict):
    schema_: Literal["edge-agent/alarm/1"] = Field("edge-agent/alarm/1", alias="schema")
    rule: str
    event: str
    device: str
    camera: str
    zone: str
    label: str
    time: datetime

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_serializer("time")
    def _ser_time(self, v: datetime) -> str:
        return iso_ms(v)


class Counts(Strict):
    """Line crossings per line, label and direction during [start, end)."""

    schema_: Literal["edge-agent/counts/1"] = Field("edge-agent/counts/1", alias="schema")
    device: str
    camera: str
    start: datetime
    end: datetime
    lines: dict[str, dict[str, dict[Literal["A>B", "B>A"], int]]]

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_serializer("start", "end")
    def _ser_time(self, v: datetime) -> str:
        return iso_ms(v)
