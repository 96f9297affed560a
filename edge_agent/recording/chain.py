"""A camera's hash chain of segment records, kept on the pole as append-only JSON lines.

`Chain.open(directory, device, camera, key)` continues the chain in `{camera}.chain.jsonl`
after a restart: only the file's tail is read (the last record is all that is needed), so
opening stays quick when the file holds months of records. A last line cut by a power cut (no
newline at its end, or not a record) is dropped with a warning and the file truncated to the
last whole record; a bad line earlier stays as it is (the chain's history is never rewritten)
and `read_records` reports it. `append(segment)` writes the segment's record — `prev` the hash
of the previous record's canonical bytes, `index` one more — as one `write()` on an O_APPEND
file, fsynced. Every `sign_every` records and at `close()` the head is signed with the pole's
key into `{camera}.heads.jsonl` (`SignedHead`: device, camera, chain, index, the head record's
hash). A chain begun afresh (no file) gets a new random id, which every record carries.
The models and checks are `edge_agent.contract.footage`, which the station imports to verify.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from edge_agent.contract.footage import (
    ZERO_HASH,
    FootageError,
    SegmentRecord,
    SignedHead,
    canonical,
    head_message,
    parse_head,
    parse_record,
    record_hash,
)
from edge_agent.recording.segmenter import Segment

log = logging.getLogger(__name__)

TAIL_BYTES = 64 * 1024  # a record is well under 4 kB: the last whole one is always in here
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


class Signer(Protocol):
    fingerprint: str

    def sign(self, message: bytes) -> bytes: ...


@dataclass(frozen=True)
class Entry:
    """What `append` added: the record, and the signed head when one was due."""

    record: SegmentRecord
    head: SignedHead | None


def boot_id() -> str:
    """This boot's id (monotonic times are comparable only within one boot); "" if unknown."""
    try:
        return _BOOT_ID.read_text().strip()[:64]
    except OSError:
        return ""


def chain_path(directory: Path, camera: str) -> Path:
    return directory / f"{camera}.chain.jsonl"


def heads_path(directory: Path, camera: str) -> Path:
    return directory / f"{camera}.heads.jsonl"


