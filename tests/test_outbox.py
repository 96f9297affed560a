"""The outbox on its own: order, acknowledgement, restart, the byte bound and its drop order."""

from __future__ import annotations

from pathlib import Path

from edge_agent.contract.message import Kind, Message
from edge_agent.delivery.outbox import Outbox


def msg(kind: Kind, i: int, size: int = 100) -> Message:
    return Message(f"edge/p/cam0/{kind.value}/{i}", bytes([i % 256]) * size, kind)


def test_order_ack_and_restart(tmp_path: Path) -> None:
    db = tmp_path / "outbox.db"
    box = Outbox(db, 10 * 1024 * 1024)
    for i in range(10):
        box.put(msg(Kind.EVENT, i))
    assert box.read(0, 100) != []  # events are committed as soon as they are put
    box.flush()
    rows = box.read(0, 100)
    assert [r.message.topic for r in rows] == [f"edge/p/cam0/event/{i}" for i in range(10)]
    for r in rows[:4]:
        box.ack(r.id)
    box.flush()
    assert box.depth == 6
    box.close()
    again = Outbox(db, 10 * 1024 * 1024)  # a restart: the unacknowledged rows are still there
    rows = again.read(0, 100)
    assert [r.message.topic for r in rows] == [f"edge/p/cam0/event/{i}" for i in range(4, 10)]
    assert rows[0].message.payload == bytes([4]) * 100 and rows[0].message.kind is Kind.EVENT
    again.close()


def test_full_outbox_drops_thumbnails_before_events_and_counts(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.db", 1024 * 1024)
    for i in range(10):
        box.put(msg(Kind.EVENT, i, 1000))
        box.put(msg(Kind.THUMBNAIL, i, 150_000))
    box.flush()
    assert box.bytes <= 1024 * 1024
    kinds = [r.message.kind for r in box.read(0, 1000)]
    assert kinds.count(Kind.EVENT) == 10, "no event may go while a thumbnail is left"
    assert box.drops == {"thumbnail": 10 - kinds.count(Kind.THUMBNAIL)}
    # the thumbnails kept are the newest ones
    kept = [r.message.topic for r in box.read(0, 1000) if r.message.kind is Kind.THUMBNAIL]
    assert kept == [f"edge/p/cam0/thumbnail/{i}" for i in range(10 - len(kept), 10)]
    # then, with no picture left, the oldest events go
    for i in range(10, 1200):
        box.put(msg(Kind.EVENT, i, 1000))
    box.flush()
    assert box.drops["thumbnail"] == 10 and box.drops["event"] > 0
    rows = box.read(0, 5000)
    assert all(r.message.kind is Kind.EVENT for r in rows)
    assert rows[-1].message.topic.endswith("/1199")
    box.close()
    assert Outbox(tmp_path / "outbox.db", 1024 * 1024).drops == box.drops  # counters persist


def test_write_error_keeps_the_batch_in_memory(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.db", 10 * 1024 * 1024)
    box._db.execute("PRAGMA query_only = ON")  # every write fails, as on a full or read-only disk
    box.put(msg(Kind.EVENT, 1))
    assert box.write_errors == 1 and box.depth == 1
    box._db.execute("PRAGMA query_only = OFF")
    box.flush()
    assert [r.message.topic for r in box.read(0, 10)] == ["edge/p/cam0/event/1"]
    box.close()
