"""The station learns what footage a pole recorded before any video moves (SQLite and PostgreSQL).

A real chain, written by the pole's own `Chain` and signed with a real `PoleKey`, is fed to the
archive as the MQTT messages the pole sends: every link is checked (in order or not), the heads
are verified with the key pinned from the pole's stats (once it comes), duplicates are dropped,
and a forged record, a record spliced from another chain, a head signed by another key and a
changed pole key are each caught and said.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from edge_agent.contract import Topics
from edge_agent.contract.footage import canonical, head_message
from edge_agent.recording.chain import Chain
from edge_agent.recording.keys import PoleKey
from edge_agent.recording.segment_file import Segment
from edge_agent.station.ingest.archive import Archive, Received
from edge_agent.station.ingest.inbox import Reject, classify
from edge_agent.station.store.engine import connect
from edge_agent.station.store.footage_tables import footage_heads, footage_segments, pole_keys
from edge_agent.station.store.ops import read_counters
from edge_agent.station.store.schema import rejects

T0 = datetime(2026, 12, 7, 21, 10, tzinfo=UTC)
TOPICS = Topics("edge", "pole17", "cam0")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    e = connect(db_url)
    yield e
    e.dispose()


def segment(n: int, tmp: Path) -> Segment:
    start = T0 + timedelta(seconds=4 * n)
    return Segment(
        path=tmp / f"cam0-{n:08d}.mp4",
        bytes=500_000 + n,
        sha256=f"{n:064x}",
        start=start,
        end=start + timedelta(seconds=3.96),
        start_mono_ns=(1000 + 4 * n) * 10**9,
        end_mono_ns=(1000 + 4 * n) * 10**9 + 3_960_000_000,
        clock_synced=True,
        duration_s=4.0,
        frames=100,
        keyframes=2,
        codec="h264",
        width=1920,
        height=1080,
        ended_by="length",
    )


def pole_chain(tmp: Path, n: int, key: PoleKey, sign_every: int = 4) -> list[tuple[str, bytes]]:
    """The messages a pole sends for `n` segments: each record, and a head every `sign_every`."""
    chain = Chain.open(tmp / "rec", "pole17", "cam0", key, sign_every)
    out: list[tuple[str, bytes]] = []
    for i in range(n):
        entry = chain.append(segment(i, tmp))
        out.append((TOPICS.footage, canonical(entry.record)))
        if entry.head is not None:
            out.append((TOPICS.footage_heads, canonical(entry.head)))
    head = chain.close()
    if head is not None:
        out.append((TOPICS.footage_heads, canonical(head)))
    return out


def stats(key: PoleKey) -> tuple[str, bytes]:
    body = {"recording": {"key": key.fingerprint, "public_key": key.public_b64}, "uptime_s": 5}
    return TOPICS.stats, json.dumps(body).encode()


def feed(archive: Archive, *messages: tuple[str, bytes], at: int = 1_000) -> None:
    archive.store([Received("ward", at, classify("edge", t, p, 4 * 2**20)) for t, p in messages])


def rows(engine: Engine, table: object) -> list[object]:
    with engine.connect() as conn:
        return list(conn.execute(select(table).order_by(*table.primary_key.columns)))  # type: ignore[attr-defined]


def test_a_chain_in_order_links_and_its_heads_verify_once_the_key_is_pinned(
    engine: Engine, tmp_path: Path
) -> None:
    key = PoleKey.load_or_create(tmp_path / "state")
    msgs = pole_chain(tmp_path, 10, key)
    archive = Archive(engine)
    feed(archive, *msgs)  # the heads come before the pole's stats: no key yet
    assert {h.status for h in rows(engine, footage_heads)} == {"no key"}
    feed(archive, stats(key), at=2_000)
    segs = rows(engine, footage_segments)
    assert [s.idx for s in segs] == list(range(10))
    assert [s.link for s in segs] == ["first"] + ["ok"] * 9
    heads = rows(engine, footage_heads)
    assert [h.idx for h in heads] == [3, 7, 9] and {h.status for h in heads} == {"ok"}
    (pin,) = rows(engine, pole_keys)
    assert pin.fingerprint == key.fingerprint and pin.offered_fingerprint is None
    feed(archive, *msgs, at=3_000)  # QoS 1 delivers twice: nothing new, nothing refused
    assert len(rows(engine, footage_segments)) == 10 and not rows(engine, rejects)
    with engine.connect() as conn:
        assert read_counters(conn)["duplicates"] >= 13


def test_records_out_of_order_settle_their_links(engine: Engine, tmp_path: Path) -> None:
    key = PoleKey.load_or_create(tmp_path / "state")
    msgs = [m for m in pole_chain(tmp_path, 6, key) if m[0] == TOPICS.footage]
    archive = Archive(engine)
    feed(archive, stats(key))
    feed(archive, *msgs[3:])
    assert [s.link for s in rows(engine, footage_segments)] == ["waiting", "ok", "ok"]
    feed(archive, *msgs[:3], at=2_000)
    assert [s.link for s in rows(engine, footage_segments)] == ["first"] + ["ok"] * 5


def test_a_forged_record_a_spliced_one_and_a_foreign_signature_are_caught(
    engine: Engine, tmp_path: Path
) -> None:
    key = PoleKey.load_or_create(tmp_path / "state")
    msgs = pole_chain(tmp_path, 8, key)
    records = [p for t, p in msgs if t == TOPICS.footage]
    archive = Archive(engine)
    feed(archive, stats(key), *msgs[:-1])
    # a record sent again at the same place, with other bytes: refused, the first one stays
    forged = json.loads(records[2])
    forged["sha256"] = "f" * 64
    feed(archive, (TOPICS.footage, json.dumps(forged).encode()), at=2_000)
    (why,) = rows(engine, rejects)
    assert "differs from the one the station already has" in why.reason
    # a record whose prev is not the hash of the one before it: the link is broken
    other = pole_chain(tmp_path / "other", 12, PoleKey.load_or_create(tmp_path / "other-state"))
    stray = json.loads([p for t, p in other if t == TOPICS.footage][8])
    stray["chain"] = json.loads(records[0])["chain"]
    feed(archive, (TOPICS.footage, json.dumps(stray).encode()), at=3_000)
    assert rows(engine, footage_segments)[8].link == "broken"
    # a head over this chain signed by the other key: bad, with the reason
    thief = PoleKey.load_or_create(tmp_path / "other-state")
    last = json.loads(msgs[-1][1])
    message = head_message("pole17", "cam0", last["chain"], 7, last["head"])
    last["signature"] = base64.b64encode(thief.sign(message)).decode()
    last["key"] = thief.fingerprint
    feed(archive, (TOPICS.footage_heads, json.dumps(last).encode()), at=4_000)
    bad = [h for h in rows(engine, footage_heads) if h.idx == 7]
    assert bad[0].status == "bad" and "is not signed by the pole's key" in bad[0].problem


def test_a_new_key_is_offered_not_pinned_and_counted(engine: Engine, tmp_path: Path) -> None:
    key = PoleKey.load_or_create(tmp_path / "state")
    other = PoleKey.load_or_create(tmp_path / "stranger")
    archive = Archive(engine)
    feed(archive, stats(key))
    feed(archive, stats(other), at=2_000)
    feed(archive, stats(other), at=3_000)  # said again: counted once
    (pin,) = rows(engine, pole_keys)
    assert pin.fingerprint == key.fingerprint
    assert pin.offered_fingerprint == other.fingerprint and pin.offered_us == 2_000
    with engine.connect() as conn:
        assert read_counters(conn)["footage: pole key changed"] == 1
    # a chain begun again (a new disk) is a chain of its own, not a clash with the old one
    feed(archive, *pole_chain(tmp_path / "old-disk", 3, key), at=4_000)
    feed(archive, *pole_chain(tmp_path / "new-disk", 3, key), at=5_000)
    segs = rows(engine, footage_segments)
    assert len({s.chain for s in segs}) == 2 and len(segs) == 6 and not rows(engine, rejects)
    assert {s.link for s in segs} == {"first", "ok"}


@pytest.mark.parametrize(
    ("topic", "payload", "words"),
    [
        (TOPICS.footage, b"{}", "not a segment record"),
        (TOPICS.footage, b"\xff\xfe", "not a segment record: not JSON"),
        (TOPICS.footage_heads, b'{"schema": 1}', "not a signed head"),
        ("edge/pole17/cam0/footage/other", b"{}", "not a pole topic"),
    ],
)
def test_what_is_not_footage_is_refused_with_its_reason(topic: str, payload: bytes, words: str) -> None:
    rec = classify("edge", topic, payload, 4096)
    assert isinstance(rec, Reject) and words in rec.reason


def test_a_record_for_another_pole_than_its_topic_is_refused(tmp_path: Path) -> None:
    key = PoleKey.load_or_create(tmp_path / "state")
    _, payload = pole_chain(tmp_path, 1, key)[0]
    rec = classify("edge", "edge/pole18/cam0/footage", payload, 4096)
    assert isinstance(rec, Reject) and "topic says pole18/cam0" in rec.reason
