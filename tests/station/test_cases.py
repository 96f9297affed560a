"""Cases, export, verify, audit and retention on SQLite and PostgreSQL, through the CLI's code."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete, func, select

from edge_agent.station.evidence import auditlog, cases
from edge_agent.station.evidence.bag import verify_bag
from edge_agent.station.evidence.export import export_case
from edge_agent.station.evidence.signing import load_or_create_key, public_key_pem
from edge_agent.station.ingest.archive import Archive, Received
from edge_agent.station.ingest.inbox import PictureRecord, classify
from edge_agent.station.store.engine import connect
from edge_agent.station.store.ops import read_counters
from edge_agent.station.store.pictures import PictureStore
from edge_agent.station.store.retention import DAY_US, Retention
from edge_agent.station.store.schema import audit, events, pictures
from tests.station.factory import event, jpeg, thumbnail

NOW_US = 1_800_000_000_000_000  # 2027-01-15


@pytest.fixture
def filled(db_url: str, tmp_path: Path) -> Iterator[tuple[Engine, PictureStore]]:
    engine = connect(db_url)
    store = PictureStore(tmp_path / "pics")
    batch = []
    for i in range(1, 11):
        v1, v2 = jpeg(i), jpeg(100 + i)
        for topic, payload in (
            thumbnail("pole1", i, v1),
            event("pole1", 2 * i - 1, n=i, thumb=v1, synced=i != 3),
            thumbnail("pole1", i, v2),
            event("pole1", 2 * i, n=i, type="end", thumb=v2),
            ("edge/pole1/cam0/snapshot", jpeg(1000 + i)),
        ):
            rec = classify("edge", topic, payload, 2**22)
            if isinstance(rec, PictureRecord):
                store.put(rec.data)
            batch.append(Received("ward", NOW_US - (100 - i) * DAY_US, rec))
    Archive(engine).store(batch)
    yield engine, store
    engine.dispose()


def test_export_verifies_and_catches_a_flipped_byte_and_a_removed_file(
    filled: tuple[Engine, PictureStore], tmp_path: Path
) -> None:
    engine, store = filled
    cases.open_case(engine, "case-17", "motorbike theft 22/11", "officer-an")
    cases.add_events(
        engine, "case-17", [("pole1", "pole1-cam0-000003"), ("pole1", "pole1-cam0-000004")], "officer-an"
    )
    key = tmp_path / "key.pem"
    bag = export_case(engine, store, key, "ward7", "case-17", tmp_path / "bag", "officer-an")
    pem = public_key_pem(load_or_create_key(key))
    report = verify_bag(bag, pem)
    assert report.ok and report.signature_ok, report.messages
    files = sorted(p.relative_to(bag).as_posix() for p in bag.rglob("*") if p.is_file())
    ev = "data/events/pole1/pole1-cam0-000003"
    assert f"{ev}/messages/000000000005.json" in files and f"{ev}/messages/000000000006.json" in files
    assert sum(1 for f in files if f.startswith(f"{ev}/thumbnails/")) == 2  # every version
    assert any(f.startswith(f"{ev}/snapshots/") for f in files)
    record = (bag / ev / "station-record.json").read_text()
    assert '"synced_throughout": false' in record  # event 3's pole clock was not synchronised
    raw = (bag / ev / "messages/000000000005.json").read_bytes()
    assert b'"seq": 5' in raw  # exactly as received

    flipped = tmp_path / "flipped"
    shutil.copytree(bag, flipped)
    target = flipped / ev / "messages/000000000005.json"
    data = bytearray(target.read_bytes())
    data[10] ^= 1
    target.write_bytes(bytes(data))
    report = verify_bag(flipped, pem)
    assert not report.ok and report.altered == [f"{ev}/messages/000000000005.json"]

    removed = tmp_path / "removed"
    shutil.copytree(bag, removed)
    thumb = next((removed / ev / "thumbnails").iterdir())
    thumb.unlink()
    report = verify_bag(removed, pem)
    assert not report.ok and report.removed == [thumb.relative_to(removed).as_posix()]


def test_audit_records_every_action_and_verify_catches_a_deleted_row(
    filled: tuple[Engine, PictureStore],
) -> None:
    engine, _ = filled
    cases.open_case(engine, "c1", "r", "an")
    cases.add_events(engine, "c1", [("pole1", "pole1-cam0-000001")], "an")
    cases.set_hold(engine, "c1", False, "binh")
    auditlog.record(engine, "an", "search", {"devices": ["pole1"]})
    assert auditlog.verify(engine) == []
    with engine.connect() as c:
        actions = [r.action for r in auditlog.rows(c)]
    assert actions == ["case-open", "case-add", "release", "search"]
    with engine.begin() as c:
        second = c.execute(select(audit.c.id).order_by(audit.c.id).offset(1).limit(1)).scalar()
        c.execute(delete(audit).where(audit.c.id == second))
    problems = auditlog.verify(engine)
    assert problems and any(str(second) in p or "missing" in p for p in problems)


def test_retention_deletes_oldest_pictures_then_events_never_a_held_case(
    filled: tuple[Engine, PictureStore],
) -> None:
    engine, store = filled
    cases.open_case(engine, "held", "r", "an")
    cases.add_events(engine, "held", [("pole1", "pole1-cam0-000001")], "an")
    ret = Retention(engine, store, free=lambda: 50.0)
    # pictures older than 95 days go: events 1..5 were received 99..95 days ago
    d = ret.run(NOW_US, events_days=1000, pictures_days=95, min_free_percent=10)
    assert d.events == 0 and d.pictures > 0
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(events)).scalar() == 10
    # events older than 92 days go, except the held one
    d = ret.run(NOW_US, events_days=92, pictures_days=1000, min_free_percent=10)
    with engine.connect() as c:
        left = c.execute(select(events.c.event_id).order_by(events.c.event_id)).scalars().all()
        counted = read_counters(c)
        kept = c.execute(select(func.count()).select_from(pictures)).scalar()
    assert left[0] == "pole1-cam0-000001" and "pole1-cam0-000002" not in left
    assert counted["retention: events"] == d.events > 0
    assert kept and store.get(jpeg_sha := __import__("hashlib").sha256(jpeg(1)).hexdigest()) is not None, (
        jpeg_sha
    )  # the held event's thumbnail is still there

    # below the disk watermark: everything not held goes, oldest first
    free = iter([5.0] * 50 + [50.0] * 1000)
    Retention(engine, store, free=lambda: next(free)).run(NOW_US, 1000, 1000, 10)
    with engine.connect() as c:
        assert c.execute(select(events.c.event_id)).scalars().all() == ["pole1-cam0-000001"]