def read_records(path: Path) -> tuple[list[SegmentRecord], list[str]]:
    """Every record of a chain file, and a sentence for each line that is not one."""
    records: list[SegmentRecord] = []
    problems: list[str] = []
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return records, problems
    lines = data.split(b"\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(parse_record(line))
        except FootageError as exc:
            torn = number == len(lines) and not data.endswith(b"\n")
            problems.append(f"{path.name} line {number}{' (cut short)' if torn else ''}: {exc}")
    return records, problems


def read_heads(path: Path) -> tuple[list[SignedHead], list[str]]:
    heads: list[SignedHead] = []
    problems: list[str] = []
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return heads, problems
    for number, line in enumerate(data.split(b"\n"), 1):
        if line.strip():
            try:
                heads.append(parse_head(line))
            except FootageError as exc:
                problems.append(f"{path.name} line {number}: {exc}")
    return heads, problems


def _recover_tail(path: Path, parse: Callable[[bytes], object], what: str) -> bytes | None:
    """The file's last whole, readable line (None: there is none); anything after it is cut off.

    What follows the last good line is what a power cut leaves: a line cut short, or a block
    of NUL bytes. It is dropped with a warning; nothing before that line is touched.
    """
    with path.open("rb+") as fh:
        size = fh.seek(0, os.SEEK_END)
        start = max(0, size - TAIL_BYTES)
        while True:
            fh.seek(start)
            tail = fh.read()
            good: bytes | None = None
            keep = start
            end = len(tail)
            while end > 0:
                newline = tail.rfind(b"\n", 0, end)
                if newline < 0:
                    break
                begin = tail.rfind(b"\n", 0, newline) + 1
                if begin == 0 and start > 0:
                    break  # this line may begin before the tail
                line = tail[begin:newline]
                if line.strip():
                    try:
                        parse(line)
                    except FootageError:
                        pass
                    else:
                        good, keep = line, start + newline + 1
                        break
                end = begin - 1 if begin > 0 else 0
            if good is not None or start == 0:
                break
            start = 0  # the whole tail was damage: look at the whole file (rare)
        if keep != size:
            log.warning(
                "footage chain: dropped %d damaged bytes after the last whole %s of %s "
                "(a line cut short by a power cut?)",
                size - keep,
                what,
                path,
            )
            fh.truncate(keep)
            os.fsync(fh.fileno())
        return good


class Chain:
    """Appends one camera's records and signs its head."""

    def __init__(
        self,
        directory: Path,
        device: str,
        camera: str,
        key: Signer,
        sign_every: int = 15,
        last: SegmentRecord | None = None,
        last_signed: int | None = None,
    ) -> None:
        self.directory = directory
        self.device = device
        self.camera = camera
        self.key = key
        self.sign_every = max(1, sign_every)
        self.last = last
        self.last_signed = last_signed
        self.chain_id = last.chain if last is not None else secrets.token_hex(8)
        self._boot = boot_id()
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        self._records_fd = os.open(chain_path(directory, camera), flags, 0o644)
        self._heads_fd = os.open(heads_path(directory, camera), flags, 0o644)

    @classmethod
    def open(cls, directory: Path, device: str, camera: str, key: Signer, sign_every: int = 15) -> Chain:
        """The chain in `directory` continued where it stopped (a new one when there is none)."""
        directory.mkdir(parents=True, exist_ok=True)
        last: SegmentRecord | None = None
        last_signed: int | None = None
        records = chain_path(directory, camera)
        if records.exists():
            line = _recover_tail(records, parse_record, "record")
            last = parse_record(line) if line is not None else None
        heads = heads_path(directory, camera)
        if heads.exists():
            line = _recover_tail(heads, parse_head, "signed head")
            last_signed = parse_head(line).index if line is not None else None
        if last is not None and (last.device, last.camera) != (device, camera):
            raise FootageError(
                f"{records} is the chain of {last.device}/{last.camera}, not of {device}/{camera}"
            )
        chain = cls(directory, device, camera, key, sign_every, last, last_signed)
        if last is not None:
            log.info("footage chain %s/%s continues after record %d", device, camera, last.index)
        return chain

    @property
    def open_for_writing(self) -> bool:
        return self._records_fd >= 0

    @property
    def next_index(self) -> int:
        return 0 if self.last is None else self.last.index + 1

    def record_for(self, segment: Segment) -> SegmentRecord:
        return SegmentRecord(
            device=self.device,
            camera=self.camera,
            chain=self.chain_id,
            index=self.next_index,
            prev=ZERO_HASH if self.last is None else record_hash(self.last),
            name=segment.path.name,
            bytes=segment.bytes,
            sha256=segment.sha256,
            start=segment.start,
            end=segment.end,
            clock_synced=segment.clock_synced,
            start_mono_ns=segment.start_mono_ns,
            end_mono_ns=segment.end_mono_ns,
            boot=self._boot,
            duration_ms=round(segment.duration_s * 1000),
            frames=segment.frames,
            keyframes=segment.keyframes,
            codec=segment.codec,
            width=segment.width,
            height=segment.height,
        )

    def append(self, segment: Segment) -> Entry:
        record = self.record_for(segment)
        _write_line(self._records_fd, canonical(record))
        self.last = record
        head = self.sign_head() if (record.index + 1) % self.sign_every == 0 else None
        return Entry(record, head)

    def sign_head(self) -> SignedHead | None:
        """Sign the current head (None when there is no record or it is signed already)."""
        if self.last is None or self.last_signed == self.last.index:
            return None
        digest = record_hash(self.last)
        signature = self.key.sign(
            head_message(self.device, self.camera, self.chain_id, self.last.index, digest)
        )
        head = SignedHead(
            device=self.device,
            camera=self.camera,
            chain=self.chain_id,
            index=self.last.index,
            head=digest,
            time=datetime.now(UTC),
            key=self.key.fingerprint,
            signature=base64.b64encode(signature).decode(),
        )
        _write_line(self._heads_fd, canonical(head))
        self.last_signed = head.index
        return head

    def close(self) -> SignedHead | None:
        """Sign the head if it is not yet, and close the files; the head signed now, if any."""
        if self._records_fd < 0:
            return None
        head = self.sign_head()
        for fd in (self._records_fd, self._heads_fd):
            os.close(fd)
        self._records_fd = self._heads_fd = -1
        return head


def _write_line(fd: int, data: bytes) -> None:
    line = data + b"\n"
    written = os.write(fd, line)
    if written != len(line):  # a full disk mid-line: the torn line is dropped at the next open
        raise OSError(f"only {written} of {len(line)} bytes of a chain line were written")
    os.fsync(fd)
