"""The recorder: retention decides, kept segments are chained, signed and published; a live RTSP camera.

Retention on its own with made-up times; then the whole recorder on GStreamer's RTSP server
streaming the demo clip as H.264: what an event covers is kept with its pre- and post-capture and
nothing else reaches the disk, the chain links and its heads verify with the pole's key, a second
run continues the chain, and a recording disk that goes away loses segments, not the recorder.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent import config
from edge_agent.config import RecordingConfig
from edge_agent.contract import Kind, Message, Topics
from edge_agent.contract.footage import check_chain, check_head, check_segment_file, parse_head, parse_record
from edge_agent.recording.chain import chain_path, read_heads, read_records
from edge_agent.recording.recorder import Recorder
from edge_agent.recording.retention import Retention
from tests.rtsp_server import RtspCamera, h264_clip

S = 1_000_000_000
TOPICS = Topics("edge", "pole1", "cam0")


def event(kind: str, eid: str = "pole1-cam0-000001", stationary: bool = False) -> Message:
    body = {"id": eid, "type": kind, "stationary": stationary}
    return Message(TOPICS.events, json.dumps(body).encode(), Kind.EVENT)


# -- retention alone --------------------------------------------------------------------------


def test_events_mode_keeps_what_an_event_overlaps_with_its_margins() -> None:
    r = Retention("events", pre_capture_s=5, post_capture_s=3)
    r.observe(event("start"), now_ns=100 * S)
    r.observe(event("update"), now_ns=104 * S)
    r.observe(event("end"), now_ns=110 * S)
    assert r.decide(90 * S, 94 * S, now_ns=111 * S) is False  # ends 6 s before the start
    assert r.decide(92 * S, 96 * S, now_ns=111 * S) is True  # pre-capture reaches it
    assert r.decide(104 * S, 108 * S, now_ns=111 * S) is True
    assert r.decide(112 * S, 116 * S, now_ns=117 * S) is True  # post-capture
    assert r.decide(114 * S, 118 * S, now_ns=121 * S) is None  # an event could still start
    assert r.decide(114 * S, 118 * S, now_ns=124 * S) is False
    # a quiet segment is decided only once nothing still to come could claim it
    assert r.decide(130 * S, 134 * S, now_ns=135 * S) is None
    r.observe(event("start", "pole1-cam0-000002"), now_ns=138 * S)
    assert r.decide(130 * S, 134 * S, now_ns=139 * S) is True
    r.end_all(now_ns=140 * S)
    assert not r.active


def test_a_parked_car_is_not_activity_and_motion_counts_only_in_motion_mode() -> None:
    r = Retention("events", 2, 2)
    r.observe(event("start"), now_ns=10 * S)
    r.observe(event("update", stationary=True), now_ns=12 * S)
    assert not r.active
    assert r.decide(40 * S, 44 * S, now_ns=50 * S) is False
    on = Message(TOPICS.motion, b"ON", Kind.MOTION, retain=True)
    r.observe(on, now_ns=60 * S)
    assert not r.active
    m = Retention("motion", 2, 2)
    m.observe(on, now_ns=60 * S)
    assert m.active and m.decide(55 * S, 59 * S, now_ns=70 * S) is True
    m.observe(Message(TOPICS.motion, b"OFF", Kind.MOTION), now_ns=65 * S)
    assert m.decide(70 * S, 74 * S, now_ns=80 * S) is False
    assert Retention("all", 0, 0).decide(0, 1, now_ns=0) is True


def test_a_malformed_event_payload_is_ignored() -> None:
    r = Retention("events", 2, 2)
    for payload in (b"", b"[]", b'{"id": 1}', b"\xff"):
        r.observe(Message(TOPICS.events, payload, Kind.EVENT), now_ns=S)
    assert not r.active


# -- the recorder on a live camera --------------------------------------------------------------


@pytest.fixture(scope="module")
def camera(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RtspCamera]:
    work = tmp_path_factory.mktemp("rtsp")
    with RtspCamera(h264_clip(work, 40), work) as cam:
        yield cam


def recorder(tmp_path: Path, url: str, published: list[Message], **cfg: object) -> Recorder:
    settings = RecordingConfig.model_validate(
        {"enabled": True, "dir": tmp_path / "rec", "staging_dir": tmp_path / "ram", "segment_s": 2, **cfg}
    )
    return Recorder(settings, "pole1", "cam0", url, tmp_path / "state", TOPICS, published.append)


def test_an_event_keeps_its_segments_with_pre_and_post_capture_and_nothing_else(
    camera: RtspCamera, tmp_path: Path
) -> None:
    published: list[Message] = []
    rec = recorder(tmp_path, camera.url, published, retain="events", pre_capture_s=2, post_capture_s=2)
    rec.start()
    time.sleep(7)
    start = time.monotonic_ns()
    rec.publish(event("start"))
    time.sleep(3)
    rec.publish(event("end"))
    end = time.monotonic_ns()
    time.sleep(9)
    rec.close()
    records, problems = read_records(chain_path(rec.folder, "cam0"))
    assert not problems and records, "nothing kept"
    assert check_chain(records) == []
    for r in records:  # every kept segment is one the event's window claims
        assert r.start_mono_ns <= end + 2 * S and r.end_mono_ns >= start - 2 * S, r
    assert records[0].start_mono_ns <= start - 2 * S, "the pre-capture is not kept"
    assert records[-1].end_mono_ns >= end + 2 * S - S // 2, "the post-capture is not kept"
    assert rec.dropped >= 2, "segments away from the event must not reach the disk"
    on_disk = sorted(p.name for p in rec.folder.glob("cam0-*.mp4"))
    assert on_disk == [r.name for r in records]
    for r in records:
        assert check_segment_file(r, rec.folder / r.name) == []
    assert not list(rec.staging.glob("cam0-*")), "the RAM staging folder must be empty after close"
    sent = [parse_record(m.payload) for m in published if m.topic == TOPICS.footage]
    assert sent == records and all(m.kind is Kind.FOOTAGE and m.qos == 1 for m in published)


def test_the_chain_is_signed_by_the_poles_key_and_continues_after_a_restart(
    camera: RtspCamera, tmp_path: Path
) -> None:
    published: list[Message] = []
    rec = recorder(tmp_path, camera.url, published, retain="all", sign_every=2)
    rec.start()
    time.sleep(7)
    stats = rec.stats()
    rec.close()
    assert stats["state"] == "recording" and stats["key"] == rec.key.fingerprint
    assert stats["bytes_written_today"] > 0 and stats["segments_kept"] >= 2
    first = len(read_records(chain_path(rec.folder, "cam0"))[0])
    again = recorder(tmp_path, camera.url, published, retain="all", sign_every=2)
    assert again.key.public_raw == rec.key.public_raw, "the pole's key is made once"
    again.start()
    time.sleep(5)
    again.close()
    records, problems = read_records(chain_path(rec.folder, "cam0"))
    assert not problems and len(records) > first
    assert check_chain(records) == [], "the second run must continue the first one's chain"
    assert len({r.name for r in records}) == len(records), "a segment file name was reused"
    heads, bad = read_heads(rec.folder / "cam0.heads.jsonl")
    assert not bad and heads[-1].index == records[-1].index, "the head is signed at close"
    by_index = {r.index: r for r in records}
    for head in heads:
        assert check_head(head, rec.key.public_raw, by_index[head.index]) == []
    sent_heads = [parse_head(m.payload) for m in published if m.topic == TOPICS.footage_heads]
    assert sent_heads == heads


def test_a_recording_disk_that_goes_away_loses_segments_not_the_recorder(
    camera: RtspCamera, tmp_path: Path
) -> None:
    rec = recorder(tmp_path, camera.url, [], retain="all")
    rec.start()
    time.sleep(4.5)
    kept = rec.kept
    shutil.rmtree(rec.folder)
    rec.folder.write_text("not a folder any more: the USB disk was pulled")
    time.sleep(5)
    stats = rec.stats()
    assert rec.lost >= 1 and "cannot be written" in (stats["error"] or "")
    assert rec.segmenter.stats.connected, "the camera's recording must go on"
    rec.folder.unlink()
    rec.folder.mkdir()
    time.sleep(5)
    rec.close()
    assert rec.kept > kept, "recording resumes once the disk is back"
    assert rec.stats()["error"] is None


@pytest.mark.parametrize(("source", "words"), [("/dev/video0", "USB camera")])
def test_a_camera_that_cannot_be_recorded_is_a_config_error(tmp_path: Path, source: str, words: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[camera]\nsource = "{source}"\n[recording]\nenabled = true\n')
    with pytest.raises(config.ConfigError) as caught:
        config.load(path)
    text = str(caught.value)
    assert "recording" in text and words in text and "recording.enabled = false" in text


def test_recording_the_pi_camera_needs_the_pi_camera(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[camera]\nsource = "rtsp://10.0.0.5/sub"\n[recording]\nenabled = true\nsource = "picamera2"\n'
    )
    with pytest.raises(config.ConfigError) as caught:
        config.load(path)
    assert "runs only when camera.source is picamera2 too" in str(caught.value)


def test_a_full_budget_deletes_the_oldest_segments_and_nothing_else(
    camera: RtspCamera, tmp_path: Path
) -> None:
    """The folder's byte budget on a live camera: the oldest segments go, newest kept, the chain and
    every other file (an outbox on the same card) untouched."""
    published: list[Message] = []
    rec = recorder(tmp_path, camera.url, published, retain="all")
    rec.budget.max_bytes = 1_500_000  # (the setting's floor is 50 MB: a test cannot wait to fill that)
    rec.folder.mkdir(parents=True, exist_ok=True)
    outbox = rec.folder / "outbox.db"
    outbox.write_bytes(b"\0" * 100_000)
    rec.start()
    time.sleep(12)
    rec.close()
    kept = sorted(rec.folder.glob("cam0-*.mp4"))
    records, _ = read_records(chain_path(rec.folder, "cam0"))
    assert rec.budget.deleted >= 2 and len(records) == rec.kept
    names = [r.name for r in records]
    assert [p.name for p in kept] == names[-len(kept) :], "the newest segments are the ones kept"
    assert sum(p.stat().st_size for p in rec.folder.iterdir()) <= 1_500_000 + max(r.bytes for r in records)
    assert outbox.read_bytes() == b"\0" * 100_000 and chain_path(rec.folder, "cam0").exists()
