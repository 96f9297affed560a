"""A camera's hash chain and signed heads on real segments (the demo clip, recorded once per module).

The records link (`check_chain` finds nothing), the heads are signed every `sign_every` and at
close and verify against the pole's public key, a reopened chain continues its indexes, and a
last line torn by a power cut is dropped on open. Each way of tampering is named in a sentence:
a flipped byte in a segment, a record removed, reordered or spliced from another camera, a head
re-signed with another key. A chain recorded across a camera restart shows the outage as a gap.
"""

from __future__ import annotations

import base64
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from edge_agent.contract.footage import (
    ZERO_HASH,
    SegmentRecord,
    SignedHead,
    check_chain,
    check_head,
    check_segment_file,
    head_message,
    record_hash,
    time_gaps,
)
from edge_agent.recording.chain import Chain, chain_path, heads_path, read_heads, read_records
from edge_agent.recording.keys import PoleKey
from edge_agent.recording.segment_file import Segment
from edge_agent.recording.segmenter import Segmenter
from tests.rtsp_server import RtspCamera, h264_clip

DEVICE = "pole-17"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return h264_clip(tmp_path_factory.mktemp("clips"), 16)


@pytest.fixture(scope="module")
def segments(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Segment]:
    out: list[Segment] = []
    Segmenter(str(clip), tmp_path_factory.mktemp("segments"), segment_s=2, on_segment=out.append).run()
    assert len(out) >= 12
    return out


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> PoleKey:
    return PoleKey.load_or_create(tmp_path_factory.mktemp("state"))


_SEGMENTS: dict[str, Path] = {}  # a segment's file by name, for the tests that copy one


@pytest.fixture(autouse=True)
def _index_segments(segments: list[Segment]) -> None:
    _SEGMENTS.update({s.path.name: s.path for s in segments})


def record_all(
    directory: Path, key: PoleKey, segments: list[Segment], camera: str = "cam0", every: int = 5
) -> tuple[list[SignedHead], SignedHead | None]:
    chain = Chain.open(directory, DEVICE, camera, key, sign_every=every)
    heads = [e.head for e in map(chain.append, segments) if e.head is not None]
    closing = chain.close()
    return heads, closing


def chain_of(directory: Path, camera: str = "cam0") -> list[SegmentRecord]:
    records, problems = read_records(chain_path(directory, camera))
    assert problems == []
    return records


def test_records_link_and_heads_verify(tmp_path: Path, key: PoleKey, segments: list[Segment]) -> None:
    heads, closing = record_all(tmp_path, key, segments, every=5)
    records = chain_of(tmp_path)
    assert [r.index for r in records] == list(range(len(segments)))
    assert records[0].prev == ZERO_HASH and check_chain(records) == []
    for r, s in zip(records, segments, strict=True):
        assert (r.name, r.bytes, r.sha256, r.frames) == (s.path.name, s.bytes, s.sha256, s.frames)
        assert check_segment_file(r, s.path) == []
        assert r.device == DEVICE and r.camera == "cam0" and r.codec == "h264"
    assert [h.index for h in heads] == list(range(4, len(segments), 5))
    last = len(segments) - 1
    if last % 5 != 4:
        assert closing is not None and closing.index == last
    stored, problems = read_heads(heads_path(tmp_path, "cam0"))
    assert problems == [] and stored == [*heads, *([closing] if closing else [])]
    assert stored[-1].index == last, "the head is signed at close"
    for h in stored:
        assert h.key == key.fingerprint
        assert check_head(h, key.public_raw, records[h.index]) == []
        assert check_head(h, key.public_raw) == []


def test_close_signs_nothing_twice(tmp_path: Path, key: PoleKey, segments: list[Segment]) -> None:
    heads, closing = record_all(tmp_path, key, segments[:10], every=5)
    assert [h.index for h in heads] == [4, 9] and closing is None
    assert len(read_heads(heads_path(tmp_path, "cam0"))[0]) == 2


def test_reopen_continues(tmp_path: Path, key: PoleKey, segments: list[Segment]) -> None:
    record_all(tmp_path, key, segments[:4], every=3)
    chain = Chain.open(tmp_path, DEVICE, "cam0", key, sign_every=3)
    assert chain.next_index == 4 and chain.last_signed == 3
    assert chain.close() is None, "nothing new to sign"
    again, closing = record_all(tmp_path, key, segments[4:9], every=3)
    records = chain_of(tmp_path)
    assert [r.index for r in records] == list(range(9)) and check_chain(records) == []
    heads = read_heads(heads_path(tmp_path, "cam0"))[0]
    assert [h.index for h in heads] == [2, 3, 5, 8]  # every 3rd record, and at each close
    assert [h.index for h in again] == [5, 8] and closing is None, "8 was signed as a 3rd: not again"
    assert all(check_head(h, key.public_raw, records[h.index]) == [] for h in heads)


