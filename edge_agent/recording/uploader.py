"""Footage the station asks for, sent in chunks: the pole's half of `edge_agent.contract.clips`.

`Uploader.request(args)` is the `clip` command: it checks the `ClipRequest`, looks each wanted
segment up in the recording folder and answers at once (`ClipReply`: what it queued, what it
cannot send and why). Only a regular file directly in the folder named as one of this camera's
segments is ever read: a path, a link, a chain file or another camera's segment is refused. A
queued segment is held in the `Budget` (not deleted as the oldest) until it is sent or dropped.
The same (chain, index) asked again replaces its item (the new offset, the same place in the
queue); at most `MAX_QUEUE` segments wait.

The thread sends the queue in order, one chunk in flight at a time through `publish_now` (QoS 1
outside the outbox: footage is never copied onto the SD card), the next after the PUBACK, only
while delivery is connected and the outbox holds at most `MAX_DEPTH` messages (events first),
paced by a token bucket at `recording.upload_kbps`. A failed chunk is sent again once connected;
one failing `MAX_ATTEMPTS` times while connected (the broker's ACL) ends the queue rather than
being retried forever. A segment that vanishes, changes or cannot be read mid-upload is said on
`footage/unavailable` (through the outbox) and dropped; one without progress for `STALE_S` is
dropped. Nothing survives a restart: the station asks again for what it lacks.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from edge_agent.contract import Kind, Message, Topics
from edge_agent.contract.clips import (
    CHUNK_BYTES,
    CLIP_SCHEMA,
    ChunkHeader,
    ClipReply,
    ClipRequest,
    Unavailable,
    WantedSegment,
    chunk_payload,
    unavailable_payload,
)
from edge_agent.recording.budget import Budget
from edge_agent.recording.segment_file import segment_number

log = logging.getLogger(__name__)

MAX_QUEUE = 512  # segments queued at once (about 2 GB of 4 s segments)
MAX_DEPTH = 5  # footage waits while the outbox holds more than this
STALE_S = 3600.0  # an item without progress this long is dropped
PUBACK_TIMEOUT_S = 60.0
MAX_ATTEMPTS = 3  # failures of one chunk while connected before the queue is given up
IDLE_S = 0.25  # the longest wait of the thread: stop() is seen within it
RETRY_S = 1.0
RATE_WINDOW_S = 10.0
REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
PROPS = {"schema": CLIP_SCHEMA}

RECORDED_OVER = "recorded over: the recording budget deleted the oldest footage"
NOT_ON_DISK = "not on this pole's recording disk (deleted, or lost when the disk failed)"
QUEUE_FULL = "the pole's upload queue is full, ask again later"
NOT_A_SEGMENT = "not the name of one of this camera's segments: nothing is sent"
NOT_A_FILE = "not a regular file on the pole's recording disk (a link or a folder): nothing is sent"


class PublishNow(Protocol):
    def __call__(
        self, topic: str, payload: bytes, timeout_s: float, cancel: threading.Event | None = None
    ) -> bool: ...


@dataclass
class _Item:
    request: str
    chain: str
    index: int
    name: str
    offset: int
    size: int
    touched: float  # monotonic: when queued or its last chunk was acknowledged


class TokenBucket:
    """`rate` bytes a second with a burst of `burst` bytes."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens, self.at = float(burst), clock()

    def delay(self, n: int, take: bool = False) -> float:
        """Seconds until `n` bytes may go; with `take`, they go now (the bucket may go below 0)."""
        now = self.clock()
        self.tokens, self.at = min(self.burst, self.tokens + (now - self.at) * self.rate), now
        self.tokens -= n if take else 0
        return max(0.0, (min(n, self.burst) - self.tokens) / self.rate)


