"""Line-crossing counts per line, label and direction, published once per interval."""

from __future__ import annotations

from datetime import datetime

from edge_agent.contract import Counts, Kind, Message, Topics
from edge_agent.sources import Frame


class LineCounts:
    def __init__(self, interval_s: float, lines: list[str]) -> None:
        self.interval_ns = int(interval_s * 1e9)
        self.lines = lines
        self.counts: dict[str, dict[str, dict[str, int]]] = {}
        self._start_ns: int | None = None
        self._start_wall: datetime | None = None

    def add(self, line: str, label: str, direction: str) -> None:
        per_label = self.counts.setdefault(line, {}).setdefault(label, {"A>B": 0, "B>A": 0})
        per_label[direction] += 1

    def maybe_publish(self, frame: Frame, topics: Topics, device: str, force: bool = False) -> list[Message]:
        """The counts message when the interval is over (or `force`), then a new interval."""
        if not self.lines:
            return []
        if self._start_ns is None or self._start_wall is None:
            self._start_ns, self._start_wall = frame.mono_ns, frame.wall
            return []
        if not force and frame.mono_ns - self._start_ns < self.interval_ns:
            return []
        body = Counts(
            device=device,
            camera=topics.camera,
            start=self._start_wall,
            end=frame.wall,
            lines={name: self.counts.get(name, {}) for name in self.lines},
        )  # type: ignore[arg-type]
        self.counts = {}
        self._start_ns, self._start_wall = frame.mono_ns, frame.wall
        return [Message(topics.counts, body.model_dump_json(by_alias=True).encode(), Kind.COUNTS)]
