"""The pole's recorder: the camera's stream as segments, kept by retention, chained, signed, budgeted.

`Recorder(cfg, device, camera, camera_source, state_dir, topics, publish)` runs a `Segmenter` on
the recorded stream (`recording.source`, else `camera.source`) into a RAM staging folder; when
that is the Pi camera (`picamera2`), an `EncodedSegmenter` instead, `picamera_output`, which the
camera source feeds with its H.264 encoder's frames (the Pi camera has one owner: the source). Each
closed segment waits there until `Retention` decides it (pre-capture without writing the card
24/7); a kept one is written to `recording.dir` in one sequential block (`.part`, fsync, rename),
appended to the camera's chain and published as a QoS 1 `footage` message through the outbox (and
the signed head, every `sign_every` records, on `footage/heads`); a dropped one is deleted from
RAM. After each write the `Budget` deletes the oldest segments over `max_bytes` or under the
free-space floor; `Wear` counts the bytes written per day. The recorder is a sink of the
pipeline's messages (`publish`: events and motion tell retention what is going on).

A recording disk that cannot be written (unplugged, full, failing) loses the segment, says so in
`stats()` and in the log once, and recording goes on with the next one.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from edge_agent import clock
from edge_agent.config.recording import RecordingConfig
from edge_agent.contract import Kind, Message, Topics
from edge_agent.contract.footage import FOOTAGE_SCHEMA, SignedHead, canonical
from edge_agent.recording.budget import Budget, Wear
from edge_agent.recording.chain import Chain
from edge_agent.recording.encoded import EncodedSegmenter
from edge_agent.recording.keys import PoleKey
from edge_agent.recording.retention import Retention
from edge_agent.recording.segment_file import Segment, segment_number
from edge_agent.recording.segmenter import Segmenter

log = logging.getLogger(__name__)

PROPS = {"schema": FOOTAGE_SCHEMA}
WEAR_FILE = "recording-wear.json"


def staging_folder(cfg: RecordingConfig, device: str) -> Path:
    """RAM for segments waiting to be decided: the setting, systemd's RuntimeDirectory, /dev/shm."""
    if cfg.staging_dir is not None:
        return cfg.staging_dir
    runtime = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    if runtime:
        return Path(runtime) / "recording"
    return Path("/dev/shm") / f"edge-agent-{device}" / "recording"


