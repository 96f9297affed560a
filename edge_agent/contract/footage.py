"""Footage evidence, version 1: a camera's segments as a hash chain, its head signed by the pole.

A `SegmentRecord` says what one closed segment file is: its size and sha256, its first and last
frame's wall time (and whether the clock was synchronised) and monotonic time, its frames and
codec. Its `prev` is the sha256 of the previous record's canonical bytes (`canonical`: JSON with
sorted keys and no spaces) and `index` counts up from 0 per camera, so a removed, inserted,
reordered or altered record breaks a link. `chain` names the chain (16 random hex digits made
when it began at index 0, carried by each record), so a chain begun again — a new recording disk,
a pole reinstalled — is told apart from the old one instead of colliding with it. Every few
records the pole signs the head with its own Ed25519 key (`SignedHead`); whoever holds the pole's
public key (32 raw bytes, pinned by the station the first time it sees it) can check that the
chain up to there is the pole's own.

The checks here are pure and name what is wrong in a sentence: `check_chain` (the links),
`check_segment` / `check_segment_file` (a file's bytes against its record), `check_head` (a
signature against a public key), `time_gaps` (stretches with no footage). The pole and the
station both import this module; it needs only pydantic, cryptography and the standard library.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_serializer, field_validator

FOOTAGE_SCHEMA = "edge-agent/footage/1"
ZERO_HASH = "0" * 64  # the `prev` of a camera's first record
HEAD_DOMAIN = b"edge-agent footage head v1\n"  # signed bytes start with this: never a valid other message
MAX_RECORD_BYTES = 4096

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Name = Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,64}$")]
FileName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,128}$")]
ChainId = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]


class FootageError(ValueError):
    """A chain line or head that cannot be read, with a sentence saying why."""


def _utc(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ValueError("must carry a time zone (UTC)")
    try:
        t = t.astimezone(UTC)
    except OverflowError:  # year 1 at +01:00, year 9999 at -01:00
        raise ValueError("is out of range in UTC") from None
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SegmentRecord(_Strict):
    """One closed segment of one camera, as a link of that camera's chain."""

    schema_: str = Field(FOOTAGE_SCHEMA, alias="schema", pattern=r"^edge-agent/footage/1$")
    device: Name
    camera: Name
    chain: ChainId = Field(description="the chain's id, random when it began at index 0")
    index: int = Field(ge=0, lt=2**53, description="0 for the camera's first segment, then +1 each")
    prev: Sha256 = Field(description="sha256 of the previous record's canonical bytes (zeros: first)")
    name: FileName = Field(description="the segment's file name in the pole's recording folder")
    bytes: int = Field(ge=0, lt=2**53)
    sha256: Sha256
    start: datetime = Field(description="wall time (UTC) of the first frame, from receipt and pts")
    end: datetime = Field(description="wall time (UTC) of the last frame")
    clock_synced: bool = Field(description="whether the pole's clock was NTP-synchronised")
    start_mono_ns: int = Field(ge=0, lt=2**63, description="CLOCK_MONOTONIC of the first frame")
    end_mono_ns: int = Field(ge=0, lt=2**63)
    boot: str = Field("", max_length=64, description="the boot the monotonic times belong to")
    duration_ms: int = Field(ge=0, lt=2**53, description="from the first frame's pts to after the last")
    frames: int = Field(ge=0, lt=2**53)
    keyframes: int = Field(ge=0, lt=2**53)
    codec: str = Field(max_length=32, pattern=r"^[a-z0-9_]*$")
    width: int = Field(ge=0, le=65535)
    height: int = Field(ge=0, le=65535)

    model_config = ConfigDict(populate_by_name=True)

    @field_validator("start", "end")
    @classmethod
    def _utc_times(cls, t: datetime) -> datetime:
        return _utc(t)

    @field_serializer("start", "end")
    def _times(self, t: datetime) -> str:
        return _iso(t)


