"""The station's pages, server side (no browser): the fleet page for 200 poles and the events page
over N archived events; p50/p95 of the whole request (login cookie, role gate, query, audit row,
template) through the ASGI app.

    .venv/bin/python benchmarks/station_pages.py [--events 1000000] [--runs 50] [--db URL]

Prints a table and writes benchmarks/results/station_pages.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from argon2 import PasswordHasher
from sqlalchemy import insert

from benchmarks.common import table, timing, write
from edge_agent.station.auth.accounts import add_user
from edge_agent.station.config import WebConfig
from edge_agent.station.store.engine import connect
from edge_agent.station.store.pictures import PictureStore
from edge_agent.station.store.schema import cameras, device_messages, devices, events
from edge_agent.station.web.app import create_web_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

POLES = 200
DAYS = 90
LABELS = ["person", "motorcycle", "car", "bicycle", "truck", "bus"]
WEIGHTS = [30, 45, 15, 5, 3, 2]
PASSWORD = "benchmark password"
DAY_US = 86400 * 1_000_000


def fill(engine, store: PictureStore, n_events: int, now_us: int) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    snap = store.put(b"\xff\xd8\xff\xe0" + b"snapshot" * 400 + b"\xff\xd9")
    rng = random.Random(7)
    with engine.begin() as conn:
        for i in range(POLES):
            d = f"pole{i:03d}"
            stats = {
                "fps_in": 10.0,
                "fps_processed": 6.0 if i % 17 == 0 else 10.0,
                "temperature_c": 80.0 if i % 23 == 0 else 55.0,
                "disk_free_mb": 300.0 if i % 29 == 0 else 9000.0,
                "outbox_depth": 500 if i % 31 == 0 else 0,
                "camera_ok": i % 37 != 0,
                "clock_synced": i % 41 != 0,
            }
            conn.execute(
                insert(devices).values(
                    device=d,
                    broker="ward",
                    status="offline" if i % 13 == 0 else "online",
                    status_us=now_us - 3600 * 10**6,
                    stats_us=now_us - 30 * 10**6,
                    stats=json.dumps(stats).encode(),
                    last_event_us=now_us - 60 * 10**6,
                    max_seq=1000,
                    first_seen_us=now_us - DAYS * DAY_US,
                )
            )
            conn.execute(insert(cameras).values(device=d, camera="cam0", snapshot_sha256=snap))
            for k in range(20):  # a day of stats, hourly, for the charts
                conn.execute(
                    insert(device_messages).values(
                        device=d,
                        camera="",
                        kind="stats",
                        received_us=now_us - k * 3600 * 10**6,
                        broker="ward",
                        raw=json.dumps(stats).encode(),
                    )
                )
            if i % 19 == 0:
                body = {"kind": "covered", "active": True, "detail": "lens covered", "camera": "cam0"}
                conn.execute(
                    insert(device_messages).values(
                        device=d,
                        camera="cam0",
                        kind="health",
                        received_us=now_us,
                        broker="ward",
                        raw=json.dumps(body).encode(),
                    )
                )
    chunk = 50_000
    start = now_us - DAYS * DAY_US
    step = DAYS * DAY_US // max(1, n_events)
    for base in range(0, n_events, chunk):
        rows = []
        for j in range(base, min(n_events, base + chunk)):
            t = start + j * step
            d = f"pole{rng.randrange(POLES):03d}"
            rows.append(
                {
                    "device": d,
                    "camera": "cam0",
                    "event_id": f"{d}-cam0-{j:09d}",
                    "label": rng.choices(LABELS, WEIGHTS)[0],
                    "start_us": t,
                    "end_us": t + 4 * 10**6,
                    "last_type": "end",
                    "last_seq": j + 1,
                    "score": round(rng.uniform(0.3, 0.95), 3),
                    "stationary": False,
                    "zones": ",crosswalk," if j % 5 == 0 else "",
                    "lines": "",
                    "clock_synced": j % 97 != 0,
                    "thumb_sha256": hashlib.sha256(str(j).encode()).hexdigest(),
                    "thumb_status": "ok",
                    "first_received_us": t,
                    "last_received_us": t,
                    "messages": 3,
                }
            )
        with engine.begin() as conn:
            conn.execute(insert(events), rows)
        print(f"\r  {min(n_events, base + chunk):,} events", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return time.perf_counter() - t0


def client(app, name: str) -> TestClient:  # type: ignore[no-untyped-def]
    import re

    c = TestClient(app, base_url="https://testserver", follow_redirects=False)
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)  # type: ignore[union-attr]
    r = c.post("/login", data={"csrf": token, "name": name, "password": PASSWORD})
    assert r.status_code == 303, r.text
    return c


def measure(c: TestClient, path: str, runs: int) -> tuple[dict[str, float], int]:
    c.get(path)  # warm
    samples, size = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        r = c.get(path)
        samples.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (path, r.status_code)
        size = len(r.content)
    return timing(samples), size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--db", default=None, help="database URL (default: SQLite in a temp folder)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="station-pages-"))
    engine = connect(args.db or f"sqlite:///{tmp / 'station.db'}")
    store = PictureStore(tmp / "pictures")
    now = time.time_ns() // 1000
    fill_s = fill(engine, store, args.events, now)
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    add_user(engine, "vol", "volunteer", PASSWORD, "bench", hasher=cheap)
    add_user(engine, "pol", "police", PASSWORD, "bench", hasher=cheap)
    app = create_web_app(
        engine, store, WebConfig(), station_id="bench", key_path=tmp / "key.pem", exports_dir=tmp / "exports"
    )
    vol, pol = client(app, "vol"), client(app, "pol")
    mid = now - DAYS * DAY_US // 2
    from datetime import UTC, datetime

    def iso(us: int) -> str:
        return datetime.fromtimestamp(us / 1e6, UTC).strftime("%Y-%m-%dT%H:%MZ")

    cases = [
        ("fleet page, 200 poles", vol, "/fleet"),
        ("pole page (24 h charts)", vol, "/poles/pole013"),
        ("events: latest 60 of the archive", pol, "/events?all=1"),
        ("events: latest 60 of one pole", pol, "/events?device=pole017"),
        (
            "events: one label, one pole, 30 min",
            pol,
            f"/events?device=pole017&label=motorcycle&from={iso(mid)}&to={iso(mid + 1800 * 10**6)}",
        ),
        (
            "events: 3 labels, score >= 0.8, 1 day",
            pol,
            f"/events?label=person&label=car&label=bus&min_score=0.8&from={iso(mid)}&to={iso(mid + DAY_US)}",
        ),
    ]
    rows = []
    for name, c, path in cases:
        t, size = measure(c, path, args.runs)
        rows.append({"page": name, **t, "kB": round(size / 1024, 1)})
    db = "postgresql" if args.db and args.db.startswith("postgresql") else "sqlite"
    load = [round(x, 1) for x in os.getloadavg()]
    print(
        f"station pages over {args.events:,} events, {POLES} poles, {db}, {args.runs} runs each "
        f"(filled in {fill_s:.0f} s; load average {load[0]} on {os.cpu_count()} cores)"
    )
    print(table(rows, ["page", "median_ms", "p95_ms", "kB"]))
    out = write(
        "station_pages",
        {
            "events": args.events,
            "poles": POLES,
            "database": db,
            "runs": args.runs,
            "load_average": load,
            "cores": os.cpu_count(),
            "rows": rows,
        },
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
