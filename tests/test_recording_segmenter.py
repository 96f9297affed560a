"""The segmenter on a real RTSP camera (GStreamer's server) and real files: copy, cut, reconnect, stop.

The camera streams an H.264 copy of the demo clip (12.5 fps, a keyframe every 2 s) in real time;
each test records a few seconds with `segment_s` 2. Every segment must play alone and hold the
frames its record says, with no decoder opened on the input, no frame lost within a session and
times that follow on; a killed camera is reconnected by the segmenter itself, its URL's password
never in a log; `stop()` from another thread closes the last segment. Files that are not H.264,
a missing file and FFmpeg's nemesis from ../shared/data end in one `RecordingError` sentence.
"""

from __future__ import annotations

import itertools
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import pytest

from edge_agent.recording.segment_file import Segment
from edge_agent.recording.segmenter import RecordingError, Segmenter
from tests.conftest import shared
from tests.rtsp_server import KEYFRAME_S, RtspCamera, ffmpeg_binary, h264_clip

SEGMENT_S = 2.0
FPS = 12.5  # the demo clip's rate, kept by h264_clip
FRAME_S = 1 / FPS
CRASHER = "edge_cases/bgslibrary_demo_48x48_CRASHES_OPENCV_FFMPEG.avi"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return h264_clip(tmp_path_factory.mktemp("clips"), 16)


@pytest.fixture
def camera(clip: Path, tmp_path: Path) -> Iterator[RtspCamera]:
    cam = RtspCamera(clip, tmp_path).start()
    try:
        yield cam
    finally:
        cam.stop()


def wait_for(what: str, condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout_s:.0f} s")
        time.sleep(0.05)


def decoded_frames(path: Path) -> tuple[int, bool]:
    """Frames decoded from the file alone, and whether its first packet is a keyframe."""
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        packets = [p for p in c.demux(stream) if p.size]
        first_key = bool(packets and packets[0].is_keyframe)
        frames = sum(len(stream.codec_context.decode(p)) for p in packets)
        frames += len(stream.codec_context.decode(None))  # flush
    return frames, first_key


def sessions(segments: list[Segment]) -> list[list[Segment]]:
    """Segments grouped by connection: a session ends with a segment not cut for length."""
    out: list[list[Segment]] = [[]]
    for s in segments:
        out[-1].append(s)
        if s.ended_by != "length":
            out.append([])
    return [s for s in out if s]


def check_session(session: list[Segment], wall_s: float | None = None) -> None:
    """Cut at keyframes ~SEGMENT_S long, each file plays alone, no loss, times contiguous."""
    for s in session:
        frames, first_key = decoded_frames(s.path)
        assert frames == s.frames, f"{s.path.name}: decoded {frames} frames, the record says {s.frames}"
        assert first_key, f"{s.path.name} does not begin with a keyframe"
        assert s.keyframes >= 1 and s.codec == "h264" and (s.width, s.height) == (768, 432)
        assert abs(s.duration_s - s.frames * FRAME_S) < 0.01, s
        assert s.bytes == s.path.stat().st_size
    for s in session[:-1]:  # the last one ends by stop or a drop, at any length
        assert s.ended_by == "length"
        assert SEGMENT_S - 0.01 <= s.duration_s <= SEGMENT_S + KEYFRAME_S + 0.01, s
    for a, b in itertools.pairwise(session):
        wall_gap = (b.start - a.end).total_seconds()
        mono_gap = (b.start_mono_ns - a.end_mono_ns) / 1e9
        assert abs(wall_gap - FRAME_S) < 0.5, f"{a.path.name} → {b.path.name}: {wall_gap:.3f} s apart"
        assert abs(mono_gap - FRAME_S) < 0.5, f"{a.path.name} → {b.path.name}: {mono_gap:.3f} s apart"
    if wall_s is not None:  # every frame streamed while connected is in a segment (±1 s of frames)
        total = sum(s.frames for s in session)
        assert abs(total - wall_s * FPS) <= FPS + 3, f"{total} frames in {wall_s:.1f} s"


