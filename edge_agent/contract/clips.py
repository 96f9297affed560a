"""Pulling footage, version 1: the station asks a pole for segments, the pole sends them in chunks.

The station knows from the chain records (`footage`) which segments exist, so it asks for them by
name: `ClipRequest` on `P/D/cmd/clip` (a command: at most 4 kB, so at most `MAX_SEGMENTS` per
request), each segment with the bytes the station already has (`offset`), so an upload broken by
a pole reboot, a broker restart or a station restart resumes without sending again what arrived.
The pole's reply (`ClipReply` on `P/D/cmd/clip/reply`) says which segments it queued and which it
cannot send and why (`Unavailable`: recorded over by the budget, not on its disk, the disk
unreadable). It then sends each queued segment as chunks of at most `CHUNK_BYTES` on
`P/D/C/footage/chunks`: one line of canonical JSON (`ChunkHeader`), a newline, the bytes. One
chunk is in flight at a time (QoS 1, the next after the broker's PUBACK), at a lower priority than
events and within `recording.upload_kbps`. A segment that becomes unreadable while it is sent is
said on `P/D/C/footage/unavailable` (an `Unavailable` with its request). The pole keeps no upload
state across a restart: the station asks again for what it still lacks.
"""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge_agent.contract.footage import ChainId, FileName, FootageError, Name

CLIP_SCHEMA = "edge-agent/clip/1"
CHUNK_BYTES = 256 * 1024
MAX_SEGMENTS = 48  # a request's JSON stays under the command's 4 kB
MAX_HEADER_BYTES = 1024

RequestId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
Index = Annotated[int, Field(ge=0, lt=2**53)]
Size = Annotated[int, Field(ge=0, lt=2**53)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, populate_by_name=True)


class WantedSegment(_Strict):
    index: Index
    name: FileName
    offset: Size = Field(0, description="bytes of it the station already has: send from here")


class ClipRequest(_Strict):
    schema_: str = Field(CLIP_SCHEMA, alias="schema", pattern=r"^edge-agent/clip/1$")
    request: RequestId
    camera: Name
    chain: ChainId
    segments: list[WantedSegment] = Field(min_length=1, max_length=MAX_SEGMENTS)


class Unavailable(_Strict):
    """A segment the pole cannot send, and why in a sentence."""

    request: RequestId
    camera: Name
    chain: ChainId
    index: Index
    name: FileName
    reason: str = Field(max_length=300)


class ClipReply(_Strict):
    """The pole's reply on `cmd/clip/reply` (every command reply also names its `command`; one the
    pole could not read has no `request`, only `ok: false` and the `error`)."""

    ok: bool
    command: str = Field("clip", max_length=32)
    request: RequestId | None = None
    queued: list[Index] = Field(default_factory=list, max_length=MAX_SEGMENTS)
    unavailable: list[Unavailable] = Field(default_factory=list, max_length=MAX_SEGMENTS)
    error: str = Field("", max_length=500)


class ChunkHeader(_Strict):
    schema_: str = Field(CLIP_SCHEMA, alias="schema", pattern=r"^edge-agent/clip/1$")
    request: RequestId
    camera: Name
    chain: ChainId
    index: Index
    name: FileName
    offset: Size
    size: Size = Field(description="the whole segment's bytes")


def _canonical(model: BaseModel) -> bytes:
    data = model.model_dump(mode="json", by_alias=True)
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def chunk_payload(header: ChunkHeader, data: bytes) -> bytes:
    """One chunk message: the header's canonical JSON, a newline, the bytes."""
    return _canonical(header) + b"\n" + data


def parse_chunk(payload: bytes) -> tuple[ChunkHeader, bytes]:
    """A chunk message's header and bytes, or a FootageError saying why it is not one."""
    line, newline, data = payload.partition(b"\n")
    if not newline or len(line) > MAX_HEADER_BYTES:
        raise FootageError(f"not a footage chunk: no header line of at most {MAX_HEADER_BYTES} bytes")
    try:
        header = ChunkHeader.model_validate_json(line, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the header"
        raise FootageError(f"not a footage chunk: {where}: {first['msg']}") from None
    if header.offset + len(data) > header.size:
        raise FootageError(
            f"not a footage chunk: {len(data)} bytes at {header.offset} run past the segment's {header.size}"
        )
    if len(data) > CHUNK_BYTES:
        raise FootageError(f"not a footage chunk: {len(data)} bytes, more than {CHUNK_BYTES}")
    return header, data


def request_payload(request: ClipRequest) -> bytes:
    return _canonical(request)


def unavailable_payload(notice: Unavailable) -> bytes:
    return _canonical(notice)
