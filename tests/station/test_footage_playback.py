"""A clip's verified segments remuxed into one MP4 the browser plays: every frame, in order, gaps kept.

Real segments: the demo clip as H.264 cut by the pole's own segmenter, placed in the station's
footage folder as they arrive there. The MP4 holds every frame of the verified segments, none of
one that is not verified, and a segment the pole did not keep stays a jump in time.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import av
import pytest

from edge_agent.recording.segment_file import Segment
from edge_agent.recording.segmenter import Segmenter
from edge_agent.station.footage.playback import PlaybackError, clip_mp4
from edge_agent.station.footage.requests import ClipStatus, SegmentState
from edge_agent.station.store.footage_files import FootageFiles, SegmentKey
from tests.rtsp_server import h264_clip

CHAIN = "0123456789abcdef"
T0 = int(datetime(2026, 12, 7, 21, 10, tzinfo=UTC).timestamp() * 1e6)


@pytest.fixture(scope="module")
def segments(tmp_path_factory: pytest.TempPathFactory) -> list[Segment]:
    work = tmp_path_factory.mktemp("segs")
    out: list[Segment] = []
    Segmenter(
        str(h264_clip(work / "clips", 12)), work / "rec", segment_s=2, live=False, on_segment=out.append
    ).run()
    assert len(out) >= 5
    return out


def frames_of(path: Path) -> tuple[int, float]:
    with av.open(str(path)) as c:
        video = c.streams.video[0]
        n = sum(1 for _ in c.decode(video))
        return n, float(c.duration or 0) / 1e6


def status_with(segs: list[Segment], files: FootageFiles, states: list[str], tmp: Path) -> ClipStatus:
    out: list[SegmentState] = []
    at = T0
    for i, (seg, state) in enumerate(zip(segs, states, strict=True)):
        key = SegmentKey("pole17", "cam0", CHAIN, i)
        files.folder(key).mkdir(parents=True, exist_ok=True)
        shutil.copy(seg.path, files.path(key))
        span = int(seg.duration_s * 1e6)
        out.append(SegmentState(CHAIN, i, seg.path.name, at, at + span, seg.bytes, seg.bytes, state, ""))
        at += span
    st = ClipStatus(1, "pole17", "cam0", None, T0, at, "an", T0, "done", "")
    st.segments = out
    return st


def test_the_verified_segments_play_as_one_clip_with_every_frame(
    segments: list[Segment], tmp_path: Path
) -> None:
    files = FootageFiles(tmp_path / "footage")
    segs = segments[:4]
    st = status_with(segs, files, ["verified"] * 4, tmp_path)
    mp4 = clip_mp4(st, files, tmp_path / "cache")
    n, duration = frames_of(mp4)
    assert n == sum(s.frames for s in segs)
    assert duration == pytest.approx(sum(s.duration_s for s in segs), abs=0.3)
    assert clip_mp4(st, files, tmp_path / "cache") == mp4, "made once for the same segments"


def test_a_segment_not_verified_is_left_out_and_its_time_stays_a_gap(
    segments: list[Segment], tmp_path: Path
) -> None:
    files = FootageFiles(tmp_path / "footage")
    segs = segments[:4]
    st = status_with(segs, files, ["verified", "mismatch", "verified", "verified"], tmp_path)
    n, duration = frames_of(clip_mp4(st, files, tmp_path / "cache"))
    assert n == sum(s.frames for i, s in enumerate(segs) if i != 1), "the mismatched segment is never played"
    assert duration == pytest.approx(sum(s.duration_s for s in segs), abs=0.3), "the gap is kept, not hidden"


def test_nothing_verified_is_a_sentence(segments: list[Segment], tmp_path: Path) -> None:
    files = FootageFiles(tmp_path / "footage")
    st = status_with(segments[:2], files, ["arriving", "wanted"], tmp_path)
    with pytest.raises(PlaybackError, match="no segment of this clip has come"):
        clip_mp4(st, files, tmp_path / "cache")
