"""`edge-agent replay`: the live pipeline on a video file, every frame, as fast as it can.

Writes the replay folder and, when `mqtt.url` is set, publishes through the same outbox as a
live run (so a replay killed half-way and started again delivers the rest).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from edge_agent.agent.pipeline import Pipeline
from edge_agent.agent.replay_output import FolderSink
from edge_agent.agent.sink import Sink
from edge_agent.config import Settings
from edge_agent.sources import open_file

log = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class ReplayResult:
    frames: int
    events: int
    event_messages: int
    undelivered: int  # stored in the outbox, sent by the next run
    lost: int = 0  # could not be stored at all (disk full): counted, never claimed as kept


def replay_settings(settings: Settings, out: Path) -> Settings:
    """A replay keeps its state (sequence numbers, outbox) in OUT/state unless state_dir is set."""
    if "state_dir" in settings.model_fields_set:
        return settings
    return settings.model_copy(update={"state_dir": out / "state"})


def replay(
    settings: Settings,
    video: Path,
    out: Path,
    start: datetime | None = None,
    on_start: Callable[[int], None] | None = None,
    on_frame: Callable[[int, int], None] | None = None,
    drain_timeout_s: float = DRAIN_TIMEOUT_S,
    frames: int | None = None,
) -> ReplayResult:
    settings = replay_settings(settings, out)
    source = open_file(video, settings.motion.height, start, limit=frames)
    out.mkdir(parents=True, exist_ok=True)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    folder = FolderSink(out)
    sinks: list[Sink] = [folder]
    delivery = None
    if settings.mqtt.url:
        from edge_agent.delivery.mqtt import open_delivery

        delivery = open_delivery(settings)
        sinks.append(delivery)
    next_seq = delivery.outbox.next_seq if delivery is not None else None
    pipeline = Pipeline(settings, source, sinks, next_seq=next_seq)
    if on_start is not None:
        on_start(min(source.info.frame_count, frames) if frames else source.info.frame_count)
    try:
        pipeline.run(on_frame=(lambda f: on_frame(f.index + 1, folder.starts)) if on_frame else None)
    finally:
        folder.close()
        undelivered = lost = 0
        if delivery is not None:
            delivery.drain(drain_timeout_s)
            delivery.close(drain_s=0)
            undelivered = delivery.outbox.stored
            lost = sum(delivery.outbox.lost.values())
    return ReplayResult(
        frames=pipeline.stats.frames_processed,
        events=folder.starts,
        event_messages=folder.counts.get("event", 0),
        undelivered=undelivered,
        lost=lost,
    )
