"""The replay folder: `events.jsonl`, `thumbnails/<event id>.jpg` and `summary.png`.

The same messages that go to MQTT, written where a person can open them: one event JSON per line
(exactly the MQTT payload), each thumbnail as the JPEG bytes published, and a contact sheet of
the events' thumbnails with label, time and score.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from edge_agent.contract import Kind, Message

SHEET_COLUMNS = 6
SHEET_TILE = 200
SHEET_CAPTION = 40
SHEET_MAX_TILES = 120


class FolderSink:
    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.thumb_dir = out_dir / "thumbnails"
        self.thumb_dir.mkdir(parents=True, exist_ok=True)
        self.events_path = out_dir / "events.jsonl"
        self._events = self.events_path.open("w", encoding="utf-8", buffering=1)  # a line at a time
        self.ends: list[dict] = []  # the final state of each event, for the contact sheet
        self.counts: dict[str, int] = {}
        self.starts = 0

    def publish(self, message: Message) -> None:
        self.counts[message.kind.value] = self.counts.get(message.kind.value, 0) + 1
        if message.kind is Kind.EVENT:
            self._events.write(message.payload.decode() + "\n")
            event = json.loads(message.payload)
            self.starts += event["type"] == "start"
            if event["type"] == "end":
                self.ends.append(event)
        elif message.kind is Kind.THUMBNAIL:
            event_id = message.topic.rsplit("/", 1)[-1]
            (self.thumb_dir / f"{event_id}.jpg").write_bytes(message.payload)
        elif message.kind is Kind.SNAPSHOT:
            (self.out_dir / "snapshot.jpg").write_bytes(message.payload)

    def close(self) -> None:
        self._events.close()
        write_contact_sheet(self.out_dir / "summary.png", self.ends, self.thumb_dir)


def _tile(event: dict, thumb_dir: Path) -> np.ndarray:
    tile = np.full((SHEET_TILE + SHEET_CAPTION, SHEET_TILE, 3), 32, np.uint8)
    img = cv2.imread(str(thumb_dir / f"{event['id']}.jpg"))
    if img is not None:
        h, w = img.shape[:2]
        scale = SHEET_TILE / max(h, w)
        img = cv2.resize(
            img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
        )
        y = (SHEET_TILE - img.shape[0]) // 2
        x = (SHEET_TILE - img.shape[1]) // 2
        tile[y : y + img.shape[0], x : x + img.shape[1]] = img
    score = event.get("top_score") or event["score"]
    line1 = f"{event['label']} {score:.2f}"
    line2 = event["start"][11:19] + (f" +{event['duration_s']:.0f}s" if event.get("duration_s") else "")
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(tile, line1, (4, SHEET_TILE + 16), font, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    cv2.putText(tile, line2, (4, SHEET_TILE + 34), font, 0.45, (200, 200, 200), 1, cv2.LINE_AA)
    return tile


def write_contact_sheet(path: Path, events: list[dict], thumb_dir: Path) -> None:
    """A grid of the events' thumbnails, in time order, captioned with label, score and time."""
    events = sorted(events, key=lambda e: e["start"])[:SHEET_MAX_TILES]
    header_h = 36
    cols = SHEET_COLUMNS
    rows = max(1, -(-len(events) // cols))
    tile_h = SHEET_TILE + SHEET_CAPTION
    sheet = np.full((header_h + rows * (tile_h + 4), cols * (SHEET_TILE + 4), 3), 16, np.uint8)
    title = f"{len(events)} events" if events else "no events"
    cv2.putText(sheet, title, (6, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 1, cv2.LINE_AA)
    for i, event in enumerate(events):
        r, c = divmod(i, cols)
        y = header_h + r * (tile_h + 4)
        x = c * (SHEET_TILE + 4)
        sheet[y : y + tile_h, x : x + SHEET_TILE] = _tile(event, thumb_dir)
    cv2.imwrite(str(path), sheet)
