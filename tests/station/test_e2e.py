"""End to end with real parts: mosquitto, the agent replaying vtest.avi, and two stations (SQLite and
PostgreSQL) as separate processes, each SIGKILLed mid-stream and restarted, and the broker restarted
mid-stream. Every event message and every event's last thumbnail must be archived exactly once."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select

from edge_agent.station.store.pictures import PictureStore
from edge_agent.station.store.schema import event_messages, events, seq_gaps
from tests.broker import free_port
from tests.conftest import agent_command, shared
from tests.station.postgres import Postgres
from tests.station.shipped_broker import STATION_PASSWORD, STATION_USER, ShippedBroker


def station_config(tmp: Path, broker: ShippedBroker, name: str, db_url: str | None) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "station.toml"
    db = f'[database]\nurl = "{db_url}"\n' if db_url else ""
    path.write_text(
        f'station_id = "{name}"\nstate_dir = "{tmp / "state"}"\n'
        f'[[brokers]]\nname = "ward"\nurl = "{broker.url()}"\nusername = "{STATION_USER}"\n'
        f'password = "{STATION_PASSWORD}"\nclient_id = "station-{name}"\n'
        f"[ingest]\nthumbnail_wait_s = 5\n[http]\nport = {free_port()}\n{db}"
    )
    return path


def start_station(cfg: Path) -> subprocess.Popen[bytes]:
    log = (cfg.parent / "station.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "edge_agent", "station", "run", "--config", str(cfg)], stdout=log, stderr=log
    )


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:  # the database may not exist yet
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def count(engine: Engine) -> int:
    with engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(event_messages)).scalar() or 0)


@pytest.mark.slow
def test_agent_to_archive_loses_nothing_through_station_kills_and_a_broker_restart(
    shipped_broker: ShippedBroker, postgres: Postgres, tmp_path: Path
) -> None:
    broker = shipped_broker
    video = shared("pets09_s2l1_vtest/vtest.avi")
    pg_url = postgres.create_database("e2e")
    cfgs = {
        "sqlite": station_config(tmp_path / "sqlite", broker, "sqlite", None),
        "postgresql": station_config(tmp_path / "pg", broker, "pg", pg_url),
    }
    urls = {"sqlite": f"sqlite:///{tmp_path / 'sqlite' / 'state' / 'station.db'}", "postgresql": pg_url}
    stations: dict[str, subprocess.Popen[bytes]] = {}
    engines = {k: create_engine(u) for k, u in urls.items()}
    agent_cfg = tmp_path / "agent.toml"
    agent_cfg.write_text(
        f'device_id = "pole1"\nstate_dir = "{tmp_path / "agent"}"\n'
        f'[mqtt]\nurl = "{broker.url()}"\nusername = "pole1"\npassword = "{broker.passwords["pole1"]}"\n'
        "reconnect_min_s = 1\nreconnect_max_s = 2\nwill_delay_s = 0\n[outbox]\nflush_interval_s = 0.2\n"
    )
    out = tmp_path / "out"
    try:
        stations = {k: start_station(c) for k, c in cfgs.items()}
        for k, e in engines.items():
            wait_for(lambda e=e: count(e) == 0, 60, f"the {k} station to start")
        time.sleep(2)  # subscribed
        agent = subprocess.Popen(
            agent_command(
                "replay",
                video,
                "--out",
                out,
                "--config",
                agent_cfg,
                "--no-progress",
                "--start",
                "2026-11-22T21:10:00Z",
                "--drain-timeout",
                "120",
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # each station killed mid-stream (no chance to ack or clean up), then started again
        for k, e in engines.items():
            wait_for(lambda e=e: count(e) >= 6, 180, f"events in the {k} archive")
            assert agent.poll() is None, "the kill must fall mid-stream"
            stations[k].send_signal(signal.SIGKILL)
            stations[k].wait(10)
        time.sleep(3)
        stations = {k: start_station(c) for k, c in cfgs.items()}
        # the broker restarted mid-stream
        wait_for(lambda: count(engines["sqlite"]) >= 20, 180, "more events")
        assert agent.poll() is None, "the broker restart must fall mid-stream"
        broker.stop()
        time.sleep(2)
        broker.start()
        _, err = agent.communicate(timeout=300)
        assert agent.returncode == 0, err
        written = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
        want = {(e["device"], e["seq"]) for e in written}
        last = {e["id"]: e for e in written}
        for k, e in engines.items():
            wait_for(lambda e=e: count(e) >= len(want), 120, f"every message in the {k} archive")
            with e.connect() as c:
                got = c.execute(select(event_messages.c.device, event_messages.c.seq)).all()
                rows = {r.event_id: r for r in c.execute(select(events))}
                gaps = c.execute(select(seq_gaps)).all()
            assert sorted(got) == sorted(want), f"{k}: lost or doubled messages"
            assert set(rows) == set(last), k
            assert not gaps, f"{k}: seq gaps {gaps}"
            store = PictureStore(cfgs[k].parent / "state" / "pictures")
            for event_id, ev in last.items():
                jpg = (out / "thumbnails" / f"{event_id}.jpg").read_bytes()
                sha = hashlib.sha256(jpg).hexdigest()
                assert ev["thumbnail"]["sha256"] == sha
                assert rows[event_id].thumb_sha256 == sha and rows[event_id].thumb_status == "ok", k
                assert store.get(sha) == jpg
            assert all(r.messages == sum(1 for w in written if w["id"] == r.event_id) for r in rows.values())
    finally:
        for p in stations.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
        for e in engines.values():
            e.dispose()
        if os.environ.get("STATION_E2E_LOGS"):
            for c in cfgs.values():
                print((c.parent / "station.log").read_text())
