"""The pole records its Pi camera: picamera2's H.264 encoder into the recorder's segments.

Against the picamera2 stand-in (tests/picamera2_standin.py), whose encoder makes real H.264 with
libx264 and calls `outputframe` as picamera2's does: segments close at keyframes about
`segment_s` apart, each file opens with PyAV and decodes to the frames its record counts, the
chain links, consecutive segments follow each other in time, a camera that hangs is reopened with
a new encoder and recording goes on, frames lost to a slow disk never leave a hole in a segment,
and the agent itself (`Service`) records the Pi camera.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from edge_agent import config
from edge_agent.agent.service import Service
from edge_agent.config import RecordingConfig
from edge_agent.contract import Message, Topics
from edge_agent.contract.footage import SegmentRecord, check_chain, check_segment_file, parse_record
from edge_agent.recording.chain import chain_path, read_records
from edge_agent.recording.encoded import EncodedSegmenter, keyframe_period
from edge_agent.recording.recorder import Recorder
from edge_agent.recording.segment_file import Segment
from edge_agent.sources.live import LiveSource
from edge_agent.sources.picamera import PicameraGrabber, as_output
from tests.broker import Broker, Subscriber
from tests.picamera2_encoder_standin import H264Encoder
from tests.picamera2_standin import Rig, modules
from tests.test_service import write_config

TOPICS = Topics("edge", "pole1", "cam0")
FPS = 20
SEGMENT_S = 1.0


@pytest.fixture
def rig(monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    """The Pi camera behind the picamera2 stand-in, its encoders and outputs, as the real names."""
    rig = Rig(paced=True)
    for name, module in modules(rig).items():
        monkeypatch.setitem(sys.modules, name, module)
    yield rig


def recorder(tmp_path: Path, published: list[Message]) -> Recorder:
    cfg = RecordingConfig.model_validate(
        {
            "enabled": True,
            "dir": tmp_path / "rec",
            "staging_dir": tmp_path / "ram",
            "segment_s": SEGMENT_S,
            "retain": "all",
            "sign_every": 3,
        }
    )
    return Recorder(cfg, "pole1", "cam0", "picamera2", tmp_path / "state", TOPICS, published.append)


def camera(rec: Recorder, read_timeout_s: float = 5.0) -> LiveSource:
    output = rec.picamera_output
    assert output is not None, "the recorder of the Pi camera takes its encoder's frames"
    record = (output, 1_000_000, keyframe_period(FPS, SEGMENT_S))
    grabber = PicameraGrabber(320, 240, FPS, 120, read_timeout_s=read_timeout_s, record=record)
    return LiveSource("picamera2", grabber, 0.01, 0.05, read_timeout_s=read_timeout_s)


def run_until(source: LiveSource, done: Callable[[], bool], limit_s: float = 30.0) -> None:
    """Take the camera's frames (as the pipeline does) until `done()`; the limit guards a hang."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and not done():
        source.next_frame(0.2)
    assert done(), "the recording did not get there"


def decoded_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def check_files(rec: Recorder, records: list[SegmentRecord]) -> None:
    for r in records:
        path = rec.folder / r.name
        assert check_segment_file(r, path) == [], r.name
        assert decoded_frames(path) == r.frames, f"{r.name} does not decode to its {r.frames} frames"
        assert (r.codec, r.width, r.height) == ("h264", 320, 240)
        assert r.keyframes >= 1


def test_the_recorder_records_the_pi_camera_in_segments_cut_at_keyframes(rig: Rig, tmp_path: Path) -> None:
    published: list[Message] = []
    rec = recorder(tmp_path, published).start()
    source = camera(rec)
    try:
        run_until(source, lambda: rec.kept >= 4)
        state = rec.stats()["state"]
    finally:
        source.close()
        rec.close()
    assert state == "recording"
    assert rig.encoders_left_running == 0, "the encoder is stopped before the camera closes"
    records, problems = read_records(chain_path(rec.folder, "cam0"))
    assert not problems and len(records) >= 4 and check_chain(records) == []
    check_files(rec, records)
    gop = keyframe_period(FPS, SEGMENT_S)
    for r in records[:-1]:  # whole GOPs, cut at the first keyframe due after segment_s
        assert r.frames % gop == 0 and r.keyframes == r.frames // gop, r
        assert SEGMENT_S - 0.2 <= r.duration_ms / 1000 <= 2 * SEGMENT_S + 0.5, r
    for a, b in itertools.pairwise(records):  # one after the other, nothing between
        gap_s = (b.start_mono_ns - a.end_mono_ns) / 1e9
        assert -0.1 < gap_s < 0.5, f"{a.name} → {b.name}: {gap_s:.3f} s"
    sent = [parse_record(m.payload) for m in published if m.topic == TOPICS.footage]
    assert sent == records
    assert not list(rec.staging.glob("cam0-*")), "nothing left in RAM after close"


