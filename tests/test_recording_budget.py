"""The recording folder's budget on real files: oldest segments go, everything else stays.

Order is by number within a camera (the chain's order, whatever the file times say) and, between
cameras, the camera whose oldest segment is oldest on disk goes first. Chain files, `.part`
files, symlinks, sub-folders and their files, and held segments are never deleted.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge_agent.recording.budget import WEAR_DAYS, Budget, Wear

T0 = 1_700_000_000 * 10**9  # ns


def make(directory: Path, name: str, size: int = 100, mtime_s: float = 0) -> Path:
    path = directory / name
    path.write_bytes(b"x" * size)
    ns = T0 + int(mtime_s * 1e9)
    os.utime(path, ns=(ns, ns))
    return path


def names(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


def test_within_budget_deletes_nothing(tmp_path: Path) -> None:
    for i in range(3):
        make(tmp_path, f"cam0-{i:08d}.mp4")
    budget = Budget(tmp_path, max_bytes=300)
    assert budget.used_bytes() == 300
    assert budget.enforce() == [] and len(names(tmp_path)) == 3


def test_oldest_number_first_whatever_the_file_times(tmp_path: Path) -> None:
    # the clock jumped back after segment 2: its mtimes say 3, 4, 5 are older; the numbers do not
    for i, mtime in enumerate([100, 110, 120, 10, 20, 30]):
        make(tmp_path, f"cam0-{i:08d}.mp4", mtime_s=mtime)
    budget = Budget(tmp_path, max_bytes=350)
    assert budget.enforce() == ["cam0-00000000.mp4", "cam0-00000001.mp4", "cam0-00000002.mp4"]
    assert names(tmp_path) == {"cam0-00000003.mp4", "cam0-00000004.mp4", "cam0-00000005.mp4"}
    assert budget.used_bytes() <= 350 and budget.deleted == 3
    assert budget.enforce() == []


def test_cameras_interleaved_by_their_oldest_segment(tmp_path: Path) -> None:
    make(tmp_path, "cam0-00000000.mp4", mtime_s=10)
    make(tmp_path, "cam1-00000000.mp4", mtime_s=20)
    make(tmp_path, "cam0-00000001.mp4", mtime_s=30)
    make(tmp_path, "cam1-00000001.mp4", mtime_s=40)
    make(tmp_path, "cam1-00000002.mp4", mtime_s=50)
    make(tmp_path, "cam0-00000002.mp4", mtime_s=60)
    deleted = Budget(tmp_path, max_bytes=150).enforce()
    assert deleted == [
        "cam0-00000000.mp4",
        "cam1-00000000.mp4",
        "cam0-00000001.mp4",
        "cam1-00000001.mp4",
        "cam1-00000002.mp4",
    ]
    assert names(tmp_path) == {"cam0-00000002.mp4"}


def test_torn_segments_go_in_their_turn(tmp_path: Path) -> None:
    make(tmp_path, "cam0-00000000.mp4")
    make(tmp_path, "cam0-00000001.torn.mp4")
    make(tmp_path, "cam0-00000002.mp4")
    assert Budget(tmp_path, max_bytes=150).enforce() == ["cam0-00000000.mp4", "cam0-00000001.torn.mp4"]


def test_never_deletes_what_is_not_a_closed_segment_here(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = make(outside, "cam0-00000000.mp4", size=500)
    rec = tmp_path / "rec"
    rec.mkdir()
    keep = {
        "cam0.chain.jsonl",
        "cam0.heads.jsonl",
        "notes.txt",
        "cam0-00000009.mp4.part",  # being written
        "CAM0-00000001.mp4",
        "cam0-123.mp4",  # not the recorder's names
        "cam0-00000002.mkv",
        "cam0-00000003.mp4.bak",
    }
    for name in keep:
        make(rec, name, size=300, mtime_s=-100)
    (rec / "cam0-00000000.mp4").symlink_to(victim)
    (rec / "cam0-00000004.mp4").symlink_to(outside)
    sub = rec / "cam0-00000005.mp4"  # a folder with a segment's name
    sub.mkdir()
    make(sub, "cam0-00000006.mp4")
    make(rec, "cam0-00000007.mp4", mtime_s=500)
    budget = Budget(rec, max_bytes=0, min_free_bytes=0)
    assert budget.enforce() == ["cam0-00000007.mp4"]
    assert names(rec) == keep | {"cam0-00000000.mp4", "cam0-00000004.mp4", "cam0-00000005.mp4"}
    assert victim.stat().st_size == 500 and (sub / "cam0-00000006.mp4").exists()
    assert budget.used_bytes() == 300 * len(keep), "symlinks and folders are not counted"


def test_held_kept_and_one_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    for i in range(4):
        make(tmp_path, f"cam0-{i:08d}.mp4", mtime_s=i)
    budget = Budget(tmp_path, max_bytes=50)
    budget.hold(["cam0-00000000.mp4", "cam0-00000002.mp4"])
    with caplog.at_level(logging.WARNING, logger="edge_agent.recording.budget"):
        assert budget.enforce() == ["cam0-00000001.mp4", "cam0-00000003.mp4"]
        assert budget.enforce() == []
        assert budget.enforce() == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "still 150 bytes over recording.max_bytes" in warnings[0], "what is left over, not the start"
    assert "2 held segment(s)" in warnings[0]
    assert names(tmp_path) == {"cam0-00000000.mp4", "cam0-00000002.mp4"}
    budget.release(["cam0-00000000.mp4"])
    assert budget.enforce() == ["cam0-00000000.mp4"]
    assert names(tmp_path) == {"cam0-00000002.mp4"}


def test_free_space_floor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for i in range(5):
        make(tmp_path, f"cam0-{i:08d}.mp4", mtime_s=i)
    budget = Budget(tmp_path, max_bytes=10**9, min_free_bytes=1000)
    free = {"bytes": 750}  # the card holds other things: 250 short of the floor

    def free_bytes(self: Budget) -> int:
        return free["bytes"] + 500 - self.used_bytes()

    monkeypatch.setattr(Budget, "free_bytes", free_bytes)
    assert budget.enforce() == ["cam0-00000000.mp4", "cam0-00000001.mp4", "cam0-00000002.mp4"]
    assert budget.free_bytes() >= 1000
    free["bytes"] = 0  # something else filled the card
    with caplog.at_level(logging.WARNING, logger="edge_agent.recording.budget"):
        assert budget.enforce() == ["cam0-00000003.mp4", "cam0-00000004.mp4"]
    assert not names(tmp_path)
    assert any("under recording.min_free_bytes" in r.getMessage() for r in caplog.records)


def test_real_free_space_is_read(tmp_path: Path) -> None:
    st = os.statvfs(tmp_path)
    assert Budget(tmp_path, 10**9).free_bytes() == st.f_bavail * st.f_frsize > 0


def test_wear_counts_per_day_and_saves_once_a_day(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "wear.json"
    wear = Wear(path)
    saves: list[dict[str, int]] = []
    real_save = Wear.save

    def counting_save(self: Wear) -> None:
        saves.append(dict(self.days))
        real_save(self)

    monkeypatch.setattr(Wear, "save", counting_save)
    day1 = datetime(2025, 3, 1, 23, 59, tzinfo=UTC)
    for _ in range(10):
        wear.add(1000, day1)
    wear.add(5, day1 + timedelta(minutes=2))  # past midnight UTC: a new day
    wear.add(5, datetime(2025, 3, 2, 8, 0, tzinfo=UTC))
    assert wear.days == {"2025-03-01": 10_000, "2025-03-02": 10}
    assert len(saves) == 2, "saved when a day begins, not at every write"
    assert Wear(path).days == {"2025-03-01": 10_000, "2025-03-02": 5}
    wear.save()
    assert Wear(path).days == wear.days
    wear.add(7)
    assert wear.today() == 7


def test_wear_keeps_a_month_and_survives_a_bad_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "wear.json"
    wear = Wear(path)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for d in range(WEAR_DAYS + 9):
        wear.add(d, start + timedelta(days=d))
    assert len(wear.days) == WEAR_DAYS and min(wear.days) == "2025-01-10"
    path.write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="edge_agent.recording.budget"):
        assert Wear(path).days == {}
    assert any("unreadable" in r.getMessage() for r in caplog.records)
    path.write_text('["a list"]')
    assert Wear(path).days == {}
    assert Wear(None).today() == 0
