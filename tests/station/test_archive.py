"""The archive on SQLite and PostgreSQL: dedupe, seq gaps, thumbnail checks, rejects."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError

from edge_agent.station.ingest.archive import Archive, Received
from edge_agent.station.ingest.gaps import gaps_of
from edge_agent.station.ingest.inbox import DeviceRecord, EventRecord, PictureRecord, classify
from edge_agent.station.store.engine import connect
from edge_agent.station.store.ops import read_counters
from edge_agent.station.store.pictures import PictureStore
from edge_agent.station.store.schema import (
    cameras,
    counters,
    device_messages,
    devices,
    event_messages,
    events,
    picture_uses,
    pictures,
    rejects,
    seq_gaps,
)
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


def test_a_thumbnail_in_the_batch_of_a_late_message_of_its_event_makes_it_ok(
    engine: Engine, tmp_path: Path
) -> None:
    archive, store = Archive(engine), PictureStore(tmp_path / "pics")
    pic = jpeg(1)
    put(archive, store, event("pole1", 5, n=1, type="end", thumb=pic), at=1_000)  # the thumbnail is late
    put(archive, store, event("pole1", 4, n=1, thumb=pic), thumbnail("pole1", 1, pic), at=2_000)
    with engine.connect() as c:
        row = c.execute(select(events)).one()
        assert c.execute(select(seq_gaps)).first() is None
    assert (row.last_seq, row.last_type, row.messages, row.thumb_status) == (5, "end", 2, "ok")


def test_a_value_too_long_for_its_column_fails_the_batch_never_cut(engine: Engine, db_url: str) -> None:
    """PostgreSQL gets a batch as arrays: a string too long for its column must fail the whole
    batch (the writer then stores its messages one by one), never be cut short by a cast."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite does not enforce VARCHAR lengths")
    archive = Archive(engine)
    good = classify("edge", *event("pole1", 1), 4 * 2**20)
    bad = DeviceRecord("stats", "p" * 70, "", b"{}", None)  # past the inbox, which refuses it
    with pytest.raises(DBAPIError):
        archive.store([Received("ward", 1, good), Received("ward", 2, bad)])
    with engine.connect() as c:
        assert c.execute(select(devices)).first() is None
    archive.store([Received("ward", 1, good)])
    with engine.connect() as c:
        assert c.execute(select(devices.c.device)).scalars().all() == ["pole1"]


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


# -- a batch stores exactly what its messages stored one by one would ------------------------

POLES = ["pole1", "pole2"]
TABLES = (
    event_messages,
    events,
    pictures,
    picture_uses,
    device_messages,
    devices,
    cameras,
    seq_gaps,
    rejects,
    counters,
)


def _event_msg() -> st.SearchStrategy[tuple[str, bytes]]:
    return st.builds(
        lambda device, seq, n, kind, thumb, label, zones, synced, score: event(
            device,
            seq,
            n=n,
            type=kind,
            thumb=None if thumb is None else jpeg(thumb),
            label=label,
            zones=zones,
            synced=synced,
            score=score,
        ),
        st.sampled_from(POLES),
        st.integers(1, 14),
        st.integers(1, 4),
        st.sampled_from(["start", "update", "end"]),
        st.none() | st.integers(1, 3),
        st.sampled_from(["person", "car"]),
        st.lists(st.sampled_from(["a", "b", "c"]), max_size=2),
        st.booleans(),
        st.sampled_from([0.3, 0.6, 0.9]),
    )


def _other_msg() -> st.SearchStrategy[tuple[str, bytes]]:
    device = st.sampled_from(POLES)
    return st.one_of(
        st.builds(lambda d, n, k: thumbnail(d, n, jpeg(k)), device, st.integers(1, 4), st.integers(1, 3)),
        st.builds(lambda d, k: (f"edge/{d}/cam0/snapshot", jpeg(10 + k)), device, st.integers(1, 2)),
        st.builds(lambda d, s: (f"edge/{d}/status", s), device, st.sampled_from([b"online", b"offline"])),
        st.builds(lambda d, k: (f"edge/{d}/stats", b'{"cpu": %d}' % k), device, st.integers(1, 3)),
        st.builds(
            lambda d, kind, k: (f"edge/{d}/cam0/{kind}", b'{"v": %d}' % k),
            device,
            st.sampled_from(["health", "counts", "alarm"]),
            st.integers(1, 2),
        ),
        st.builds(lambda d, m: (f"edge/{d}/cam0/motion", m), device, st.sampled_from([b"ON", b"OFF"])),
        st.builds(lambda d: (f"edge/{d}/cam0/events", b"{not json"), device),
    )


