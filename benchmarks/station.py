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
import hashlib
import os
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import REPO, table, timing, write
from sqlalchemy import Engine, insert, text

from edge_agent.station import cases
from edge_agent.station.archive import Archive, Received
from edge_agent.station.db.engine import connect
from edge_agent.station.db.schema import events
from edge_agent.station.evidence.bag import verify_bag
from edge_agent.station.export import export_case
from edge_agent.station.inbox import PictureRecord, classify
from edge_agent.station.pictures import PictureStore
from edge_agent.station.search import Query, search
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


def bench_ingest(engine: Engine, store: PictureStore, n: int, db_path: Path | None) -> dict[str, float]:
    """n events of 20 poles, start + end message each, one 20 kB thumbnail per event."""
    archive = Archive(engine)
    before = db_bytes(engine, db_path)
    msgs: list[tuple[str, bytes]] = []
    for i in range(1, n + 1):
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
    t = time.perf_counter()
    cpu = time.process_time()
    for k in range(0, len(msgs), batch_max):
        batch = []
        for topic, payload in msgs[k : k + batch_max]:
            rec = classify("edge", topic, payload, 4 * 2**20)
            if isinstance(rec, PictureRecord):
                store.put(rec.data, sync=False)
            batch.append(Received("ward", time.time_ns() // 1000, rec))
        store.sync()  # as the ingest writer does: pictures durable, then the rows
        archive.store(batch)
    wall = time.perf_counter() - t
    cpu = time.process_time() - cpu
    db = db_bytes(engine, db_path) - before
    pics = dir_bytes(store.root)
    return {
        "events": n,
        "messages": len(msgs),
        "events_per_s": round(n / wall, 1),
        "messages_per_s": round(len(msgs) / wall, 1),
        "cpu_s_per_1000_events": round(1000 * cpu / n, 3),
        "db_bytes_per_million_events": int(db / n * 1e6),
        "picture_bytes_per_million_events": int(pics / n * 1e6),
        "archive_bytes_per_million_events": int((db + pics) / n * 1e6),
    }


def load_synthetic(engine: Engine, n: int, seed: int = 7) -> float:
    """n events rows like 160 poles over 90 days, in time order (as they arrive)."""
    rng = random.Random(seed)
    step = SPAN_US / n
    t = time.perf_counter()
    chunk = 20_000
    with engine.begin() as conn:
        base = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM events")).scalar() or 0
    for k in range(0, n, chunk):
        rows = []
        for i in range(k, min(n, k + chunk)):
            start = T0_US + int(i * step)
            device = f"pole{rng.randrange(POLES):03d}"
            rows.append(
                {
                    "device": device,
                    "camera": "cam0",
                    "event_id": f"{device}-cam0-{base + i + 1:09d}",
                    "label": rng.choice(LABELS),
                    "start_us": start,
                    "end_us": start + 4_000_000,
                    "last_type": "end",
                    "last_seq": i + 1,
                    "score": round(rng.uniform(0.3, 0.95), 3),
                    "stationary": rng.random() < 0.05,
                    "zones": ",crosswalk," if rng.random() < 0.3 else "",
                    "lines": "",
                    "clock_synced": True,
                    "thumb_sha256": hashlib.sha256(str(i).encode()).hexdigest(),
                    "thumb_status": "ok",
                    "first_received_us": start + 500_000,
                    "last_received_us": start + 4_500_000,
                    "messages": 2,
                }
            )
        with engine.begin() as conn:
            conn.execute(insert(events), rows)
    if engine.dialect.name == "postgresql":
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
    print(f"[{name}] export a 200-event case ...", flush=True)
    result["export"] = bench_export(engine, store, tmp / name)
    print(f"[{name}] load {n_search} synthetic events (160 poles x 90 days) ...", flush=True)
    result["synthetic_load_s"] = round(load_synthetic(engine, n_search), 1)
    result["search_events"] = n_search + n_ingest
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
