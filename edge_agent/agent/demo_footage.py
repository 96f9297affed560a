"""The demo pole's footage: the bundled clip recorded as a pole records it, for the station to pull.

A replay reads the clip faster than real time, so the demo records the clip's own H.264 stream
after the replay (the pole's `Segmenter`, nothing decoded), places each segment at the time the
replay gave its frames (the file's time plus its position), chains and signs them with the demo
pole's own key, and then stays connected as the demo pole with the real `clip` command and
`Uploader`: the station pulls the clips of the demo's alarms by itself (`[footage] auto_alarms`),
and any other event's on "Lấy video".
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from edge_agent import config
from edge_agent.contract import Kind, Message, Topics
from edge_agent.contract.footage import FOOTAGE_SCHEMA, canonical
from edge_agent.delivery.commands import Commands
from edge_agent.delivery.mqtt import Delivery
from edge_agent.recording.budget import Budget
from edge_agent.recording.chain import Chain
from edge_agent.recording.keys import PoleKey
from edge_agent.recording.segment_file import Segment
from edge_agent.recording.segmenter import Segmenter
from edge_agent.recording.uploader import Uploader

SEGMENT_S = 4.0
PROPS = {"schema": FOOTAGE_SCHEMA}


class DemoFootage:
    def __init__(self, settings: config.Settings, clip: Path, out: Path) -> None:
        self.folder = out / "recording"
        self.topics = Topics(settings.mqtt.prefix, settings.device_id, settings.camera.id)
        state = Path(settings.state_dir)
        self.key = PoleKey.load_or_create(state)
        segments = self._record(clip, settings.camera.id)
        self.commands = Commands()
        self.delivery = Delivery(settings, on_command=self.commands)
        self.uploader = Uploader(
            self.folder,
            Budget(self.folder, 10**12),
            settings.camera.id,
            self.topics,
            publish_now=self.delivery.publish_now,
            publish=self.delivery.publish,
            connected=lambda: self.delivery.connected,
            depth=lambda: self.delivery.depth,
            upload_kbps=20_000,
        )
        self.commands.add("clip", self.uploader.request)
        self.messages = self._chain(segments, settings, state)
        self.segments = len(segments)

    def _record(self, clip: Path, camera: str) -> list[Segment]:
        cut: list[Segment] = []
        for old in self.folder.glob(f"{camera}-*"):
            old.unlink()
        for old in self.folder.glob(f"{camera}.*.jsonl"):
            old.unlink()
        Segmenter(str(clip), self.folder, camera, SEGMENT_S, on_segment=cut.append, live=False).run()
        start = datetime.fromtimestamp(clip.stat().st_mtime, UTC)  # where the replay put frame 0
        placed, at = [], start
        for seg in cut:
            placed.append(replace(seg, start=at, end=at + timedelta(seconds=max(0.0, seg.duration_s - 0.08))))
            at += timedelta(seconds=seg.duration_s)
        return placed

    def _chain(self, segments: list[Segment], settings: config.Settings, state: Path) -> list[Message]:
        chain = Chain.open(self.folder, settings.device_id, settings.camera.id, self.key, sign_every=5)
        out = []
        for seg in segments:
            entry = chain.append(seg)
            out.append(Message(self.topics.footage, canonical(entry.record), Kind.FOOTAGE, properties=PROPS))
            if entry.head is not None:
                out.append(
                    Message(self.topics.footage_heads, canonical(entry.head), Kind.FOOTAGE, properties=PROPS)
                )
        head = chain.close()
        if head is not None:
            out.append(Message(self.topics.footage_heads, canonical(head), Kind.FOOTAGE, properties=PROPS))
        return out

    def start(self) -> DemoFootage:
        """Connect as the demo pole, tell the station its key and its footage, serve its clips."""
        self.delivery.start()
        stats = {"recording": {"key": self.key.fingerprint, "public_key": self.key.public_b64}}
        self.delivery.publish(Message(self.topics.stats, json.dumps(stats).encode(), Kind.STATS, retain=True))
        for message in self.messages:
            self.delivery.publish(message)
        self.uploader.start()
        return self

    def stop(self) -> None:
        self.uploader.stop()
        self.delivery.close()