def dump(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    with engine.connect() as c:
        for t in TABLES:
            cols = [col for col in t.columns if col.name != "id"]
            out[t.name] = sorted(tuple(r) for r in c.execute(select(*cols)))
    return out


@pytest.fixture
def two_engines(
    db_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Engine, Engine]]:
    if db_url.startswith("sqlite"):
        other = f"sqlite:///{tmp_path / 'one-by-one.db'}"
    else:
        other = request.getfixturevalue("postgres").create_database(f"one_by_one_{id(tmp_path) % 100000}")
    a, b = connect(db_url), connect(other)
    yield a, b
    a.dispose()
    b.dispose()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    messages=st.lists(st.one_of(_event_msg(), _event_msg(), _other_msg()), min_size=1, max_size=30),
    cuts=st.lists(st.integers(1, 30), max_size=4),
)
def test_a_batch_stores_what_its_messages_one_by_one_would(
    two_engines: tuple[Engine, Engine], tmp_path: Path, messages: list[tuple[str, bytes]], cuts: list[int]
) -> None:
    """Dedupe, seq gaps opened and filled, thumbnail status, fleet rows, counters: the set-based
    batch (cut at random places) leaves the archive exactly as storing each message alone does."""
    batched, single = two_engines
    for engine in two_engines:
        with engine.begin() as c:
            for t in reversed(TABLES):
                c.execute(t.delete())
    store = PictureStore(tmp_path / "pics")
    items = []
    for k, (topic, payload) in enumerate(messages):
        rec = classify("edge", topic, payload, 4 * 2**20)
        if isinstance(rec, PictureRecord):
            store.put(rec.data, sync=False)
        items.append(Received("ward", 1_000 + k, rec))
    a, bounds = Archive(batched), sorted({0, len(items), *(c for c in cuts if c < len(items))})
    for lo, hi in itertools.pairwise(bounds):
        a.store(items[lo:hi])
    b = Archive(single)
    for item in items:
        b.store([item])
    assert dump(batched) == dump(single)
    expected = model(items)
    with batched.connect() as c:
        assert {d: gaps_of(c, d) for d in POLES} == expected["gaps"]
        assert (
            sorted(c.execute(select(event_messages.c.device, event_messages.c.seq))) == expected["messages"]
        )
        got = c.execute(select(events.c.device, events.c.event_id, events.c.last_seq, events.c.thumb_status))
        assert sorted(tuple(r) for r in got) == expected["events"]


def model(items: list[Received]) -> dict[str, object]:
    """What the archive must hold, from first principles: the first message of each (device, seq);
    holes above each pole's first seq not filled; each event described by its highest seq, its
    thumbnail `ok` once the picture it names has come under its topic (before or after)."""
    first: dict[tuple[str, int], EventRecord] = {}
    for item in items:
        if isinstance(item.record, EventRecord):
            first.setdefault((item.record.device, item.record.event.seq), item.record)
    gaps = {}
    for d in POLES:
        seqs = [s for (dev, s) in first if dev == d]
        base = next((r.event.seq for (dev, _), r in first.items() if dev == d), None)
        holes = [s for s in range(base + 1, max(seqs)) if s not in seqs] if base is not None else []
        gaps[d] = [(g[0], g[-1]) for g in _runs(holes)]
    came = {
        (i.record.device, i.record.event_id, i.record.sha256)
        for i in items
        if isinstance(i.record, PictureRecord) and i.record.kind == "thumbnail"
    }
    newest: dict[tuple[str, str], EventRecord] = {}
    for r in first.values():
        key = (r.device, r.event.id)
        if key not in newest or r.event.seq > newest[key].event.seq:
            newest[key] = r
    rows = []
    for (d, eid), r in newest.items():
        sha = r.event.thumbnail.sha256 if r.event.thumbnail else None
        status = "none" if sha is None else "ok" if (d, eid, sha) in came else "pending"
        rows.append((d, eid, r.event.seq, status))
    return {"gaps": gaps, "messages": sorted(first), "events": sorted(rows)}


def _runs(values: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for v in values:
        if runs and runs[-1][-1] == v - 1:
            runs[-1].append(v)
        else:
            runs.append([v])
    return runs
