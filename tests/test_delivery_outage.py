"""Nothing lost: a 30 s broker outage mid-replay, and the agent SIGKILLed mid-replay."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.broker import USERS, Broker, Subscriber
from tests.conftest import agent_command, shared

OUTAGE_S = 30


def write_config(b: Broker, tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'device_id = "pole1"\nstate_dir = "{tmp_path / "state"}"\n'
        f'[mqtt]\nurl = "{b.url()}"\nusername = "pole1"\npassword = "{USERS["pole1"]}"\n'
        "reconnect_min_s = 1\nreconnect_max_s = 2\nwill_delay_s = 5\n"
        "[outbox]\nflush_interval_s = 0.2\n"
    )
    return path


def start_replay(video: Path, out: Path, cfg: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        agent_command(
            "replay", video, "--out", out, "--config", cfg, "--no-progress", "--drain-timeout", "120"
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def received_events(sub: Subscriber) -> dict[tuple[str, int], dict]:
    """Events received, duplicates (QoS 1 may deliver twice) removed by (id, seq)."""
    out = {}
    for m in sub.on("events"):
        e = json.loads(m.payload)
        out[(e["id"], e["seq"])] = e
    return out


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.slow
def test_broker_down_30s_mid_replay_loses_nothing(broker: Broker, tmp_path: Path) -> None:
    video = shared("pets09_s2l1_vtest/vtest.avi")
    sub = Subscriber(broker, ["edge/pole1/cam0/events", "edge/pole1/cam0/thumbnails/+"])
    proc = start_replay(video, tmp_path / "out", write_config(broker, tmp_path))
    try:
        assert sub.wait_for(lambda: len(sub.on("events")) >= 3, 120), "no events before the outage"
        broker.stop()
        down_at = len(received_events(sub))
        time.sleep(OUTAGE_S)
        broker.start()
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        written = jsonl(tmp_path / "out" / "events.jsonl")
        assert len(written) > down_at + 3, "the outage must fall in the middle of the replay"
        want = {(e["id"], e["seq"]) for e in written}
        assert sub.wait_for(lambda: set(received_events(sub)) >= want, 30)
        got = received_events(sub)
        assert set(got) == want
        # order: by seq after removing duplicates, exactly the order written
        assert sorted(got, key=lambda k: k[1]) == [(e["id"], e["seq"]) for e in written]
        thumbs = {m.topic.rsplit("/", 1)[-1] for m in sub.on("thumbnails")}
        assert thumbs >= {e["id"] for e in written if e.get("thumbnail")}
    finally:
        if proc.poll() is None:
            proc.kill()
        sub.close()


@pytest.mark.slow
def test_agent_sigkilled_mid_replay_delivers_the_rest_after_restart(broker: Broker, tmp_path: Path) -> None:
    video = shared("pets09_s2l1_vtest/vtest.avi")
    cfg = write_config(broker, tmp_path)
    sub = Subscriber(broker, ["edge/pole1/cam0/events"])
    broker.stop()  # the link is down while the first run works: everything waits in the outbox
    first = start_replay(video, tmp_path / "out1", cfg)
    try:
        events1 = tmp_path / "out1" / "events.jsonl"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not events1.exists() or len(jsonl(events1)) < 20):
            time.sleep(0.2)
        time.sleep(0.5)  # > flush_interval_s: what was written is committed
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        written = jsonl(events1)
        db = sqlite3.connect(tmp_path / "state" / "outbox.db")
        stored = [
            json.loads(p)
            for (p,) in db.execute("SELECT payload FROM outbox WHERE kind = 'event' ORDER BY id").fetchall()
        ]
        db.close()
        stored_keys = {(e["id"], e["seq"]) for e in stored}
        assert {(e["id"], e["seq"]) for e in written} <= stored_keys, "a written event was not in the outbox"
        broker.start()
        second = start_replay(shared("intel_car_detection/car-detection.mp4"), tmp_path / "out2", cfg)
        _, err = second.communicate(timeout=300)
        assert second.returncode == 0, err
        assert sub.wait_for(lambda: set(received_events(sub)) >= stored_keys, 30)
        got = received_events(sub)
        assert stored_keys <= set(got)
        later = {(e["id"], e["seq"]) for e in jsonl(tmp_path / "out2" / "events.jsonl")}
        assert later <= set(got)
        # sequence numbers survive the kill: the second run goes on by one from the last stored,
        # and the station sees 1, 2, 3 … with no hole (a hole is how it would see a loss)
        assert min(s for _, s in later) == max(s for _, s in stored_keys) + 1
        seqs = sorted({s for _, s in got})
        assert seqs == list(range(1, len(seqs) + 1))
    finally:
        if first.poll() is None:
            first.kill()
        sub.close()
