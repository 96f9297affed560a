"""A damaged or full SD card: the outbox heals instead of reboot-looping, and loses nothing it
claims to keep. `seq` goes on by one across restarts, and above everything ever sent after a
damaged file.

The disk-full case runs on a real 2 MiB tmpfs (root only; skipped with the reason otherwise).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.contract.message import Kind, Message
from edge_agent.delivery.outbox import Outbox, OutboxError
from edge_agent.delivery.outbox_file import SEQ_MARGIN

MAX = 10 * 2**20


def event(box: Outbox, size: int = 300) -> Message:
    seq = box.next_seq()
    body = json.dumps({"seq": seq, "pad": "x" * size}).encode()
    return Message("edge/p/cam0/events", body, Kind.EVENT, seq=seq)


def picture(i: int, size: int = 60_000) -> Message:
    return Message(f"edge/p/cam0/thumbnails/{i}", os.urandom(size), Kind.THUMBNAIL)


def stored_seqs(box: Outbox) -> list[int]:
    rows = box.read(0, 100_000)
    return [json.loads(r.message.payload)["seq"] for r in rows if r.message.kind is Kind.EVENT]


def test_seq_goes_on_by_one_across_restarts(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.db", MAX)
    for _ in range(5):
        box.put(event(box))
    box.close()
    again = Outbox(tmp_path / "outbox.db", MAX)
    assert again.next_seq() == 6
    again.close()
    (tmp_path / "outbox.db").unlink()  # the outbox emptied and removed: the hint file still knows
    third = Outbox(tmp_path / "outbox.db", MAX)
    assert third.next_seq() == 6
    third.close()


def test_seq_issued_but_never_stored_is_given_again(tmp_path: Path) -> None:
    """A crash between numbering and storing: the number was never sent, so no gap and no twin."""
    box = Outbox(tmp_path / "outbox.db", MAX)
    box.put(event(box))
    box.next_seq()  # numbered, never stored (the process dies here)
    box._db.close()
    again = Outbox(tmp_path / "outbox.db", MAX)
    assert again.next_seq() == 2
    again.close()


def _damage_random(path: Path) -> None:
    path.write_bytes(os.urandom(20_000))


def _damage_truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3 + 100])


def _damage_page(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for offset in range(4096, len(data), 4096):  # every page but the header: b-tree pages garbled
        data[offset + 8 : offset + 200] = os.urandom(192)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_damage_random, _damage_truncated, _damage_page])
def test_a_damaged_outbox_is_moved_aside_and_a_fresh_one_started(
    tmp_path: Path, damage: object, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "outbox.db"
    box = Outbox(db, MAX)
    for i in range(40):
        box.put(event(box))
        box.put(picture(i, 3000))
    box.flush()
    box.sync()  # the hint file: the highest seq as of this checkpoint
    box.close()
    damage(db)  # type: ignore[operator]
    with caplog.at_level(logging.ERROR):
        healed = Outbox(db, MAX)
    aside = list(tmp_path.glob("outbox.db.damaged-*"))
    assert aside, "the damaged file is kept for a technician, beside the new one"
    assert healed.damaged == 1 and healed.depth == 0
    assert caplog.text.count("is damaged") == 1
    n = healed.next_seq()
    assert n > 40, "numbering resumes above everything sent"
    assert n == 40 + SEQ_MARGIN + 1
    healed.put(Message("edge/p/cam0/events", json.dumps({"seq": n}).encode(), Kind.EVENT, seq=n))
    assert stored_seqs(healed) == [n]
    healed.close()


@pytest.mark.parametrize("content", ["garbage\n", "-5\n", "", "9" * 40, "\x00\xff"])
def test_a_damaged_seq_file_is_ignored_with_a_message(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    box = Outbox(tmp_path / "outbox.db", MAX)
    for _ in range(3):
        box.put(event(box))
    box.close()
    (tmp_path / "seq").write_text(content, encoding="latin-1")
    with caplog.at_level(logging.ERROR):
        again = Outbox(tmp_path / "outbox.db", MAX)
    assert again.next_seq() == 4  # the database's own record wins
    again.close()


class MalformedOnInsert:
    """A connection whose next INSERT fails the way SQLite reports a damaged file."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql.startswith("INSERT INTO outbox"):
            raise sqlite3.DatabaseError("database disk image is malformed")
        return self._db.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self._db, name)


def test_a_damaged_file_found_while_running_is_healed(tmp_path: Path) -> None:
    db = tmp_path / "outbox.db"
    box = Outbox(db, MAX)
    for i in range(40):
        box.put(event(box))
        box.put(picture(i, 3000))
    box.flush()
    box._db = MalformedOnInsert(box._db)  # the card goes bad under the running agent
    box.put(event(box))
    assert box.damaged == 1 and box.generation == 1
    assert stored_seqs(box) == [41], "the event being stored went into the fresh file, numbered on"
    box.close()


def test_an_unusable_directory_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(OutboxError, match="cannot be opened"):
        Outbox(blocker / "outbox.db", MAX)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a 2 MiB tmpfs needs root (CI runs as root)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_gives_up_pictures_for_events_and_counts_what_is_lost(small_disk: Path) -> None:
    box = Outbox(small_disk / "outbox.db", 100 * 2**20, max_pending_bytes=2 * 2**20)
    events = 0
    for i in range(120):  # ~7 MB of pictures into 2 MiB, broker down: nothing acknowledged
        box.put(picture(i))
        box.put(event(box))
        events += 1
    box.flush()
    assert stored_seqs(box) == list(range(1, events + 1)), "every event is stored, in order"
    assert box.drops.get("thumbnail", 0) > 0 and "event" not in box.lost
    pictures_kept = box.stored - events
    assert pictures_kept + box.drops["thumbnail"] + box.lost.get("thumbnail", 0) == 120
    box.close()
    again = Outbox(small_disk / "outbox.db", 100 * 2**20)
    assert stored_seqs(again) == list(range(1, events + 1))
    again.close()


def test_replay_onto_a_full_disk_keeps_every_event_and_says_only_what_is_true(
    small_disk: Path, tmp_path: Path
) -> None:
    """The issue's case: state dir on a 2 MiB tmpfs, broker down, vtest.avi replayed."""
    import re
    import sys

    from tests.conftest import shared

    video = shared("pets09_s2l1_vtest/vtest.avi")
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'device_id = "pole1"\nstate_dir = "{small_disk}"\n'
        '[mqtt]\nurl = "mqtt://127.0.0.1:9"\n[outbox]\nflush_interval_s = 0.2\n'
    )
    out = tmp_path / "out"
    args = ["replay", str(video), "--out", str(out), "--config", str(cfg), "--no-progress"]
    done = subprocess.run(
        [sys.executable, "-m", "edge_agent", *args, "--drain-timeout", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode in (0, 6), done.stderr
    written = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    box = Outbox(small_disk / "outbox.db", 100 * 2**20)
    stored = stored_seqs(box)
    assert [e["seq"] for e in written] == stored, "every event made is stored, in order"
    claimed = re.search(r"(\d+) messages are stored in the outbox", done.stderr)
    assert claimed and int(claimed.group(1)) == box.stored, done.stderr
    box.close()
