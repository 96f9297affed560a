"""Fleet state on both backends: online, silent (stats stopped, no will), offline, gaps, cameras."""

from __future__ import annotations

from pathlib import Path

from edge_agent.station.config import load
from edge_agent.station.fleet.state import fleet
from edge_agent.station.ingest.archive import Archive, Received
from edge_agent.station.ingest.inbox import classify
from edge_agent.station.store.engine import connect
from tests.station.factory import event

S = 1_000_000


def test_online_silent_offline_and_gaps(db_url: str) -> None:
    engine = connect(db_url)
    archive = Archive(engine)

    def put(at_s: int, topic: str, payload: bytes) -> None:
        archive.store([Received("ward", at_s * S, classify("edge", topic, payload, 2**20))])

    put(100, "edge/pole1/status", b"online")
    put(100, "edge/pole2/status", b"online")
    put(100, "edge/pole3/status", b"online")
    put(200, "edge/pole1/stats", b'{"cpu_percent": 12}')
    put(200, "edge/pole2/stats", b'{"cpu_percent": 12}')
    put(250, "edge/pole3/status", b"offline")
    put(210, "edge/pole1/cam0/health", b'{"kind": "covered", "active": true}')
    put(220, *event("pole1", 1))
    put(221, *event("pole1", 5))
    with engine.connect() as c:
        poles = {p["device"]: p for p in fleet(c, 300 * S, stale_after_s=180)}
        later = {p["device"]: p for p in fleet(c, 500 * S, stale_after_s=180)}
    assert poles["pole1"]["state"] == "online" and poles["pole1"]["stats"] == {"cpu_percent": 12}
    assert poles["pole1"]["seq_gaps"] == 1 and poles["pole1"]["seq_missing"] == 3
    assert poles["pole1"]["cameras"][0]["health"]["kind"] == "covered"
    assert poles["pole3"]["state"] == "offline" and poles["pole3"]["since"].startswith("1970-01-01T00:04:10")
    assert later["pole2"]["state"] == "silent" and later["pole2"]["stats_age_s"] == 300.0
    engine.dispose()


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: object) -> None:
    cfg = tmp_path / "station.toml"
    cfg.write_text('station_id = "ward7"\n[fleet]\nalert_after_s = 60\n')
    monkeypatch.setenv("EDGE_STATION_FLEET__ALERT_AFTER_S", "120")  # type: ignore[attr-defined]
    s = load(cfg)
    assert s.station_id == "ward7" and s.fleet.alert_after_s == 120