def test_chain_of_another_camera_refused(tmp_path: Path, key: PoleKey, segments: list[Segment]) -> None:
    record_all(tmp_path, key, segments[:2])
    chain_path(tmp_path, "cam0").rename(chain_path(tmp_path, "cam9"))
    with pytest.raises(ValueError, match="is the chain of pole-17/cam0, not of pole-17/cam9"):
        Chain.open(tmp_path, DEVICE, "cam9", key)


@pytest.mark.parametrize("damage", ["cut-mid-line", "nul-bytes", "cut-and-nul"])
def test_torn_last_line_dropped_and_chain_continues(
    tmp_path: Path, key: PoleKey, segments: list[Segment], damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    record_all(tmp_path, key, segments[:6], every=100)
    path = chain_path(tmp_path, "cam0")
    whole = path.read_bytes()
    five = whole[: whole.rindex(b"\n", 0, len(whole) - 1) + 1]  # the first five records
    if damage == "cut-mid-line":
        path.write_bytes(whole[: len(five) + 40])
    elif damage == "nul-bytes":
        path.write_bytes(whole + b"\x00" * 4096)
    else:
        path.write_bytes(whole[: len(five) + 40] + b"\x00" * 512)
    with caplog.at_level(logging.WARNING, logger="edge_agent.recording.chain"):
        chain = Chain.open(tmp_path, DEVICE, "cam0", key, sign_every=100)
    assert any("dropped" in r.getMessage() and "damaged bytes" in r.getMessage() for r in caplog.records)
    kept = 5 if damage != "nul-bytes" else 6
    assert chain.next_index == kept
    assert path.read_bytes() == (five if kept == 5 else whole)
    chain.append(segments[kept])
    chain.close()
    records = chain_of(tmp_path)
    assert [r.index for r in records] == list(range(kept + 1)) and check_chain(records) == []


def test_torn_heads_line_dropped(tmp_path: Path, key: PoleKey, segments: list[Segment]) -> None:
    record_all(tmp_path, key, segments[:4], every=2)
    path = heads_path(tmp_path, "cam0")
    data = path.read_bytes()
    path.write_bytes(data + data[:50])
    chain = Chain.open(tmp_path, DEVICE, "cam0", key, sign_every=2)
    assert chain.last_signed == 3 and path.read_bytes() == data
    chain.close()


@pytest.fixture
def recorded(
    tmp_path: Path, key: PoleKey, segments: list[Segment]
) -> tuple[list[SegmentRecord], list[SignedHead]]:
    heads, closing = record_all(tmp_path, key, segments[:8], every=4)
    return chain_of(tmp_path), [*heads, *([closing] if closing else [])]


def test_flipped_byte_in_a_segment(
    tmp_path: Path, recorded: tuple[list[SegmentRecord], list[SignedHead]]
) -> None:
    records, _ = recorded
    r = records[3]
    copy = tmp_path / r.name
    shutil.copyfile(_SEGMENTS[r.name], copy)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0x01
    copy.write_bytes(bytes(data))
    problems = check_segment_file(r, copy)
    assert (
        len(problems) == 1 and "are not the ones the pole recorded" in problems[0] and r.name in problems[0]
    )
    copy.write_bytes(bytes(data[:-10]))
    assert f"{r.bytes - 10} bytes" in check_segment_file(r, copy)[0]
    copy.unlink()
    assert "cannot be read" in check_segment_file(r, copy)[0]


def test_removed_record(recorded: tuple[list[SegmentRecord], list[SignedHead]]) -> None:
    records, _ = recorded
    problems = check_chain(records[:3] + records[4:])
    assert problems == ["record 3 is missing: the chain jumps from 2 to 4"]
    assert check_chain(records[:2] + records[5:]) == [
        "records 2 to 4 are missing: the chain jumps from 1 to 5"
    ]
    assert check_chain(records[3:], prev=record_hash(records[2])) == [], "a range from the middle"
    assert check_chain(records[3:], prev=record_hash(records[1])) == [
        "record 3 (cam0-00000003.mp4) does not follow the record before the range"
    ]
    first = records[0].model_copy(update={"prev": "f" * 64})
    assert "does not start from zero" in check_chain([first, *records[1:]])[0]


def test_reordered_records(recorded: tuple[list[SegmentRecord], list[SignedHead]]) -> None:
    records, _ = recorded
    swapped = [*records[:2], records[3], records[2], *records[4:]]
    problems = check_chain(swapped)
    assert problems and any("out of order or repeated" in p for p in problems)
    assert any("repeated" in p for p in check_chain([*records[:3], records[2], *records[3:]]))


def test_altered_or_renumbered_record(
    recorded: tuple[list[SegmentRecord], list[SignedHead]], key: PoleKey
) -> None:
    records, heads = recorded
    altered = records[2].model_copy(update={"frames": records[2].frames + 1})
    problems = check_chain([*records[:2], altered, *records[3:]])
    assert problems == [
        "record 3 (cam0-00000003.mp4) does not link to record 2 (cam0-00000002.mp4): "
        "its prev is not that record's hash (one of the two was altered or replaced)"
    ]
    head3 = next(h for h in heads if h.index == 3)
    moved = records[3].model_copy(update={"bytes": 1})
    assert "the record was altered" in check_head(head3, key.public_raw, moved)[0]


def test_record_spliced_from_another_camera(
    tmp_path: Path,
    key: PoleKey,
    segments: list[Segment],
    recorded: tuple[list[SegmentRecord], list[SignedHead]],
) -> None:
    records, _ = recorded
    other_dir = tmp_path / "other"
    record_all(other_dir, key, segments[:8], camera="cam1", every=4)
    theirs = chain_of(other_dir, "cam1")
    spliced = [*records[:4], theirs[4], *records[5:]]
    problems = check_chain(spliced)
    assert any(
        "is from pole-17/cam1, not pole-17/cam0: it was spliced in from another chain" in p for p in problems
    )
    assert any("does not link to record 4" in p for p in problems), "and the next link breaks too"


def test_head_re_signed_with_another_key(
    tmp_path: Path, key: PoleKey, recorded: tuple[list[SegmentRecord], list[SignedHead]]
) -> None:
    records, heads = recorded
    other = PoleKey.load_or_create(tmp_path / "thief")
    h = heads[0]
    signature = other.sign(head_message(h.device, h.camera, h.chain, h.index, h.head))
    forged = h.model_copy(update={"signature": base64.b64encode(signature).decode()})
    problems = check_head(forged, key.public_raw, records[forged.index])
    assert len(problems) == 1 and f"is not signed by the pole's key {key.fingerprint}" in problems[0]
    # a head properly signed by the other key, over a rewritten chain: still not the pole's
    thief_dir = tmp_path / "rewritten"
    chain = Chain.open(thief_dir, DEVICE, "cam0", other, sign_every=4)
    for s in _as_segments(records[:4]):
        chain.append(s)
    chain.close()
    rewritten = read_heads(heads_path(thief_dir, "cam0"))[0][0]
    assert check_head(rewritten, other.public_raw) == []
    problem = check_head(rewritten, key.public_raw)
    assert problem and f"(it names key {other.fingerprint})" in problem[0] and "re-signed" in problem[0]


def _as_segments(records: list[SegmentRecord]) -> list[Segment]:
    return [
        Segment(
            path=_SEGMENTS[r.name],
            bytes=r.bytes,
            sha256=r.sha256,
            start=r.start,
            end=r.end,
            start_mono_ns=r.start_mono_ns,
            end_mono_ns=r.end_mono_ns,
            clock_synced=r.clock_synced,
            duration_s=r.duration_ms / 1000,
            frames=r.frames,
            keyframes=r.keyframes,
            codec=r.codec,
            width=r.width,
            height=r.height,
            ended_by="length",
        )
        for r in records
    ]


def test_outage_is_a_time_gap(clip: Path, tmp_path: Path, key: PoleKey) -> None:
    """Recorded across a camera restart, the chain shows one gap: the outage."""
    chain = Chain.open(tmp_path / "rec", DEVICE, "cam0", key, sign_every=100)
    appended: list[SegmentRecord] = []
    with RtspCamera(clip, tmp_path) as camera:
        rec = Segmenter(
            camera.url,
            tmp_path / "rec",
            segment_s=2,
            on_segment=lambda s: appended.append(chain.append(s).record),
            timeout_s=3,
            reconnect_min_s=0.2,
            reconnect_max_s=0.5,
        ).start()
        try:
            _wait(lambda: len(appended) >= 2)
            camera.stop()
            _wait(lambda: rec.stats.drops >= 1)
            before = len(appended)
            time.sleep(2.5)
            camera.start()
            _wait(lambda: len(appended) >= before + 2)
        finally:
            assert rec.stop(timeout_s=10)
    chain.close()
    records = chain_of(tmp_path / "rec")
    assert records == appended and check_chain(records) == []
    assert all(r.boot == records[0].boot for r in records)
    gaps = time_gaps(records, max_gap_s=1.0)
    assert len(gaps) == 1, gaps
    assert f"between record {before - 1} " in gaps[0] and f"and record {before} " in gaps[0]
    seconds = float(gaps[0].split("no footage for ")[1].split(" s")[0])
    assert 2.5 <= seconds < 20, gaps
    assert time_gaps(records, max_gap_s=60) == []


def _wait(condition: Callable[[], bool], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