def test_a_camera_that_hangs_is_reopened_with_a_new_encoder_and_recording_goes_on(
    rig: Rig, tmp_path: Path
) -> None:
    rig.frames_per_open = [2 * FPS, None]  # two seconds of frames, then the frontend times out
    rec = recorder(tmp_path, []).start()
    output = rec.picamera_output
    assert output is not None
    source = camera(rec, read_timeout_s=0.5)
    try:
        run_until(source, lambda: output.stats.connects >= 2 and rec.kept >= 5)
    finally:
        source.close()
        rec.close()
    first, second = rig.opened[0], rig.opened[1]
    assert first.closes == 1 and second.closes == 1 and rig.encoders_left_running == 0
    assert output.stats.connects >= 2 and output.stats.drops >= 1
    records, problems = read_records(chain_path(rec.folder, "cam0"))
    assert not problems and check_chain(records) == [], "one chain across the reopen"
    check_files(rec, records)
    gaps = [
        i for i in range(1, len(records)) if records[i].start_mono_ns - records[i - 1].end_mono_ns > 0.3e9
    ]
    assert len(gaps) == 1, "one pause: the hang, the read timeout and the reopen"
    before, after = records[: gaps[0]], records[gaps[0] :]
    assert FPS <= sum(r.frames for r in before) <= 2 * FPS, "the first camera's frames, up to the hang"
    assert len(after) >= 2, "the reopened camera is recorded"


def test_stop_closes_the_open_segment(rig: Rig, tmp_path: Path) -> None:
    rec = recorder(tmp_path, []).start()
    output = rec.picamera_output
    assert output is not None
    source = camera(rec)
    try:
        run_until(source, lambda: output.stats.packets >= FPS // 2)
        rec.close()  # before the camera: frames after it are ignored
        kept = rec.kept
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            source.next_frame(0.1)
    finally:
        source.close()
    assert kept >= 1 and rec.kept == kept
    records, problems = read_records(chain_path(rec.folder, "cam0"))
    assert not problems and len(records) == kept and check_chain(records) == []
    check_files(rec, records)
    assert records[-1].frames >= FPS // 2, "the open segment was closed with what it had"
    assert not output.alive() or output.stopping


def test_an_encoder_that_cannot_start_leaves_detection_running(rig: Rig, tmp_path: Path) -> None:
    rig.encoder_error = OSError(16, "Device or resource busy: '/dev/video11'")
    rec = recorder(tmp_path, []).start()
    source = camera(rec)
    try:
        run_until(source, lambda: source.stats.frames_read >= 5 and "encoder" in (rec.stats()["state"]))
        state = rec.stats()["state"]
    finally:
        source.close()
        rec.close()
    assert state.startswith("camera lost (the Pi camera's H.264 encoder cannot be started")
    assert "Device or resource busy" in state and rec.kept == 0


def test_the_agent_records_its_pi_camera(rig: Rig, broker: Broker, tmp_path: Path) -> None:
    extra = (
        f'[recording]\nenabled = true\ndir = "{tmp_path / "rec"}"\nstaging_dir = "{tmp_path / "ram"}"\n'
        'segment_s = 1\nretain = "all"\nsign_every = 2\nbitrate = 500000\n'
    )
    path = write_config(tmp_path / "config.toml", broker, Path("/dev/null"), tmp_path / "state", extra)
    text = path.read_text().replace('source = "/dev/null"', 'source = "picamera2"\nwidth = 320\nheight = 240')
    path.write_text(text.replace("[camera]\n", "[camera]\nfps = 10\n"))
    sub = Subscriber(broker, ["edge/pole1/#"])
    service = Service(config.load(path), path)
    assert service.recorder is not None and service.recorder.picamera_output is not None
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        assert sub.wait_for(lambda: len(sub.on("/footage")) >= 3, 30), "no footage records"
    finally:
        service.stop()
        thread.join(30)
    assert not thread.is_alive()
    sub.close()
    records = [parse_record(m.payload) for m in sub.on("/footage")]
    assert check_chain(records) == [] and records[0].index == 0
    assert {(r.codec, r.width, r.height) for r in records} == {("h264", 320, 240)}
    assert rig.encoders_left_running == 0
    folder = tmp_path / "rec"
    for r in records:
        assert check_segment_file(r, folder / r.name) == []
        assert decoded_frames(folder / r.name) == r.frames


def test_frames_lost_to_a_slow_disk_cut_the_segment_and_the_next_starts_at_a_keyframe(
    tmp_path: Path,
) -> None:
    stalled = threading.Event()
    segments: list[Segment] = []

    def slow_disk(segment: Segment) -> None:
        segments.append(segment)
        stalled.wait(10)  # the first kept segment's write blocks the writer

    sink = EncodedSegmenter(tmp_path, segment_s=SEGMENT_S, on_segment=slow_disk, max_queued_bytes=4000)
    sink.start()
    encoder = H264Encoder(bitrate=200_000, iperiod=10, framerate=FPS)
    encoder.output = as_output(modules(Rig())["picamera2.outputs"], sink)
    encoder.width, encoder.height, encoder.format, encoder.name = 160, 120, "RGB888", "main"
    encoder.start()
    rng = np.random.default_rng(1)
    for i in range(8 * FPS):  # sensor timestamps at FPS, handed over as fast as they encode
        if i == 4 * FPS:
            stalled.set()
        image = rng.integers(0, 255, (120, 160, 3), np.uint8)
        encoder.encode("main", (image, 1_000_000_000 + i * 1_000_000_000 // FPS))
        time.sleep(0.002)
    encoder.stop()
    sink.stop()
    assert sink.stats.lost_frames > 0, "the queue was meant to overflow"
    assert any(s.ended_by.startswith("frames lost") for s in segments)
    for s in segments:
        assert decoded_frames(s.path) == s.frames, f"{s.path.name}: a hole in the segment"
        with av.open(str(s.path)) as container:
            first = next(container.demux(video=0))
            assert first.is_keyframe, f"{s.path.name} does not start at a keyframe"
    total = sum(s.frames for s in segments)
    assert total + sink.stats.lost_frames == 8 * FPS, "every frame is in a segment or counted lost"
