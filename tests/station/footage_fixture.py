"""A clip pulled into a station from real segments (the demo clip cut by the pole's own segmenter),
placed in time where an archived event is: the chain records, the pole's key and the chunks go
through the station's real classify → archive path, as a pole would send them."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from edge_agent.contract import Topics
from edge_agent.contract.clips import CHUNK_BYTES, ChunkHeader, chunk_payload
from edge_agent.contract.footage import canonical
from edge_agent.recording.chain import Chain
from edge_agent.recording.keys import PoleKey
from edge_agent.recording.segment_file import Segment
from edge_agent.recording.segmenter import Segmenter
from edge_agent.station.footage.requests import ask_event, status
from edge_agent.station.ingest.archive import Archive, Received
from edge_agent.station.ingest.inbox import classify
from edge_agent.station.store.footage_files import FootageFiles
from tests.rtsp_server import h264_clip


def real_segments(work: Path, segment_s: float = 2.0) -> list[Segment]:
    out: list[Segment] = []
    Segmenter(str(h264_clip(work / "clips", 12)), work / "cut", segment_s=segment_s, live=False,
              on_segment=out.append).run()  # fmt: skip
    return out


def pull_clip(
    engine: Engine, files: FootageFiles, work: Path, device: str, event_id: str, around: datetime, n: int = 4
) -> int:
    """Record `n` real segments from 3 s before `around`, pull the event's clip; the request id."""
    topics = Topics("edge", device, "cam0")
    key = PoleKey.load_or_create(work / "pole-state")
    chain = Chain.open(work / "pole-rec", device, "cam0", key, sign_every=100)
    archive = Archive(engine, files)
    msgs = [(topics.stats, json.dumps({"recording": {"public_key": key.public_b64}}).encode())]
    at = around - timedelta(seconds=3)
    placed = []
    for seg in real_segments(work)[:n]:
        seg = replace(seg, start=at, end=at + timedelta(seconds=seg.duration_s - 0.08))
        at += timedelta(seconds=seg.duration_s)
        msgs.append((topics.footage, canonical(chain.append(seg).record)))
        placed.append(seg)
    head = chain.close()
    assert head is not None
    msgs.append((topics.footage_heads, canonical(head)))
    archive.store([Received("ward", 1, classify("edge", t, p, 4 * 2**20)) for t, p in msgs])
    with engine.begin() as conn:
        rid = ask_event(conn, device, event_id, "police1", 2, 2)
        st = status(conn, rid)
    assert st is not None
    chunks = []
    for s in st.segments:
        data = placed[s.idx].path.read_bytes()
        for off in range(0, len(data), CHUNK_BYTES):
            h = ChunkHeader(request="t1", camera="cam0", chain=chain.chain_id, index=s.idx, name=s.name,
                            offset=off, size=len(data))  # fmt: skip
            chunks.append((topics.footage_chunks, chunk_payload(h, data[off : off + CHUNK_BYTES])))
    archive.store([Received("ward", 2, classify("edge", t, p, 4 * 2**20)) for t, p in chunks])
    return rid
