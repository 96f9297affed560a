"""A city of two wards on PostgreSQL's own logical replication, with three real clusters.

Each ward's archive is the station's own (migrations, real ingest); `city-publish` makes it ready,
the city creates its partitioned tables and one subscription per ward. The city's search finds
both wards' events, once each; an event's update at the ward reaches the city; the city stopped
hard while the wards go on catches up by itself with nothing lost or doubled; a row edited at the
city by hand is refused. A ward on SQLite,
or on a PostgreSQL whose wal_level is not logical, is told what to do.
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import DBAPIError

from edge_agent.station.city.publish import CityError, publish_ward
from edge_agent.station.city.subscribe import add_ward, conninfo, init_city, resync, wards
from edge_agent.station.cli.parser import main
from edge_agent.station.ingest.archive import Archive, Received
from edge_agent.station.ingest.inbox import classify
from edge_agent.station.query.search import Query, search
from edge_agent.station.store.engine import connect, open_engine
from edge_agent.station.store.schema import devices, events
from tests.broker import free_port
from tests.station.factory import event
from tests.station.postgres import Postgres, pg_bin

PASSWORD = "city replication secret"


class LogicalPostgres(Postgres):
    """A cluster whose WAL carries logical changes (a ward that publishes, or a city)."""

    def start(self) -> None:
        data = self.directory / "data"
        self._run(str(self.bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        opts = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c wal_level=logical -c max_wal_senders=10 -c max_replication_slots=10 "
            # a city killed leaves its walsender on the ward until this timeout (60 s by default):
            # only then may the city's new connection take the slot again
            "-c wal_sender_timeout=5s"
        )
        self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-l", str(self.directory / "log"),
                  "-o", opts, "-w", "start")  # fmt: skip

    def restart(self) -> None:
        self.stop()
        data = self.directory / "data"
        opts = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-l", str(self.directory / "log"),
                  "-o", opts, "-w", "start")  # fmt: skip


@pytest.fixture(scope="module")
def clusters() -> Iterator[dict[str, LogicalPostgres]]:
    bindir = pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (scripts/test.sh installs it: apt install postgresql)")
    made: dict[str, LogicalPostgres] = {}
    try:
        for name in ("ward-a", "ward-b", "city"):
            directory = Path(tempfile.mkdtemp(prefix=f"city-test-{name}-"))
            if os.geteuid() == 0:
                nobody = pwd.getpwnam("nobody")
                os.chown(directory, nobody.pw_uid, nobody.pw_gid)
            made[name] = LogicalPostgres(bindir, directory, free_port())
            made[name].start()
        yield made
    finally:
        for pg in made.values():
            pg.stop()
            shutil.rmtree(pg.directory, ignore_errors=True)


def until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout_s} s: {what}"
        time.sleep(0.2)


def put(engine: Engine, messages: list[tuple[str, bytes]]) -> None:
    Archive(engine).store(
        [Received("ward", 1_000 + i, classify("edge", t, p, 2**22)) for i, (t, p) in enumerate(messages)]
    )


def count(engine: Engine, table: object = events) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)  # type: ignore[arg-type]


def test_two_wards_are_one_search_at_the_city_and_it_catches_up(
    clusters: dict[str, LogicalPostgres], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = connect(clusters["ward-a"].url()), connect(clusters["ward-b"].url())
    put(a, [event("pole-a1", i, label="motorcycle" if i % 2 else "car") for i in range(1, 21)])
    put(b, [event("pole-b1", i, label="motorcycle") for i in range(1, 11)])
    assert "publication edge_city" in " ".join(publish_ward(a, "ward-a", PASSWORD).done)
    publish_ward(b, "ward-b", PASSWORD)
    assert publish_ward(a, "ward-a", PASSWORD).done[-1].startswith("publication"), "it may run again"
    city = open_engine(clusters["city"].url())
    init_city(city)
    for name in ("ward-a", "ward-b"):
        pg = clusters[name]
        info = conninfo(
            host="127.0.0.1", port=pg.port, dbname="postgres", user="edge_city", password=PASSWORD
        )
        add_ward(city, name, info)
    until(lambda: count(city) == 30, 60, "both wards' events at the city")
    with city.connect() as conn:
        found = search(conn, Query(labels=["motorcycle"], limit=100))["events"]
        per_ward = dict(conn.execute(select(events.c.station, func.count()).group_by(events.c.station)).all())
    assert len(found) == 20 and {e["device"] for e in found} == {"pole-a1", "pole-b1"}
    assert per_ward == {"ward-a": 20, "ward-b": 10}, "each ward's rows once, in its own partition"
    assert count(city, devices) == 2
    put(a, [event("pole-a1", 21, n=1, type="end", label="car")])  # an update of an event's row
    until(lambda: _ended(city, "pole-a1-cam0-000001"), 30, "the event's end at the city")
    assert {w["ward"]: w["connected"] for w in wards(city)} == {"ward_a": True, "ward_b": True}
    refused = pytest.raises(DBAPIError, match="replicated from the wards: change it at the ward")
    with refused, city.begin() as conn:  # a row edited at the city by hand
        conn.execute(update(events).where(events.c.station == "ward-a").values(label="truck"))

    city.dispose()
    clusters["city"].stop()  # the city goes down hard; the wards go on ingesting
    put(a, [event("pole-a1", i) for i in range(22, 32)])
    put(b, [event("pole-b1", i) for i in range(11, 16)])
    clusters["city"].restart()
    city = open_engine(clusters["city"].url())
    until(lambda: count(city) == 45, 90, "the city caught up with both wards")
    with city.connect() as conn:
        dupes = conn.execute(
            select(events.c.station, events.c.id)
            .group_by(events.c.station, events.c.id)
            .having(func.count() > 1)
        ).all()
    assert dupes == []
    city.dispose()
    a.dispose()
    b.dispose()
    cfg = tmp_path / "city.toml"
    cfg.write_text(
        f'station_id = "city"\nstate_dir = "{tmp_path}"\n[database]\nurl = "{clusters["city"].url()}"\n'
    )
    capsys.readouterr()

    def both_receiving() -> bool:
        return (
            main(["city", "status", "--config", str(cfg)]) == 0
            and capsys.readouterr().out.count("receiving") == 2
        )

    until(both_receiving, 30, "city status: both wards receiving")
    assert (
        main(["city", "search", "--config", str(cfg), "--label", "motorcycle", "--limit", "100"]) == 0
    )  # 20 less the one that ended a car
    out = capsys.readouterr().out
    assert "# 19 events from 2 wards" in out and "ward-a/pole-a1/cam0" in out and "ward-b/pole-b1/cam0" in out
    assert main(["city", "search", "--config", str(cfg), "--ward", "ward-b", "--limit", "100"]) == 0
    assert "events from 1 wards" in capsys.readouterr().out


def _ended(city: Engine, event_id: str) -> bool:
    with city.connect() as conn:
        end = conn.execute(select(events.c.end_us).where(events.c.event_id == event_id)).scalar()
    return end is not None


def test_a_ward_that_cannot_publish_is_told_what_to_do(tmp_path: Path, postgres: Postgres) -> None:
    sqlite = connect(f"sqlite:///{tmp_path / 'station.db'}")
    with pytest.raises(CityError, match="station copy --to"):
        publish_ward(sqlite, "ward-a", PASSWORD)
    cfg = tmp_path / "ward.toml"
    cfg.write_text(f'station_id = "ward-a"\nstate_dir = "{tmp_path}"\n')
    (tmp_path / "pw").write_text(PASSWORD)
    assert main(["city-publish", "--config", str(cfg), "--password-file", str(tmp_path / "pw")]) == 4
    plain = connect(postgres.create_database("not_logical"))
    with pytest.raises(CityError, match="wal_level = logical"):
        publish_ward(plain, "ward-a", PASSWORD)
    with pytest.raises(CityError, match="station_id"):
        publish_ward(plain, "Ward A", PASSWORD)
    sqlite.dispose()
    plain.dispose()


def test_a_slot_lost_past_its_wal_cap_is_reported_and_resynced(
    clusters: dict[str, LogicalPostgres], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """(After the test above, which left both wards subscribed.) The city is gone while ward-b's
    WAL runs past a small cap: its slot is lost, `city status` says so, `city resync` copies the
    ward again and the city has each of its rows once."""
    import psycopg

    b = clusters["ward-b"]
    admin = f"host=127.0.0.1 port={b.port} user=postgres dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'")
        c.execute("SELECT pg_reload_conf()")
    clusters["city"].stop()
    ward = connect(b.url())
    put(ward, [event("pole-b1", i) for i in range(100, 140)])
    with psycopg.connect(admin, autocommit=True) as c:
        for _ in range(3):  # WAL past the cap, and the old segments removed
            c.execute("CREATE TABLE IF NOT EXISTS filler (x text)")
            c.execute("INSERT INTO filler SELECT repeat('x', 1000) FROM generate_series(1, 2000)")
            c.execute("SELECT pg_switch_wal()")
            c.execute("CHECKPOINT")
        lost = c.execute(
            "SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'edge_city_ward_b'"
        ).fetchone()
    assert lost is not None and lost[0] == "lost"
    clusters["city"].restart()
    city = open_engine(clusters["city"].url())
    try:
        status = {w["ward"]: w["slot"] for w in wards(city)}
        assert status["ward_b"] == "lost" and status["ward_a"] in ("reserved", "extended")
        assert "partitions dropped and emptied" in resync(city, "ward-b")[0]
        with ward.connect() as conn:
            at_ward = conn.execute(select(func.count()).select_from(events)).scalar()

        def caught_up() -> bool:
            with city.connect() as conn:
                n = conn.execute(select(func.count()).where(events.c.station == "ward-b")).scalar()
            return n == at_ward

        until(caught_up, 60, "ward-b copied again")
        assert {w["ward"]: w["slot"] for w in wards(city)}["ward_b"] in ("reserved", "extended")
    finally:
        city.dispose()
        ward.dispose()
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute("ALTER SYSTEM RESET max_slot_wal_keep_size")
            c.execute("SELECT pg_reload_conf()")


def test_an_additive_migration_city_first_keeps_replication_running(
    clusters: dict[str, LogicalPostgres],
) -> None:
    """docs/city.md's order for a schema upgrade: the city adds the column first, then the ward;
    rows with the new column keep flowing (the other way round, the city's apply would stop on a
    column it does not have until it is added)."""
    from sqlalchemy import text

    city = open_engine(clusters["city"].url())
    ward = connect(clusters["ward-a"].url())
    try:
        with city.begin() as conn:
            conn.execute(text("ALTER TABLE events ADD COLUMN IF NOT EXISTS note text"))
        with ward.begin() as conn:
            conn.execute(text("ALTER TABLE events ADD COLUMN IF NOT EXISTS note text DEFAULT 'after 0007'"))
        put(ward, [event("pole-a1", i) for i in range(200, 205)])

        def arrived() -> bool:
            with city.connect() as conn:
                return (
                    conn.execute(text("SELECT count(*) FROM events WHERE note = 'after 0007'")).scalar() == 5
                )

        until(arrived, 30, "the ward's rows with the new column at the city")
    finally:
        city.dispose()
        ward.dispose()