class Uploader:
    def __init__(
        self,
        folder: Path,
        budget: Budget,
        camera: str,
        topics: Topics,
        publish_now: PublishNow,
        publish: Callable[[Message], None],
        connected: Callable[[], bool],
        depth: Callable[[], int],
        upload_kbps: int,
        max_queue: int = MAX_QUEUE,
        stale_s: float = STALE_S,
    ) -> None:
        self.folder = folder
        self.budget = budget
        self.camera = camera
        self.topics = topics
        self._publish_now = publish_now
        self._publish = publish
        self._connected = connected
        self._depth = depth
        self.max_queue = max_queue
        self.stale_s = stale_s
        self.bucket = TokenBucket(upload_kbps * 1000 / 8, CHUNK_BYTES)
        self.sent_bytes = self.sent_segments = 0
        self._queue: OrderedDict[tuple[str, int], _Item] = OrderedDict()
        self._lock = threading.Lock()
        self._recent: deque[tuple[float, int]] = deque()  # (when, bytes) acknowledged
        self._failures = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"upload:{camera}", daemon=True)

    # -- the `clip` command (paho's thread) ---------------------------------------------------

    def request(self, args: dict[str, Any]) -> dict[str, Any]:
        """Queue what a `ClipRequest` asks for; the `ClipReply` as a dict."""
        try:
            req = ClipRequest.model_validate(args, strict=True)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "the request"
            return self._error(args, f"not a clip request: {where}: {first['msg']}")
        if req.camera != self.camera:
            return self._error(args, f"this pole records camera {self.camera}, not {req.camera}")
        queued: list[int] = []
        unavailable: list[Unavailable] = []
        with self._lock:
            oldest: list[int | None] = []  # the folder's oldest number, looked up once when needed
            for wanted in req.segments:
                reason = self._queue_one(req, wanted, oldest)
                if reason is not None:
                    unavailable.append(
                        self._notice(req.request, req.chain, wanted.index, wanted.name, reason)
                    )
                elif wanted.index not in queued:
                    queued.append(wanted.index)
        if queued:
            self._wake.set()
        reply = ClipReply(ok=True, request=req.request, queued=queued, unavailable=unavailable)
        return reply.model_dump(mode="json")

    def _error(self, args: dict[str, Any], error: str) -> dict[str, Any]:
        request = args.get("request")
        request = request if isinstance(request, str) and REQUEST_ID.match(request) else None
        return ClipReply(ok=False, request=request, error=error[:500]).model_dump(mode="json")

    def _notice(self, request: str, chain: str, index: int, name: str, reason: str) -> Unavailable:
        return Unavailable(
            request=request, camera=self.camera, chain=chain, index=index, name=name, reason=reason[:300]
        )

    def _queue_one(self, req: ClipRequest, wanted: WantedSegment, oldest: list[int | None]) -> str | None:
        """Queue one segment (the lock held); None, or why it cannot be sent."""
        number = segment_number(wanted.name, self.camera)
        if number is None or wanted.name.endswith(".part"):
            return NOT_A_SEGMENT
        key = (req.chain, wanted.index)
        existing = self._queue.get(key)
        if existing is None and len(self._queue) >= self.max_queue:
            return QUEUE_FULL
        self.budget.hold([wanted.name])  # first: the budget must not delete it once it is found
        reason, size = self._look(wanted, number, oldest)
        if reason is None:  # a key asked again keeps its place in the queue, with the new offset
            self._queue[key] = _Item(
                req.request, req.chain, wanted.index, wanted.name, wanted.offset, size, time.monotonic()
            )
        elif existing is not None:  # what the station asks now stands: the old item goes
            del self._queue[key]
        if existing is not None and existing.name != wanted.name:
            self._release_unused(existing.name)
        if reason is not None:
            self._release_unused(wanted.name)
        return reason

    def _look(self, wanted: WantedSegment, number: int, oldest: list[int | None]) -> tuple[str | None, int]:
        """(None, the file's size) when it can be sent from the offset, else (why not, 0)."""
        try:
            info = os.lstat(self.folder / wanted.name)
        except FileNotFoundError:
            try:
                if not oldest:
                    oldest.append(self._oldest_number())
            except OSError as exc:
                return f"the recording disk cannot be read: {exc.strerror or exc}", 0
            first = oldest[0]
            return (RECORDED_OVER if first is not None and number < first else NOT_ON_DISK), 0
        except OSError as exc:
            return f"the recording disk cannot be read: {exc.strerror or exc}", 0
        if not stat.S_ISREG(info.st_mode):
            return NOT_A_FILE, 0
        if wanted.offset > info.st_size:
            return f"the station asks from byte {wanted.offset} but the segment has {info.st_size}", 0
        return None, info.st_size

    def _oldest_number(self) -> int | None:
        numbers = []
        with os.scandir(self.folder) as it:
            for entry in it:
                n = segment_number(entry.name, self.camera)
                if n is not None and not entry.name.endswith(".part"):
                    numbers.append(n)
        return min(numbers, default=None)

    def _release_unused(self, name: str) -> None:
        """Release `name` in the budget unless a queued item still needs it (the lock held)."""
        if not any(item.name == name for item in self._queue.values()):
            self.budget.release([name])

    def _remove(self, item: _Item) -> bool:
        """Take `item` out of the queue if it is still there (the lock held); whether it was."""
        key = (item.chain, item.index)
        if self._queue.get(key) is not item:
            return False
        del self._queue[key]
        self._release_unused(item.name)
        return True

    # -- the thread ---------------------------------------------------------------------------

    def start(self) -> Uploader:
        self._thread.start()
        return self

    def alive(self) -> bool:
        return self._thread.is_alive() or self._stop.is_set()

    def stop(self) -> None:
        """End the thread (any thread; within a second) and release every held segment."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        with self._lock:
            for item in list(self._queue.values()):
                self._remove(item)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._turn()
            except Exception:
                log.exception("upload of %s's footage failed; carrying on", self.camera)
                self._stop.wait(RETRY_S)

    def _turn(self) -> None:
        with self._lock:
            self._drop_stale()
            item = next(iter(self._queue.values()), None)
            offset = item.offset if item is not None else 0
        if item is None:
            self._wake.wait(IDLE_S)
            self._wake.clear()
            return
        if not self._connected() or self._depth() > MAX_DEPTH:
            self._stop.wait(IDLE_S)
            return
        n = min(CHUNK_BYTES, item.size - offset)
        wait = self.bucket.delay(n)
        if wait > 0:
            self._stop.wait(min(wait, IDLE_S))
            return
        data = self._read(item, offset, n)
        if data is None:
            return
        header = ChunkHeader(
            request=item.request,
            camera=self.camera,
            chain=item.chain,
            index=item.index,
            name=item.name,
            offset=offset,
            size=item.size,
        )
        self.bucket.delay(n, take=True)
        topic = self.topics.footage_chunks
        if self._publish_now(topic, chunk_payload(header, data), PUBACK_TIMEOUT_S, self._stop):
            self._failures = 0
            self._acknowledged(item, offset, n)
        elif self._connected() and not self._stop.is_set():
            self._failed()

    def _read(self, item: _Item, offset: int, n: int) -> bytes | None:
        """`n` bytes of the item's file at `offset`; None when it cannot be read (said and dropped)."""
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.folder / item.name, flags)  # a name checked by segment_number: no path
            try:
                info = os.fstat(fd)
                size = info.st_size if stat.S_ISREG(info.st_mode) else -1
                data = os.pread(fd, n, offset) if size == item.size else b""
            finally:
                os.close(fd)
        except FileNotFoundError:
            reason = "deleted from the pole's recording disk while it was sent"
        except OSError as exc:
            reason = f"the recording disk cannot be read: {exc.strerror or exc}"
        else:
            if size == item.size and len(data) == n:
                return data
            reason = f"changed on the pole's recording disk while it was sent (from {item.size} bytes)"
        self._unreadable(item, reason)
        return None

    def _unreadable(self, item: _Item, reason: str) -> None:
        with self._lock:
            if not self._remove(item):
                return
        log.warning("upload: %s cannot be sent: %s", item.name, reason)
        self._say_unavailable(item, reason)

    def _say_unavailable(self, item: _Item, reason: str) -> None:
        notice = self._notice(item.request, item.chain, item.index, item.name, reason)
        payload = unavailable_payload(notice)
        self._publish(Message(self.topics.footage_unavailable, payload, Kind.FOOTAGE, properties=PROPS))

    def _acknowledged(self, item: _Item, offset: int, n: int) -> None:
        now = time.monotonic()
        with self._lock:
            self.sent_bytes += n
            self._recent.append((now, n))
            if self._queue.get((item.chain, item.index)) is not item or item.offset != offset:
                return  # asked again meanwhile: the new offset stands
            item.offset, item.touched = offset + n, now
            if item.offset >= item.size:
                self._remove(item)
                self.sent_segments += 1

    def _failed(self) -> None:
        """A chunk failed while connected: again after a pause, or give the queue up."""
        self._failures += 1
        if self._failures < MAX_ATTEMPTS:
            self._stop.wait(RETRY_S)
            return
        self._failures = 0
        with self._lock:
            items = list(self._queue.values())
            for item in items:
                self._remove(item)
        reason = f"the broker did not take the pole's footage chunks ({MAX_ATTEMPTS} attempts)"
        log.error("upload: %s; %d queued segment(s) dropped (check its ACL)", reason, len(items))
        for item in items:
            self._say_unavailable(item, reason)

    def _drop_stale(self) -> None:
        """Drop items without progress for `stale_s` (the lock held)."""
        now = time.monotonic()
        stale = [item for item in self._queue.values() if now - item.touched > self.stale_s]
        for item in stale:
            self._remove(item)
        if stale:
            log.info("upload: %d segment(s) without progress for %.0f s dropped", len(stale), self.stale_s)

    # -- stats --------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:
            while self._recent and now - self._recent[0][0] > RATE_WINDOW_S:
                self._recent.popleft()
            window = sum(n for _, n in self._recent)
            return {
                "queued": len(self._queue),
                "sent_bytes": self.sent_bytes,
                "sent_segments": self.sent_segments,
                "rate_kbps": round(window * 8 / 1000 / RATE_WINDOW_S, 1),
            }