class SignedHead(_Strict):
    """The pole's signature over a chain's head: (device, camera, chain, index, sha256 of that record)."""

    schema_: str = Field(FOOTAGE_SCHEMA, alias="schema", pattern=r"^edge-agent/footage/1$")
    device: Name
    camera: Name
    chain: ChainId
    index: int = Field(ge=0, lt=2**53)
    head: Sha256 = Field(description="sha256 of the canonical bytes of record `index`")
    time: datetime = Field(description="when the pole signed (its clock)")
    key: str = Field(pattern=r"^[0-9a-f]{16}$", description="fingerprint of the signing key")
    signature: str = Field(pattern=r"^[A-Za-z0-9+/]{86}==$", description="Ed25519, base64")

    model_config = ConfigDict(populate_by_name=True)

    @field_validator("time")
    @classmethod
    def _utc_time(cls, t: datetime) -> datetime:
        return _utc(t)

    @field_serializer("time")
    def _time(self, t: datetime) -> str:
        return _iso(t)


def canonical(model: BaseModel) -> bytes:
    """The bytes that are hashed and signed: JSON, sorted keys, no spaces, UTF-8."""
    data = model.model_dump(mode="json", by_alias=True)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(record: SegmentRecord) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


def key_fingerprint(public_key: bytes) -> str:
    """A short name for a raw Ed25519 public key: the first 16 hex digits of its sha256."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def head_message(device: str, camera: str, chain: str, index: int, head: str) -> bytes:
    """What the pole signs for a head: a fixed domain line, then canonical JSON of the five."""
    body = {"camera": camera, "chain": chain, "device": device, "head": head, "index": index}
    return HEAD_DOMAIN + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _parse(model: type[BaseModel], line: bytes | str, what: str) -> Any:
    if isinstance(line, str):
        line = line.encode("utf-8", "surrogatepass")
    if len(line) > MAX_RECORD_BYTES:
        raise FootageError(f"a {what} is at most {MAX_RECORD_BYTES} bytes; this line has {len(line)}")
    try:
        data = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise FootageError(f"not a {what}: not JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise FootageError(f"not a {what}: not a JSON object")
    try:
        return model.model_validate_json(line, strict=True)  # strict: "10" is not a number
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the line"
        raise FootageError(f"not a {what}: {where}: {first['msg']}") from None


def parse_record(line: bytes | str) -> SegmentRecord:
    """A chain line as a record, or a FootageError saying why not."""
    record: SegmentRecord = _parse(SegmentRecord, line, "segment record")
    return record


def parse_head(line: bytes | str) -> SignedHead:
    """A heads line as a signed head, or a FootageError saying why not."""
    head: SignedHead = _parse(SignedHead, line, "signed head")
    return head


def _label(r: SegmentRecord) -> str:
    return f"record {r.index} ({r.name})"


def check_chain(
    records: Sequence[SegmentRecord],
    device: str | None = None,
    camera: str | None = None,
    prev: str | None = None,
) -> list[str]:
    """What is wrong with `records` as consecutive links of one camera's chain; empty: nothing.

    `device` / `camera` default to the first record's; `prev` is the hash of the record before the
    first one when the caller has it (a range from the middle). A chain starting at index 0 must
    start from the zero hash.
    """
    problems: list[str] = []
    if not records:
        return problems
    device = device or records[0].device
    camera = camera or records[0].camera
    chain = records[0].chain
    before: SegmentRecord | None = None
    for r in records:
        if (r.device, r.camera) != (device, camera):
            problems.append(
                f"{_label(r)} is from {r.device}/{r.camera}, not {device}/{camera}: "
                "it was spliced in from another chain"
            )
        elif r.chain != chain:
            problems.append(
                f"{_label(r)} belongs to chain {r.chain} of {device}/{camera}, not to chain {chain}: "
                "it was spliced in from another chain"
            )
        if before is None:
            if r.index == 0 and r.prev != ZERO_HASH:
                problems.append(f"{_label(r)} is the first of the chain but does not start from zero")
            elif prev is not None and r.prev != prev:
                problems.append(f"{_label(r)} does not follow the record before the range")
        else:
            if r.index <= before.index:
                problems.append(
                    f"{_label(r)} comes after record {before.index}: the records are out of order or repeated"
                )
            elif r.index != before.index + 1:
                missing = (
                    f"record {before.index + 1} is"
                    if r.index == before.index + 2
                    else f"records {before.index + 1} to {r.index - 1} are"
                )
                problems.append(f"{missing} missing: the chain jumps from {before.index} to {r.index}")
            elif r.prev != record_hash(before):
                problems.append(
                    f"{_label(r)} does not link to {_label(before)}: its prev is not that record's "
                    "hash (one of the two was altered or replaced)"
                )
        before = r
    return problems


def check_segment(record: SegmentRecord, sha256: str, size: int) -> list[str]:
    """Whether a file's sha256 and size are the ones its record says."""
    if size != record.bytes:
        return [f"segment {record.name} has {size} bytes; {_label(record)} says {record.bytes}"]
    if sha256 != record.sha256:
        return [
            f"segment {record.name}'s bytes are not the ones the pole recorded: its sha256 is "
            f"{sha256[:16]}…, {_label(record)} says {record.sha256[:16]}…"
        ]
    return []


