"""A case's footage in its bag: the segments as the pole recorded them, and the pole's own proof.

For every clip of the case's events (`footage/clips.json` says which segments each one is and
where each stands), the bag holds under `data/footage/<pole>/<camera>/<chain>/`:

    segments/<index>.mp4   every verified segment, the bytes the pole recorded
    records.jsonl          the chain's records from the clip's first segment up to the first
                           signed head at or after its last one, as the pole hashed them
    heads.jsonl            the signed heads among them (the last one covers the whole run)

and `data/footage/<pole>/pole-key.json`, the pole's public key the station pinned the first time
it saw it. `edge-agent station verify` checks all of it without the station (`footage_check`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, and_, select

from edge_agent.station.evidence.bag import EvidenceFile
from edge_agent.station.footage.requests import requests_for
from edge_agent.station.store.footage_files import FootageFiles, SegmentKey
from edge_agent.station.store.footage_tables import footage_heads, footage_segments, pole_keys


def footage_files(
    conn: Connection, files: FootageFiles | None, events: list[tuple[str, str]]
) -> Iterator[EvidenceFile]:
    """The bag files of the clips of `events` ((device, event id) pairs); nothing when none."""
    clips: list[dict[str, Any]] = []
    runs: dict[tuple[str, str, str], tuple[int, int]] = {}  # (device, camera, chain) -> index range
    verified: set[SegmentKey] = set()
    for device, event_id in events:
        for st in requests_for(conn, device=device, event_id=event_id):
            clips.append(
                {
                    **{k: v for k, v in st.as_dict().items() if k != "problems"},
                    "problems": st.as_dict()["problems"],
                    "segment_list": [
                        {"chain": s.chain, "index": s.idx, "name": s.name, "state": s.state}
                        for s in st.segments
                    ],
                }
            )
            for s in st.segments:
                key = (st.device, st.camera, s.chain)
                lo, hi = runs.get(key, (s.idx, s.idx))
                runs[key] = (min(lo, s.idx), max(hi, s.idx))
                if s.state == "verified":
                    verified.add(SegmentKey(st.device, st.camera, s.chain, s.idx))
    if not clips:
        return
    yield EvidenceFile("footage/clips.json", json.dumps(clips, indent=2, sort_keys=True).encode())
    for (device, camera, chain), (lo, hi) in sorted(runs.items()):
        base = f"footage/{device}/{camera}/{chain}"
        h = footage_heads.c
        covering = conn.execute(
            select(h.idx, h.raw)
            .where(and_(h.device == device, h.camera == camera, h.chain == chain, h.idx >= lo))
            .order_by(h.idx)
        ).all()
        last = next((r.idx for r in covering if r.idx >= hi), hi)
        s = footage_segments.c
        records = conn.execute(
            select(s.raw)
            .where(and_(s.device == device, s.camera == camera, s.chain == chain, s.idx >= lo, s.idx <= last))
            .order_by(s.idx)
        ).scalars()
        yield EvidenceFile(f"{base}/records.jsonl", b"".join(bytes(r) + b"\n" for r in records))
        heads = b"".join(bytes(r.raw) + b"\n" for r in covering if r.idx <= last)
        yield EvidenceFile(f"{base}/heads.jsonl", heads)
        if files is not None:
            for key in sorted(
                k for k in verified if (k.device, k.camera, k.chain) == (device, camera, chain)
            ):
                path = files.path(key)
                if path.exists():
                    yield EvidenceFile(f"{base}/segments/{key.idx:012d}.mp4", path.read_bytes())
    for device in sorted({d for d, _, _ in runs}):
        pin = conn.execute(select(pole_keys).where(pole_keys.c.device == device)).first()
        body = (
            {"device": device, "public_key": None, "note": "the station never saw this pole's key"}
            if pin is None
            else {
                "device": device,
                "public_key": pin.public_key,
                "fingerprint": pin.fingerprint,
                "pinned_us": pin.pinned_us,
                "offered_fingerprint": pin.offered_fingerprint,
            }
        )
        yield EvidenceFile(
            f"footage/{device}/pole-key.json", json.dumps(body, indent=2, sort_keys=True).encode()
        )