class Recorder:
    def __init__(
        self,
        cfg: RecordingConfig,
        device: str,
        camera: str,
        camera_source: str,
        state_dir: Path,
        topics: Topics,
        publish: Callable[[Message], None] | None = None,
        clock_synced: Callable[[], bool] = clock.synced,
    ) -> None:
        self.cfg = cfg
        self.camera = camera
        self.topics = topics
        self._publish = publish or (lambda message: None)
        self.folder = cfg.folder(state_dir)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.staging = staging_folder(cfg, device)
        self.key = PoleKey.load_or_create(state_dir)
        self.chain = Chain.open(self.folder, device, camera, self.key, cfg.sign_every)
        self.retention = Retention(cfg.retain, cfg.pre_capture_s, cfg.post_capture_s)
        self.budget = Budget(self.folder, cfg.max_bytes, cfg.min_free_bytes)
        self.wear = Wear(state_dir / WEAR_FILE)
        self.kept = self.dropped = self.lost = 0
        self.last_error = ""
        self._lock = threading.Lock()
        self._chain_lock = threading.Lock()  # the segmenter appends, a clip request signs
        self._pending: deque[Segment] = deque()
        self._clear_staging()
        self.segmenter: Segmenter | EncodedSegmenter
        stream = cfg.stream(camera_source)
        if stream == "picamera2":
            self.segmenter = EncodedSegmenter(
                self.staging,
                camera=camera,
                segment_s=cfg.segment_s,
                on_segment=self._on_segment,
                first_number=self._next_number(),
                clock_synced=clock_synced,
            )
        else:
            self.segmenter = Segmenter(
                stream,
                self.staging,
                camera=camera,
                segment_s=cfg.segment_s,
                on_segment=self._on_segment,
                first_number=self._next_number(),
                clock_synced=clock_synced,
            )

    @property
    def picamera_output(self) -> EncodedSegmenter | None:
        """The sink the Pi camera source encodes its main stream into; None for other cameras."""
        return self.segmenter if isinstance(self.segmenter, EncodedSegmenter) else None

    def _clear_staging(self) -> None:
        """Segments a previous run left undecided in RAM are not kept (they were never chained)."""
        if not self.staging.is_dir():
            return
        left = [p for p in self.staging.iterdir() if segment_number(p.name, self.camera) is not None]
        for path in left:
            with contextlib.suppress(OSError):
                path.unlink()
        if left:
            log.info("recording %s: %d undecided segment(s) of the last run dropped", self.camera, len(left))

    def _next_number(self) -> int:
        numbers = [segment_number(p.name, self.camera) for p in self.folder.iterdir()]
        last = self.chain.last
        if last is not None:
            numbers.append(segment_number(last.name, self.camera))
        return max([-1, *(n for n in numbers if n is not None)]) + 1

    # -- the pipeline's side --------------------------------------------------------------------

    def publish(self, message: Message) -> None:
        """A message the pipeline published: events and motion decide what is kept."""
        with self._lock:
            self.retention.observe(message)

    def start(self) -> Recorder:
        log.info(
            "recording %s from %s into %s (%s, key %s)",
            self.camera,
            self.segmenter.name,
            self.folder,
            self.cfg.retain,
            self.key.fingerprint,
        )
        self.segmenter.start()
        return self

    def alive(self) -> bool:
        if isinstance(self.segmenter, EncodedSegmenter):
            return self.segmenter.alive()
        thread = self.segmenter._thread
        return thread is None or thread.is_alive() or self.segmenter.stopping or not self.segmenter.live

    def close(self) -> None:
        """Stop recording: the open segment is closed and decided, the chain's head signed."""
        self.segmenter.stop()
        with self._lock:
            self.retention.end_all()
        self._decide(final=True)
        with self._chain_lock:
            head = self.chain.close()
            if head is not None:
                self._send_head(head)
        self.wear.save()

    # -- segments (the segmenter's thread) ---------------------------------------------------------

    def _on_segment(self, segment: Segment) -> None:
        self._pending.append(segment)
        self._decide()

    def _decide(self, final: bool = False) -> None:
        while self._pending:
            segment = self._pending[0]
            with self._lock:
                keep = self.retention.decide(segment.start_mono_ns, segment.end_mono_ns)
            if keep is None and not final:
                return
            self._pending.popleft()
            if keep:
                self._keep(segment)
            else:
                self.dropped += 1
                with contextlib.suppress(OSError):
                    segment.path.unlink()

    def _keep(self, segment: Segment) -> None:
        target = self.folder / segment.path.name
        try:
            self._write(segment.path, target)
        except OSError as exc:
            self.lost += 1
            with contextlib.suppress(OSError):
                segment.path.unlink()
            why = f"{target.parent} cannot be written ({exc.strerror or exc})"
            if exc.errno == errno.ENOSPC:
                why += ": the disk is full"
            if why != self.last_error:
                log.error("recording %s: %s; segment %s is lost", self.camera, why, target.name)
            self.last_error = why
            return
        self.last_error = ""
        self.kept += 1
        self.wear.add(segment.bytes)
        with self._chain_lock:
            entry = self.chain.append(replace(segment, path=target))
            self._publish(
                Message(self.topics.footage, canonical(entry.record), Kind.FOOTAGE, properties=PROPS)
            )
            if entry.head is not None:
                self._send_head(entry.head)
        self.budget.enforce()

    def _write(self, staged: Path, target: Path) -> None:
        """`staged` into `target`: a rename on one filesystem, else one copy (fsynced), then a rename."""
        part = target.with_name(target.name + ".part")
        try:
            os.replace(staged, part)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            with staged.open("rb") as src, part.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
                dst.flush()
                os.fsync(dst.fileno())
            staged.unlink()
        os.replace(part, target)

    def sign_now(self) -> None:
        """Sign the chain's head now (the station asked for footage: its signature then covers
        every segment it can ask for, not only those before the last `sign_every`)."""
        with self._chain_lock:
            if self.chain.open_for_writing:
                head = self.chain.sign_head()
                if head is not None:
                    self._send_head(head)

    def _send_head(self, head: SignedHead) -> None:
        self._publish(Message(self.topics.footage_heads, canonical(head), Kind.FOOTAGE, properties=PROPS))

    # -- stats --------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        s = self.segmenter.stats
        try:
            used, free = self.budget.used_bytes(), self.budget.free_bytes()
        except OSError:
            used = free = -1
        state = (
            "recording" if s.connected else f"camera lost ({s.last_error})" if s.last_error else "starting"
        )
        return {
            "state": state,
            "retain": self.cfg.retain,
            "segments_kept": self.kept,
            "segments_dropped": self.dropped,
            "segments_lost": self.lost,
            "deleted_by_budget": self.budget.deleted,
            "chain_index": self.chain.next_index - 1,
            "bytes_written_today": self.wear.today(),
            "used_bytes": used,
            "max_bytes": self.cfg.max_bytes,
            "free_bytes": free,
            "key": self.key.fingerprint,
            "public_key": self.key.public_b64,
            "error": self.last_error or None,
        }