def file_sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def check_segment_file(record: SegmentRecord, path: Path) -> list[str]:
    """`check_segment` on a file (streamed); a missing file is named too."""
    try:
        size = path.stat().st_size
        digest = file_sha256(path)
    except OSError as exc:
        return [f"segment {record.name} cannot be read: {exc.strerror or exc}"]
    return check_segment(record, digest, size)


def public_key_from(raw_or_b64: bytes | str) -> bytes:
    """32 raw bytes of an Ed25519 public key, from raw bytes or base64 text."""
    if isinstance(raw_or_b64, str):
        try:
            raw_or_b64 = base64.b64decode(raw_or_b64, validate=True)
        except (binascii.Error, ValueError):
            raise FootageError("the public key is not base64") from None
    if len(raw_or_b64) != 32:
        raise FootageError(f"an Ed25519 public key is 32 bytes, not {len(raw_or_b64)}")
    return raw_or_b64


def check_head(head: SignedHead, public_key: bytes, record: SegmentRecord | None = None) -> list[str]:
    """Whether `head` is signed by the key `public_key` (32 raw bytes) and names `record`."""
    problems: list[str] = []
    where = f"the signed head at record {head.index} of {head.device}/{head.camera}"
    if record is not None:
        if (record.device, record.camera, record.chain, record.index) != (
            head.device,
            head.camera,
            head.chain,
            head.index,
        ):
            problems.append(f"{where} is not about {_label(record)} of {record.device}/{record.camera}")
        elif record_hash(record) != head.head:
            problems.append(f"{where} does not name {_label(record)} as it is now: the record was altered")
    try:
        key = Ed25519PublicKey.from_public_bytes(public_key_from(public_key))
    except (FootageError, ValueError) as exc:
        return [*problems, f"{where} cannot be checked: {exc}"]
    expected = key_fingerprint(public_key)
    try:
        signature = base64.b64decode(head.signature, validate=True)
        key.verify(signature, head_message(head.device, head.camera, head.chain, head.index, head.head))
    except (InvalidSignature, binascii.Error, ValueError):
        signer = "" if head.key == expected else f" (it names key {head.key})"
        problems.append(
            f"{where} is not signed by the pole's key {expected}{signer}: the chain was re-signed or altered"
        )
    return problems


def time_gaps(records: Sequence[SegmentRecord], max_gap_s: float) -> list[str]:
    """Stretches longer than `max_gap_s` between one segment's last frame and the next one's first."""
    gaps: list[str] = []
    for a, b in itertools.pairwise(records):
        same_boot = bool(a.boot) and a.boot == b.boot  # then the monotonic clock is immune to NTP steps
        gap = (b.start_mono_ns - a.end_mono_ns) / 1e9 if same_boot else (b.start - a.end).total_seconds()
        if gap > max_gap_s:
            gaps.append(
                f"no footage for {gap:.1f} s between record {a.index} (ends {_iso(a.end)}) and "
                f"record {b.index} (starts {_iso(b.start)})"
            )
    return gaps