def test_rtsp_camera_recorded_reconnected_and_stopped(
    camera: RtspCamera, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edge_agent.recording")
    url = camera.url.replace("rtsp://", "rtsp://viewer:secret@")  # the test server ignores the login
    segments: list[Segment] = []
    rec = Segmenter(
        url, tmp_path / "rec", segment_s=SEGMENT_S, on_segment=segments.append, timeout_s=3.0,
        reconnect_min_s=0.2, reconnect_max_s=1.0,
    )  # fmt: skip
    assert rec.live and "secret" not in rec.name and "viewer:***@" in rec.name
    rec.start()
    t0 = time.monotonic()
    try:
        wait_for("3 segments", lambda: len(segments) >= 3)
        camera.stop()  # power cut at the camera
        t_lost = time.monotonic()
        wait_for("the drop to be noticed", lambda: rec.stats.drops >= 1)
        first = sessions(segments)
        assert len(first) == 1 and first[0][-1].ended_by != "length"
        time.sleep(1.0)  # the segmenter retries against a closed port meanwhile
        camera.start()
        t_back = time.monotonic()
        wait_for("2 segments after the restart", lambda: len(segments) >= len(first[0]) + 2)
        stopper: list[bool] = []
        thread = threading.Thread(target=lambda: stopper.append(rec.stop(timeout_s=10)))
        thread.start()
        thread.join(15)
        t_end = time.monotonic()
    finally:
        rec.stop(timeout_s=10)
    assert stopper == [True], "stop() from another thread did not end the loop"
    assert rec._thread is not None and not rec._thread.is_alive()

    both = sessions(segments)
    assert len(both) == 2, [s.ended_by for s in segments]
    assert both[1][-1].ended_by == "stop"
    assert rec.stats.connects == 2 and not rec.stats.connected
    assert rec.stats.decoder_opened is False
    assert rec.stats.segments == len(segments) and rec.stats.packets == sum(s.frames for s in segments)
    assert [s.path.name for s in segments] == [f"cam0-{i:08d}.mp4" for i in range(len(segments))]
    assert not list((tmp_path / "rec").glob("*.part"))
    check_session(both[0], wall_s=t_lost - t0)
    check_session(both[1], wall_s=t_end - t_back)
    outage = (both[1][0].start - both[0][-1].end).total_seconds()
    assert 1.0 < outage < 30, f"the outage shows as {outage:.1f} s"

    logs = [r.getMessage() for r in caplog.records]
    lost = [m for m in logs if "lost" in m]
    assert lost and all("rtsp://viewer:***@127.0.0.1" in m for m in lost), logs
    assert any("delivers again" in m for m in logs), logs
    assert not any("secret" in m for m in logs), logs
    assert "secret" not in rec.stats.last_error


def test_unreachable_camera_redacted_and_stops_while_retrying(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edge_agent.recording")
    rec = Segmenter(
        "rtsp://admin:secret@127.0.0.1:1/stream", tmp_path, timeout_s=2.0, reconnect_min_s=0.1,
        reconnect_max_s=0.2,
    ).start()  # fmt: skip
    try:
        wait_for("a failed connect", lambda: rec.stats.drops >= 2, timeout_s=20)
    finally:
        t = time.monotonic()
        assert rec.stop(timeout_s=10)
    assert time.monotonic() - t < 5
    logs = [r.getMessage() for r in caplog.records]
    assert any("rtsp://admin:***@127.0.0.1:1/stream" in m and "cannot open" in m for m in logs), logs
    assert len([m for m in logs if "lost" in m]) == 1, "the same failure is logged once, not per retry"
    assert not any("secret" in m for m in logs) and "secret" not in rec.stats.last_error
    assert rec.stats.segments == 0 and rec.stats.connects == 0 and not list(tmp_path.iterdir())


def test_silent_camera_stop_within_timeout(tmp_path: Path) -> None:
    """A camera that accepts the connection and then says nothing: stop() still ends promptly."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        rec = Segmenter(f"rtsp://127.0.0.1:{port}/cam", tmp_path, timeout_s=1.5, reconnect_min_s=0.1)
        rec.start()
        conn, _ = server.accept()  # it connected; never answer
        try:
            time.sleep(0.3)
            t = time.monotonic()
            assert rec.stop(timeout_s=rec.timeout_s + 5)
            assert time.monotonic() - t < rec.timeout_s + 3
        finally:
            conn.close()
    assert rec.stats.segments == 0 and rec.stats.connects == 0


def test_file_source_records_to_its_end(clip: Path, tmp_path: Path) -> None:
    segments: list[Segment] = []
    rec = Segmenter(str(clip), tmp_path, segment_s=SEGMENT_S, on_segment=segments.append)
    assert not rec.live
    rec.run()  # returns at the file's end
    with av.open(str(clip)) as c:
        streamed = sum(1 for p in c.demux(c.streams.video[0]) if p.size)
    assert sum(s.frames for s in segments) == streamed == rec.stats.packets
    assert segments[-1].ended_by == "end of stream"
    assert rec.stats.decoder_opened is False and rec.stats.drops == 0
    assert len(segments) == rec.stats.segments >= int(streamed * FRAME_S / (SEGMENT_S + KEYFRAME_S))
    for s in segments:
        frames, first_key = decoded_frames(s.path)
        assert frames == s.frames and first_key
    for s in segments[:-1]:
        assert s.ended_by == "length" and s.duration_s >= SEGMENT_S - 0.01


def test_leftover_part_kept_as_torn_and_numbering_continues(clip: Path, tmp_path: Path) -> None:
    part = tmp_path / "cam0-00000007.mp4.part"
    part.write_bytes(b"half a segment")
    other = tmp_path / "cam1-00000003.mp4.part"  # another camera's: not this segmenter's business
    other.write_bytes(b"x")
    segments: list[Segment] = []
    Segmenter(str(clip), tmp_path, segment_s=8, on_segment=segments.append).run()
    torn = tmp_path / "cam0-00000007.torn.mp4"
    assert not part.exists() and torn.read_bytes() == b"half a segment"
    assert other.exists()
    assert segments and segments[0].path.name == "cam0-00000008.mp4"


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_binary(), "-v", "error", "-y", *args], check=True, capture_output=True, timeout=60)


@pytest.mark.parametrize("codec", ["mpeg4", "mjpeg"])
def test_not_h264_is_a_recording_error(clip: Path, tmp_path: Path, codec: str) -> None:
    other = tmp_path / f"clip-{codec}.mkv"
    _ffmpeg("-i", str(clip), "-t", "1", "-an", "-c:v", codec, str(other))
    rec = Segmenter(str(other), tmp_path / "rec")
    with pytest.raises(RecordingError, match=f"records H.264 or H.265 only; this stream is {codec}"):
        rec.run()
    assert not list((tmp_path / "rec").iterdir())


def test_audio_only_and_missing_file_are_recording_errors(tmp_path: Path) -> None:
    audio = tmp_path / "tone.m4a"
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", str(audio))
    with pytest.raises(RecordingError, match="the stream has no video"):
        Segmenter(str(audio), tmp_path / "rec").run()
    with pytest.raises(RecordingError, match=r"cannot open the camera: No such file"):
        Segmenter(str(tmp_path / "nowhere.mp4"), tmp_path / "rec").run()


def test_decoder_crashing_file_is_a_message_not_a_crash(tmp_path: Path) -> None:
    """The clip that aborts OpenCV's FFmpeg: in a child process, since it may kill one."""
    crasher = shared(CRASHER)
    program = (
        "import sys\nfrom pathlib import Path\n"
        "from edge_agent.recording.segmenter import RecordingError, Segmenter\n"
        "try:\n    Segmenter(sys.argv[1], Path(sys.argv[2])).run()\n"
        "except RecordingError as exc:\n    print('RecordingError:', exc)\n    sys.exit(3)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", program, str(crasher), str(tmp_path / "rec")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 3, f"exit {proc.returncode}: {proc.stdout}{proc.stderr}"
    assert "Traceback" not in proc.stderr
    assert "records H.264 or H.265 only; this stream is rawvideo" in proc.stdout
    assert crasher.name in proc.stdout
