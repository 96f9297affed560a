"""Ward station benchmark, on SQLite and on PostgreSQL (a temporary server started here).

    python benchmarks/station.py [--events 1000000] [--ingest 20000] [--backends sqlite,postgresql]

- ingest: events per second through the station's storage path on one core (classify, picture file
  written with fsync, rows committed in batches as the MQTT writer does), each event with a 20 kB
  thumbnail (the broker is not in this figure; see benchmarks/mqtt.py for the broker's side);
- archive bytes per million events (database + pictures), from the ingest run;
- search p95 over N synthetic events laid out like a 160-pole ward over 90 days: "one label at one
  pole in a 30-minute window" and "the latest 100 events of one pole" (plus one label ward-wide);
- export of a 200-event case to a signed bag, and its verification, in seconds.
Writes benchmarks/results/station.json.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import REPO, table, timing, write
from sqlalchemy import Engine, text
from sqlalchemy import event as sa_event

from edge_agent.station.evidence import cases
from edge_agent.station.evidence.bag import verify_bag
from edge_agent.station.evidence.export import export_case
from edge_agent.station.ingest.archive import Archive, Received
from edge_agent.station.ingest.inbox import PictureRecord, classify
from edge_agent.station.query.search import Query, search
from edge_agent.station.store.engine import connect
from edge_agent.station.store.pictures import PictureStore
from edge_agent.station.store.schema import events
from tests.station.factory import event, thumbnail

POLES, DAYS = 160, 90
LABELS = ["motorcycle"] * 60 + ["person"] * 20 + ["car"] * 12 + ["bicycle"] * 4 + ["truck"] * 2 + ["bus"] * 2
T0 = datetime(2026, 9, 1, tzinfo=UTC)
T0_US = int(T0.timestamp() * 1e6)
SPAN_US = DAYS * 86_400 * 1_000_000


def thumb(i: int) -> bytes:
    return b"\xff\xd8\xff\xe0" + os.urandom(20 * 1024 - 6) + b"\xff\xd9"


def db_bytes(engine: Engine, path: Path | None) -> int:
    if engine.dialect.name == "postgresql":
        with engine.connect() as c:
            return int(c.execute(text("SELECT pg_database_size(current_database())")).scalar() or 0)
    assert path is not None
    with engine.connect() as c:
        c.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def dir_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def bench_ingest(
    engine: Engine, store: PictureStore, n: int, db_path: Path | None, first: int = 1
) -> dict[str, float]:
    """n events of 20 poles, start + end message each, one 20 kB thumbnail per event.

    `first`: the first event's number, so that a second run brings new events (not duplicates)."""
    archive = Archive(engine)
    before = db_bytes(engine, db_path)
    pics_before = dir_bytes(store.root)
    msgs: list[tuple[str, bytes]] = []
    for i in range(first, first + n):
        device = f"pole{i % 20:03d}"
        seq = 2 * (i // 20) + 1
        pic = thumb(i)
        start = T0 + timedelta(seconds=i)
        label = LABELS[i % len(LABELS)]
        msgs += [
            thumbnail(device, i, pic),
            event(device, seq, n=i, thumb=pic, label=label, start=start),
            event(device, seq + 1, n=i, type="end", thumb=pic, label=label, start=start),
        ]
    batch_max = 500
    statements = [0]

    def count(*_: object, **__: object) -> None:
        statements[0] += 1

    sa_event.listen(engine, "before_cursor_execute", count)
    t = time.perf_counter()
    cpu = time.process_time()
    for k in range(0, len(msgs), batch_max):
        batch = []
        for topic, payload in msgs[k : k + batch_max]:
            rec = classify("edge", topic, payload, 4 * 2**20)
            if isinstance(rec, PictureRecord):
                store.put(rec.data, sync=False, sha256=rec.sha256)
            batch.append(Received("ward", time.time_ns() // 1000, rec))
        store.sync()  # as the ingest writer does: pictures durable, then the rows
        archive.store(batch)
    wall = time.perf_counter() - t
    cpu = time.process_time() - cpu
    sa_event.remove(engine, "before_cursor_execute", count)
    batches = -(-len(msgs) // batch_max)
    db = db_bytes(engine, db_path) - before
    pics = dir_bytes(store.root) - pics_before
    return {
        "events": n,
        "messages": len(msgs),
        "events_per_s": round(n / wall, 1),
        "messages_per_s": round(len(msgs) / wall, 1),
        "cpu_s_per_1000_events": round(1000 * cpu / n, 3),
        "statements_per_batch": round(statements[0] / batches, 1),  # of 500 messages
        "db_bytes_per_million_events": int(db / n * 1e6),
        "picture_bytes_per_million_events": int(pics / n * 1e6),
        "archive_bytes_per_million_events": int((db + pics) / n * 1e6),
    }


# One synthetic event per row of a number series, generated by the database itself (Python would
# take an hour for 10 M rows on this machine): pole uniform over 160, label by the ward's mix, start
# times evenly over 90 days in arrival order, as the ingest path would have written them.
LABEL_SQL = (
    "CASE WHEN r < 60 THEN 'motorcycle' WHEN r < 80 THEN 'person' WHEN r < 92 THEN 'car' "
    "WHEN r < 96 THEN 'bicycle' WHEN r < 98 THEN 'truck' ELSE 'bus' END"
)
COLUMNS = (
    "device, camera, event_id, label, start_us, end_us, last_type, last_seq, score, stationary, zones, "
    "lines, clock_synced, thumb_sha256, thumb_status, first_received_us, last_received_us, messages"
)


def _select(dialect: str, first: int, last: int, step: float) -> str:
    if dialect == "postgresql":
        series = (
            f"SELECT i, floor(random() * {POLES})::int AS p, floor(random() * 100)::int AS r, random() AS x "
            f"FROM generate_series({first}, {last}) AS i"
        )
        pole = "'pole' || lpad(p::text, 3, '0')"
        eid = f"{pole} || '-cam0-' || lpad(i::text, 9, '0')"
        start = f"({T0_US} + (i * {step})::bigint)"
        sha = "md5(i::text) || md5(i::text)"
        boolean = "x < 0.05"
    else:
        series = (
            f"SELECT i, abs(random()) % {POLES} AS p, abs(random()) % 100 AS r, "
            f"(abs(random()) % 1000) / 1000.0 AS x FROM s"
        )
        pole = "printf('pole%03d', p)"
        eid = "printf('pole%03d-cam0-%09d', p, i)"
        start = f"({T0_US} + CAST(i * {step} AS INTEGER))"
        sha = "printf('%064d', i)"
        boolean = "x < 0.05"
    return (
        f"SELECT {pole}, 'cam0', {eid}, {LABEL_SQL}, {start}, {start} + 4000000, 'end', i, "
        f"0.3 + x * 0.65, {boolean}, CASE WHEN r % 3 = 0 THEN ',crosswalk,' ELSE '' END, '', "
        f"{'true' if dialect == 'postgresql' else '1'}, {sha}, 'ok', {start} + 500000, {start} + 4500000, 2 "
        f"FROM ({series}) AS g"
    )


def load_synthetic(engine: Engine, n: int, chunk: int = 1_000_000) -> float:
    """Bulk load: the events table's indexes are dropped, the rows inserted, the indexes built
    again (what a restore of a 90-day archive does; the ingest figure is measured separately)."""
    step = SPAN_US / n
    dialect = engine.dialect.name
    t = time.perf_counter()
    indexes = [ix for ix in events.indexes]
    for ix in indexes:
        ix.drop(engine)
    for first in range(0, n, chunk):
        last = min(n, first + chunk) - 1
        sql = f"INSERT INTO events ({COLUMNS}) " + _select(dialect, first, last, step)
        if dialect == "sqlite":
            sql = (
                f"WITH RECURSIVE s(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM s WHERE i < {last}) "
                + sql
            )
        with engine.begin() as conn:
            conn.execute(text(sql))
        print(f"  {last + 1} rows, {time.perf_counter() - t:.0f} s", flush=True)
    for ix in indexes:
        ix.create(engine)
        print(f"  index {ix.name}, {time.perf_counter() - t:.0f} s", flush=True)
    if dialect == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE events"))
    else:
        with engine.begin() as c:
            c.execute(text("ANALYZE"))
    return time.perf_counter() - t


def bench_search(engine: Engine, runs: int = 200, seed: int = 11) -> dict[str, dict[str, float]]:
    rng = random.Random(seed)
    out: dict[str, list[float]] = {"label_pole_30min": [], "latest_100_pole": [], "label_ward_30min": []}
    found = {k: 0 for k in out}
    for _ in range(runs):
        pole = f"pole{rng.randrange(POLES):03d}"
        start = T0_US + rng.randrange(SPAN_US - 1_800_000_000)
        queries = {
            "label_pole_30min": Query(
                devices=[pole], labels=["motorcycle"], from_us=start, to_us=start + 1_800_000_000
            ),
            "latest_100_pole": Query(devices=[pole], limit=100),
            "label_ward_30min": Query(labels=["person"], from_us=start, to_us=start + 1_800_000_000),
        }
        for name, q in queries.items():
            with engine.connect() as conn:
                t = time.perf_counter()
                r = search(conn, q)
                out[name].append((time.perf_counter() - t) * 1000)
            found[name] += len(r["events"])
    return {k: {**timing(v), "mean_results": round(found[k] / runs, 1)} for k, v in out.items()}


def bench_export(engine: Engine, store: PictureStore, tmp: Path) -> dict[str, float]:
    with engine.connect() as c:
        refs = c.execute(
            text(
                "SELECT device, event_id FROM events WHERE messages > 0 AND label != '' ORDER BY id LIMIT 200"
            )
        ).all()
    cases.open_case(engine, "bench-case", "benchmark", "bench")
    cases.add_events(engine, "bench-case", [(r[0], r[1]) for r in refs], "bench")
    t = time.perf_counter()
    bag = export_case(engine, store, tmp / "key.pem", "bench", "bench-case", tmp / "bag", "bench")
    export_s = time.perf_counter() - t
    t = time.perf_counter()
    report = verify_bag(bag)
    verify_s = time.perf_counter() - t
    assert report.ok, report.messages
    return {
        "events": len(refs),
        "export_s": round(export_s, 2),
        "verify_s": round(verify_s, 2),
        "bag_bytes": dir_bytes(bag),
    }


def run_backend(name: str, url: str, db_path: Path | None, tmp: Path, n_search: int, n_ingest: int) -> dict:
    engine = connect(url)
    store = PictureStore(tmp / f"pictures-{name}")
    result: dict = {"backend": name}
    print(f"[{name}] ingest {n_ingest} events with 20 kB thumbnails ...", flush=True)
    result["ingest"] = bench_ingest(engine, store, n_ingest, db_path)
    # A station that has run for a few days has all 65,536 `ab/cd` picture folders: a new store
    # makes one or two per picture (a mkdir is 0.3 ms on this machine's disk), which the first
    # figure carries. The second is the same ingest into a store whose folders exist.
    for a in range(256):
        for b in range(256):
            (store.root / f"{a:02x}" / f"{b:02x}").mkdir(parents=True, exist_ok=True)
    print(f"[{name}] ingest {n_ingest} more events, picture folders made ...", flush=True)
    result["ingest_warm"] = bench_ingest(engine, store, n_ingest, db_path, first=n_ingest + 1)
    print(f"[{name}] export a 200-event case ...", flush=True)
    result["export"] = bench_export(engine, store, tmp / name)
    print(f"[{name}] load {n_search} synthetic events (160 poles x 90 days) ...", flush=True)
    result["synthetic_load_s"] = round(load_synthetic(engine, n_search), 1)
    result["search_events"] = n_search + 2 * n_ingest
    print(f"[{name}] search ...", flush=True)
    result["search"] = bench_search(engine)
    engine.dispose()
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=1_000_000, help="synthetic events for search")
    p.add_argument("--ingest", type=int, default=20_000, help="events for the ingest figure")
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--tmp", type=Path, default=None, help="working folder (default: a temporary one)")
    args = p.parse_args()
    tmp = args.tmp or Path(tempfile.mkdtemp(prefix="station-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for backend in args.backends.split(","):
            if backend == "sqlite":
                db = tmp / "station.db"
                results.append(run_backend("sqlite", f"sqlite:///{db}", db, tmp, args.events, args.ingest))
            elif backend == "postgresql":
                from tests.station.postgres import pg_bin

                bindir = pg_bin()
                if bindir is None:
                    print("PostgreSQL is not installed: skipped (apt install postgresql)")
                    continue
                pg = _start_postgres(bindir)
                try:
                    url = pg.create_database("bench")
                    results.append(run_backend("postgresql", url, None, tmp, args.events, args.ingest))
                finally:
                    pg.stop()
                    shutil.rmtree(pg.directory, ignore_errors=True)
    finally:
        if args.tmp is None:
            shutil.rmtree(tmp, ignore_errors=True)
    rows = []
    for r in results:
        s = r["search"]
        rows.append(
            {
                "backend": r["backend"],
                "ingest ev/s": r["ingest"]["events_per_s"],
                "ingest ev/s, folders made": r["ingest_warm"]["events_per_s"],
                "bytes/M events": f"{r['ingest']['archive_bytes_per_million_events'] / 1e9:.1f} GB",
                "N searched": r["search_events"],
                "label+pole 30 min p95": f"{s['label_pole_30min']['p95_ms']} ms",
                "latest 100 p95": f"{s['latest_100_pole']['p95_ms']} ms",
                "label ward 30 min p95": f"{s['label_ward_30min']['p95_ms']} ms",
                "export 200": f"{r['export']['export_s']} s",
            }
        )
    print(table(rows, list(rows[0]) if rows else []))
    print(f"wrote {write('station', {'results': results, 'cpu_count': os.cpu_count()})}")


def _start_postgres(bindir: Path) -> object:
    import pwd

    from tests.broker import free_port
    from tests.station.postgres import Postgres

    directory = Path(tempfile.mkdtemp(prefix="station-bench-pg-"))
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(directory, nobody.pw_uid, nobody.pw_gid)
    pg = Postgres(bindir, directory, free_port())
    pg.start()
    return pg


if __name__ == "__main__":
    assert REPO
    main()
