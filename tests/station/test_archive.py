"""The archive on SQLite and PostgreSQL: dedupe, seq gaps, thumbnail checks, rejects."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from edge_agent.station.archive import Archive, Received
from edge_agent.station.db.engine import connect
from edge_agent.station.db.ops import read_counters
from edge_agent.station.db.schema import event_messages, events, picture_uses, rejects
from edge_agent.station.gaps import gaps_of
from edge_agent.station.inbox import PictureRecord, classify
from edge_agent.station.pictures import PictureStore
from tests.station.factory import event, jpeg, thumbnail


@pytest.fixture
def engine(db_url: str) -> Engine:
    e = connect(db_url)
    yield e
    e.dispose()


def put(archive: Archive, store: PictureStore, *messages: tuple[str, bytes], at: int = 1_000) -> None:
    batch = []
    for topic, payload in messages:
        rec = classify("edge", topic, payload, 4 * 2**20)
        if isinstance(rec, PictureRecord):
            store.put(rec.data)
        batch.append(Received("ward", at, rec))
    archive.store(batch)


def test_duplicates_are_dropped_by_device_and_seq(engine: Engine, tmp_path: Path) -> None:
    archive, store = Archive(engine), PictureStore(tmp_path / "pics")
    pic = jpeg(1)
    msgs = [
        thumbnail("pole1", 1, pic),
        event("pole1", 1, thumb=pic),
        event("pole1", 2, n=1, type="end", thumb=pic),
    ]
    put(archive, store, *msgs)
    put(archive, store, *msgs)  # QoS 1 redelivery, or the pole's outbox replaying
    with engine.connect() as c:
        assert c.execute(select(event_messages.c.seq)).scalars().all() == [1, 2]
        row = c.execute(select(events)).one()
        assert (row.last_type, row.messages, row.thumb_status) == ("end", 2, "ok")
        assert len(c.execute(select(picture_uses)).all()) == 1
        assert read_counters(c)["duplicates"] == 3
    assert store.get(row.thumb_sha256) == pic


def test_seq_gaps_are_recorded_and_filled_by_late_messages(engine: Engine, tmp_path: Path) -> None:
    archive, store = Archive(engine), PictureStore(tmp_path / "pics")
    put(archive, store, event("pole1", 1), event("pole1", 2), event("pole1", 7))
    with engine.connect() as c:
        assert gaps_of(c, "pole1") == [(3, 6)]
    put(archive, store, event("pole1", 4))
    with engine.connect() as c:
        assert gaps_of(c, "pole1") == [(3, 3), (5, 6)]
    put(archive, store, event("pole1", 3), event("pole1", 5), event("pole1", 6))
    with engine.connect() as c:
        assert gaps_of(c, "pole1") == []


def test_every_thumbnail_version_is_kept_and_a_wrong_one_is_flagged(engine: Engine, tmp_path: Path) -> None:
    archive, store = Archive(engine), PictureStore(tmp_path / "pics")
    v1, v2, bad, named = jpeg(1), jpeg(2), jpeg(3), jpeg(4)
    put(
        archive,
        store,
        thumbnail("pole1", 1, v1),
        event("pole1", 1, thumb=v1),
        thumbnail("pole1", 1, v2),
        event("pole1", 2, n=1, type="update", thumb=v2),
        thumbnail("pole1", 3, bad),  # bytes that do not hash to what event 3 names
        event("pole1", 3, thumb=named),
        event("pole1", 4, thumb=jpeg(5)),  # its thumbnail never comes
        at=1_000,
    )
    assert archive.flag_thumbnails(older_than_us=2_000) == 2
    with engine.connect() as c:
        status = dict(c.execute(select(events.c.event_id, events.c.thumb_status)).all())
        versions = c.execute(
            select(picture_uses.c.sha256).where(picture_uses.c.event_id == "pole1-cam0-000001")
        )
        assert len(versions.all()) == 2
    assert status == {
        "pole1-cam0-000001": "ok",
        "pole1-cam0-000003": "mismatch",
        "pole1-cam0-000004": "missing",
    }


def test_hostile_payloads_are_rejected_with_a_counted_reason(engine: Engine, tmp_path: Path) -> None:
    archive, store = Archive(engine), PictureStore(tmp_path / "pics")
    _, good = event("pole1", 1)
    put(
        archive,
        store,
        ("edge/pole1/cam0/events", b"{not json"),
        ("edge/pole1/cam0/events", b'{"seq": "many"}'),
        ("edge/pole2/cam0/events", good),  # pole1's event on pole2's topic
        ("edge/pole1/cam0/thumbnails/pole1-cam0-000001", b"GIF89a"),
        ("edge/pole1/stats", b"[1, 2]"),
        ("edge/pole1/status", b"maybe"),
        ("edge/pole1/cmd/reload", b"{}"),
        event("pole1", 2, label="m" * 500),  # fits no column: rejected, never a stuck writer
        ("edge/pole1/cam0/thumbnails/" + "a" * 200 + "-000001", b"\xff\xd8"),
        ("edge/pole1/cam0/events", b"x" * 5 * 2**20),
    )
    with engine.connect() as c:
        reasons = c.execute(select(rejects.c.reason).order_by(rejects.c.id)).scalars().all()
        assert c.execute(select(events)).first() is None
        counted = read_counters(c)
    assert len(reasons) == 10
    assert reasons[0].startswith("not a valid event") and "too large" in reasons[9]
    assert "label" in reasons[7] and "not a pole topic" in reasons[8]
    assert "topic says pole2/cam0" in reasons[2]
    assert sum(v for k, v in counted.items() if k.startswith("rejected")) == 10
