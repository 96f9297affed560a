"""Footage retention at the station: a held case keeps its clips and the records its bag needs;
everything else goes by age, and first of all when the disk is under its watermark."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from edge_agent.station.evidence.cases import add_events, open_case
from edge_agent.station.footage.puller import Puller
from edge_agent.station.footage.requests import ask_event, ask_range, status
from edge_agent.station.store.engine import connect
from edge_agent.station.store.footage_files import SegmentKey
from edge_agent.station.store.footage_retention import FootageRetention
from edge_agent.station.store.footage_tables import footage_segments
from edge_agent.station.store.pictures import PictureStore
from edge_agent.station.store.retention import Retention
from tests.station.factory import event
from tests.station.test_footage_pull import T0, feed, setup, us

DAY = 86_400 * 1_000_000


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    e = connect(db_url)
    yield e
    e.dispose()


def test_a_held_case_keeps_its_clip_and_the_rest_goes_by_age(engine: Engine, tmp_path: Path) -> None:
    pole, archive, files = setup(engine, tmp_path, n=12)
    start = T0 + timedelta(seconds=6)
    feed(archive, [event("pole17", 1, n=1, start=start), event("pole17", 2, n=1, type="end", start=start)])
    with engine.begin() as conn:
        held = ask_event(conn, "pole17", "pole17-cam0-000001", "an", 5, 5)  # segments 0-3
        loose = ask_range(
            conn, "pole17", "cam0", us(T0 + timedelta(seconds=32)), us(T0 + timedelta(seconds=40)), "an"
        )
    Puller(engine, pole.send).run_once(now=2_000)
    for ask in pole.asked:
        feed(archive, pole.answer(ask), at=3_000)
    open_case(engine, "case-17", "theft", "an")
    add_events(engine, "case-17", [("pole17", "pole17-cam0-000001")], "an")

    ret = Retention(
        engine, PictureStore(tmp_path / "pics"), free=lambda: 50.0, footage=FootageRetention(engine, files)
    )
    ret.run(10 * DAY, 90, 30, 10, footage_days=1, records_days=1)
    assert ret.footage_deleted.segments == 2, "the loose clip's two segments are old enough"
    with engine.connect() as conn:
        kept, gone = status(conn, held), status(conn, loose)
        records = sorted(conn.execute(select(footage_segments.c.idx)).scalars())
    assert kept is not None and kept.state == "done"
    assert gone is not None and gone.state == "unavailable"
    assert "deleted by the station's retention" in " ".join(gone.as_dict()["problems"])
    for s in gone.segments:
        assert not files.path(SegmentKey("pole17", "cam0", pole.chain, s.idx)).exists()
    assert all(files.path(SegmentKey("pole17", "cam0", pole.chain, i)).exists() for i in range(4))
    assert records == [0, 1, 2, 3], "the held clip's run of records stays (to its signed head, 3)"


def test_under_the_watermark_footage_goes_before_pictures(engine: Engine, tmp_path: Path) -> None:
    pole, archive, files = setup(engine, tmp_path, n=4)
    with engine.begin() as conn:
        ask_range(conn, "pole17", "cam0", us(T0), us(T0 + timedelta(seconds=16)), "an")
    Puller(engine, pole.send).run_once(now=2_000)
    feed(archive, pole.answer(pole.asked[0]), at=3_000)
    deleted: list[int] = []
    free = iter([5.0, 5.0, 5.0, 50.0] + [50.0] * 50)  # low until one batch of footage went
    footage = FootageRetention(engine, files)
    ret = Retention(engine, PictureStore(tmp_path / "pics"), free=lambda: next(free), footage=footage)
    d = ret.run(4_000, 90, 30, 10, footage_days=30, records_days=30)
    deleted.append(ret.footage_deleted.segments)
    assert deleted == [4] and d.pictures == 0 and d.events == 0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(footage_segments)).scalar() == 4
