"""Pulling a clip, the station's side, on SQLite and PostgreSQL, with a scripted pole.

The pole's chain is written by its own `Chain` over real files of random bytes; the "pole" here
answers each `cmd/clip` the puller sends by the contract (chunks of the asked segments from the
asked offsets, or `unavailable`), and everything it sends goes through the station's real
classify → archive path. A clip comes whole and verified; a broken upload resumes from the bytes
that came; a flipped byte is flagged, kept and never good; what the pole cannot send is said;
an offline pole is not asked, and is when it is back; nothing covering a time is a sentence.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from edge_agent.contract import Topics
from edge_agent.contract.clips import (
    CHUNK_BYTES,
    ChunkHeader,
    ClipRequest,
    Unavailable,
    chunk_payload,
)
from edge_agent.contract.footage import canonical
from edge_agent.recording.chain import Chain
from edge_agent.recording.keys import PoleKey
from edge_agent.recording.segment_file import Segment
from edge_agent.station.footage.puller import Puller
from edge_agent.station.footage.requests import ClipError, ask_event, ask_range, status
from edge_agent.station.ingest.archive import Archive, Received
from edge_agent.station.ingest.inbox import classify
from edge_agent.station.store.engine import connect
from edge_agent.station.store.footage_files import FootageFiles, SegmentKey
from edge_agent.station.store.schema import rejects
from tests.station.factory import event

T0 = datetime(2026, 12, 7, 21, 10, tzinfo=UTC)
US = 1_000_000
TOPICS = Topics("edge", "pole17", "cam0")


def us(t: datetime) -> int:
    return int(t.timestamp() * US)


class Pole:
    """A pole's recording folder and chain, and its answers to the station's asks."""

    def __init__(self, tmp: Path, n: int, size: int = 600_000) -> None:
        self.folder = tmp / "pole-rec"
        self.folder.mkdir(parents=True)
        self.key = PoleKey.load_or_create(tmp / "pole-state")
        chain = Chain.open(self.folder, "pole17", "cam0", self.key, sign_every=4)
        self.messages: list[tuple[str, bytes]] = []
        for i in range(n):
            path = self.folder / f"cam0-{i + 100:08d}.mp4"
            path.write_bytes(os.urandom(size + i))
            start = T0 + timedelta(seconds=4 * i)
            seg = Segment(
                path, size + i, hashlib.sha256(path.read_bytes()).hexdigest(), start,
                start + timedelta(seconds=3.96), 10**12 + 4 * i * 10**9, 10**12 + (4 * i + 3) * 10**9,
                True, 4.0, 100, 2, "h264", 1920, 1080, "length",
            )  # fmt: skip
            entry = chain.append(seg)
            self.messages.append((TOPICS.footage, canonical(entry.record)))
            if entry.head is not None:
                self.messages.append((TOPICS.footage_heads, canonical(entry.head)))
        self.chain = entry.record.chain
        last = chain.close()
        if last is not None:
            self.messages.append((TOPICS.footage_heads, canonical(last)))
        stats = {"recording": {"key": self.key.fingerprint, "public_key": self.key.public_b64}}
        self.messages.insert(0, (TOPICS.stats, json.dumps(stats).encode()))
        self.asked: list[ClipRequest] = []

    def send(self, device: str, payload: bytes) -> bool:
        assert device == "pole17"
        self.asked.append(ClipRequest.model_validate_json(payload))
        return True

    def answer(
        self, ask: ClipRequest, limit: int | None = None, flip: int | None = None
    ) -> list[tuple[str, bytes]]:
        """The chunks for `ask` (at most `limit` of them), one byte flipped in segment `flip`."""
        out: list[tuple[str, bytes]] = []
        for w in ask.segments:
            data = bytearray((self.folder / w.name).read_bytes())
            if flip == w.index:
                data[len(data) // 2] ^= 0x01
            for offset in range(w.offset, len(data), CHUNK_BYTES):
                header = ChunkHeader(
                    request=ask.request, camera="cam0", chain=ask.chain, index=w.index, name=w.name,
                    offset=offset, size=len(data),
                )  # fmt: skip
                out.append(
                    (TOPICS.footage_chunks, chunk_payload(header, bytes(data[offset : offset + CHUNK_BYTES])))
                )
        return out[:limit]


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    e = connect(db_url)
    yield e
    e.dispose()


def feed(archive: Archive, messages: list[tuple[str, bytes]], at: int = 1_000) -> None:
    archive.store([Received("ward", at, classify("edge", t, p, 4 * 2**20)) for t, p in messages])


def setup(engine: Engine, tmp: Path, n: int = 5) -> tuple[Pole, Archive, FootageFiles]:
    pole = Pole(tmp, n)
    files = FootageFiles(tmp / "station-footage")
    archive = Archive(engine, files)
    feed(archive, [(TOPICS.status, b"online"), *pole.messages])
    return pole, archive, files


def test_a_clip_comes_whole_and_verified(engine: Engine, tmp_path: Path) -> None:
    pole, archive, files = setup(engine, tmp_path)
    with engine.begin() as conn:
        rid = ask_range(
            conn, "pole17", "cam0", us(T0 + timedelta(seconds=5)), us(T0 + timedelta(seconds=13)), "an"
        )
    puller = Puller(engine, pole.send)
    assert puller.run_once(now=2_000) == 1
    (ask,) = pole.asked
    assert [w.index for w in ask.segments] == [1, 2, 3] and all(w.offset == 0 for w in ask.segments)
    with engine.connect() as conn:
        st = status(conn, rid)
    assert st is not None and st.state == "waiting"
    feed(archive, pole.answer(ask), at=3_000)
    with engine.connect() as conn:
        st = status(conn, rid)
    assert st is not None and st.state == "done" and st.verified == 3 and st.holes == []
    for w in ask.segments:
        copy = files.path(SegmentKey("pole17", "cam0", pole.chain, w.index))
        assert copy.read_bytes() == (pole.folder / w.name).read_bytes()
    puller.run_once(now=4_000)
    assert len(pole.asked) == 1, "nothing is asked twice once it came"
    feed(archive, pole.answer(ask)[:2], at=5_000)  # QoS 1 duplicates after the end: nothing changes
    with engine.connect() as conn:
        assert status(conn, rid).state == "done"  # type: ignore[union-attr]
        assert not list(conn.execute(select(rejects)))


def test_a_broken_upload_resumes_from_the_bytes_that_came(engine: Engine, tmp_path: Path) -> None:
    pole, archive, _ = setup(engine, tmp_path)
    with engine.begin() as conn:
        rid = ask_range(conn, "pole17", "cam0", us(T0), us(T0 + timedelta(seconds=8)), "an")
    puller = Puller(engine, pole.send, ask_every_s=5)
    puller.run_once(now=10 * US)
    assert [w.index for w in pole.asked[0].segments] == [0, 1]
    feed(archive, pole.answer(pole.asked[0], limit=4), at=11 * US)  # the pole rebooted mid-way
    with engine.connect() as conn:
        assert status(conn, rid).state == "uploading"  # type: ignore[union-attr]
    puller.run_once(now=12 * US)
    assert len(pole.asked) == 1, "an upload making progress is not asked again"
    puller.run_once(now=17 * US)
    again = pole.asked[1]  # segment 0 came whole (3 chunks), segment 1 its first chunk
    assert [(w.index, w.offset) for w in again.segments] == [(1, CHUNK_BYTES)]
    feed(archive, pole.answer(again), at=18 * US)
    with engine.connect() as conn:
        assert status(conn, rid).state == "done"  # type: ignore[union-attr]


def test_a_flipped_byte_is_flagged_and_what_the_pole_cannot_send_is_said(
    engine: Engine, tmp_path: Path
) -> None:
    pole, archive, files = setup(engine, tmp_path)
    with engine.begin() as conn:
        rid = ask_range(conn, "pole17", "cam0", us(T0), us(T0 + timedelta(seconds=20)), "an")
    Puller(engine, pole.send).run_once(now=2_000)
    ask = pole.asked[0]
    gone = ask.segments[4]
    notice = Unavailable(
        request=ask.request, camera="cam0", chain=ask.chain, index=gone.index, name=gone.name,
        reason="recorded over: the recording budget deleted the oldest footage",
    )  # fmt: skip
    reply = {"ok": True, "command": "clip", "request": ask.request, "queued": [0, 1, 2, 3],
             "unavailable": [notice.model_dump(mode="json")]}  # fmt: skip
    feed(archive, [("edge/pole17/cmd/clip/reply", json.dumps(reply).encode())], at=3_000)
    feed(archive, pole.answer(ClipRequest(request=ask.request, camera="cam0", chain=ask.chain,
                                          segments=ask.segments[:4]), flip=2), at=4_000)  # fmt: skip
    with engine.connect() as conn:
        st = status(conn, rid)
    assert (
        st is not None
        and st.state == "partial"
        and st.counts() == {"verified": 3, "mismatch": 1, "unavailable": 1}
    )
    problems = " | ".join(st.as_dict()["problems"])
    assert "recorded over" in problems and "not the ones the pole recorded" in problems
    key = SegmentKey("pole17", "cam0", ask.chain, 2)
    assert not files.path(key).exists() and files.mismatch(key).exists(), "kept, flagged, never good"


def test_an_offline_pole_is_asked_when_it_is_back(engine: Engine, tmp_path: Path) -> None:
    pole, archive, _ = setup(engine, tmp_path)
    feed(archive, [(TOPICS.status, b"offline")], at=2_000)
    with engine.begin() as conn:
        rid = ask_range(conn, "pole17", "cam0", us(T0), us(T0 + timedelta(seconds=4)), "an")
    puller = Puller(engine, pole.send)
    assert puller.run_once(now=3_000) == 0 and not pole.asked
    with engine.connect() as conn:
        st = status(conn, rid)
    assert st is not None and st.state == "waiting" and "offline" in st.detail
    feed(archive, [(TOPICS.status, b"online")], at=4_000)
    assert puller.run_once(now=5_000) == 1


def test_nothing_to_pull_is_a_sentence_and_a_stray_chunk_is_refused(engine: Engine, tmp_path: Path) -> None:
    pole, archive, _ = setup(engine, tmp_path)
    with engine.begin() as conn:
        early = ask_range(
            conn, "pole17", "cam0", us(T0 - timedelta(hours=1)), us(T0 - timedelta(minutes=50)), "an"
        )
        other = ask_range(conn, "pole18", "cam0", us(T0), us(T0 + timedelta(seconds=4)), "an")
        with pytest.raises(ClipError):
            ask_range(conn, "pole17", "cam0", us(T0), us(T0), "an")
        with pytest.raises(ClipError, match="no event"):
            ask_event(conn, "pole17", "pole17-cam0-000099", "an", 5, 5)
    with engine.connect() as conn:
        a, b = status(conn, early), status(conn, other)
    assert (
        a is not None and a.state == "unavailable" and "its records span 2026-12-07 21:10:00 UTC" in a.detail
    )
    assert b is not None and "has sent no footage records: recording is off" in b.detail
    fake = ClipRequest(
        request="x1", camera="cam0", chain=pole.chain, segments=[{"index": 0, "name": "cam0-00000100.mp4"}]
    )
    feed(archive, pole.answer(fake)[:1], at=9_000)
    with engine.connect() as conn:
        (why,) = conn.execute(select(rejects.c.reason)).scalars()
    assert "which the station did not ask for" in why


def test_an_alarms_event_is_pulled_by_itself_once_it_has_ended(engine: Engine, tmp_path: Path) -> None:
    pole, archive, _ = setup(engine, tmp_path)
    puller = Puller(engine, pole.send, auto_alarms=True)
    puller.run_once(now=1_500)  # the first pass starts after the alarms already there
    start = T0 + timedelta(seconds=6)
    eid = "pole17-cam0-000001"
    alarm = {"schema": "edge-agent/alarm/1", "rule": "night", "event": eid, "device": "pole17",
             "camera": "cam0", "zone": "gate", "label": "person", "time": "2026-12-07T21:10:06Z"}  # fmt: skip
    feed(
        archive, [event("pole17", 1, n=1, start=start), (TOPICS.alarm, json.dumps(alarm).encode())], at=2_000
    )
    puller.run_once(now=3_000)
    assert not pole.asked, "the event goes on: its clip waits for its end"
    feed(archive, [event("pole17", 2, n=1, type="end", start=start)], at=4_000)
    puller.run_once(now=5_000)
    (ask,) = pole.asked
    assert [w.index for w in ask.segments] == [0, 1, 2, 3], "from 1 s to 14 s"


def test_clip_and_clips_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from edge_agent.station.cli.parser import main

    cfg = tmp_path / "station.toml"
    cfg.write_text(f'state_dir = "{tmp_path / "state"}"\ntime_zone = "Asia/Ho_Chi_Minh"\n')
    engine = connect(f"sqlite:///{tmp_path / 'state' / 'station.db'}")
    pole, _, _ = setup(engine, tmp_path)
    engine.dispose()
    capsys.readouterr()
    code = main(["clip", "--config", str(cfg), "pole17/cam0", "--from", "2026-12-08T04:10:02", "--to",
                 "2026-12-08T04:10:09", "--user", "officer-an"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "clip 1  pole17/cam0  2026-12-08T04:10:02+07:00" in out and "waiting" in out
    assert main(["clips", "--config", str(cfg), "1"]) == 0
    listing = capsys.readouterr().out
    assert "cam0-00000100.mp4" in listing and "cam0-00000102.mp4" in listing and "wanted" in listing
    assert main(["clip", "--config", str(cfg), "pole17/cam0"]) == 2
    assert "give --from and --to" in capsys.readouterr().err
    assert main(["clip", "--config", str(cfg), "../etc", "--from", "1", "--to", "2"]) == 2
    assert main(["clip", "--config", str(cfg), "pole17/pole17-cam0-000042"]) == 4
    assert "no event pole17-cam0-000042 of pole17" in capsys.readouterr().err
    assert main(["audit", "--config", str(cfg)]) == 0
    assert "officer-an" in capsys.readouterr().out and pole.asked == []


def test_a_reinstalled_poles_new_key_is_trusted_by_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from edge_agent.recording.keys import PoleKey
    from edge_agent.station.cli.parser import main

    cfg = tmp_path / "station.toml"
    cfg.write_text(f'state_dir = "{tmp_path / "state"}"\n')
    engine = connect(f"sqlite:///{tmp_path / 'state' / 'station.db'}")
    pole, archive, _ = setup(engine, tmp_path)
    new = PoleKey.load_or_create(tmp_path / "reinstalled")
    stats = {"recording": {"key": new.fingerprint, "public_key": new.public_b64}}
    feed(archive, [(TOPICS.stats, json.dumps(stats).encode())], at=5_000)
    engine.dispose()
    capsys.readouterr()
    assert main(["pole-key", "--config", str(cfg), "pole17"]) == 0
    out = capsys.readouterr().out
    assert f"key {pole.key.fingerprint}" in out and f"OFFERED, NOT TRUSTED: {new.fingerprint}" in out
    assert main(["pole-key", "--config", str(cfg), "pole17", "--accept", "--user", "admin-binh"]) == 0
    assert f"now trusting key {new.fingerprint}" in capsys.readouterr().out
    assert main(["pole-key", "--config", str(cfg), "pole17", "--accept"]) == 4
    assert "has offered no new key" in capsys.readouterr().err


def test_a_request_made_before_the_records_come_gains_them(engine: Engine, tmp_path: Path) -> None:
    """An alarm's clip is asked for at the event's end; the pole sends the records of its last
    segments only once its retention kept them, seconds later: the request takes them then."""
    pole = Pole(tmp_path, 5)
    files = FootageFiles(tmp_path / "station-footage")
    archive = Archive(engine, files)
    feed(archive, [(TOPICS.status, b"online"), *pole.messages[:3]])  # stats, the first two records
    with engine.begin() as conn:
        rid = ask_range(conn, "pole17", "cam0", us(T0), us(T0 + timedelta(seconds=16)), "alarm rule")
    puller = Puller(engine, pole.send)
    puller.run_once(now=2_000)
    assert [w.index for w in pole.asked[0].segments] == [0, 1]
    feed(archive, pole.answer(pole.asked[0]), at=3_000)
    puller.run_once(now=4_000)
    with engine.connect() as conn:
        assert status(conn, rid).state == "done"  # type: ignore[union-attr]
    feed(archive, pole.messages[3:], at=5_000)  # the later records come
    puller.run_once(now=6_000)
    assert [w.index for w in pole.asked[1].segments] == [2, 3]
    feed(archive, pole.answer(pole.asked[1]), at=7_000)
    puller.run_once(now=8_000)
    with engine.connect() as conn:
        st = status(conn, rid)
    assert st is not None and st.state == "done" and st.verified == 4
