"""Live look ("xem trực tiếp"): while a pole's page watches live, the station asks the pole for
a snapshot a second through the broker, and stops when nobody watches. On a real mosquitto with
the shipped ACL, the real pole agent answering, and the station's real ingest archiving."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

from sqlalchemy import Engine, select

from edge_agent import config
from edge_agent.agent.service import Service
from edge_agent.station.config import WebConfig
from edge_agent.station.fleet.live_look import LiveLook
from edge_agent.station.ingest.subscriber import Ingest
from edge_agent.station.service import asker
from edge_agent.station.store.schema import cameras
from tests.conftest import shared
from tests.paced_camera import paced_source
from tests.station.shipped_broker import ShippedBroker
from tests.station.test_ingest import running  # noqa: F401  (the fixture)
from tests.station.test_web_support import make_ward


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_ask_a_second_per_pole_whoever_watches() -> None:
    asked: list[str] = []
    clock = Clock()
    look = LiveLook(lambda d: asked.append(d) is None, every_s=1.0, clock=clock)
    for _ in range(10):  # ten viewers of pole1 in the same instant
        look.watch("pole1")
    look.watch("pole2")
    assert asked == ["pole1", "pole2"]
    clock.now += 0.5
    look.watch("pole1")
    clock.now += 0.6
    look.watch("pole1")
    assert asked == ["pole1", "pole2", "pole1"] and look.sent == 3
    nobody = LiveLook(lambda d: False, clock=clock)  # no broker connected: nothing counted as sent
    assert nobody.watch("pole1") is False and nobody.sent == 0


def test_the_pole_page_stream_asks_while_it_is_open_and_stops_after(tmp_path: Path) -> None:
    asked: list[str] = []
    look = LiveLook(lambda d: asked.append(d) is None, every_s=0.2)
    web = WebConfig(public_poles=["pole1"], live_interval_s=0.1, live_max_s=1.0)
    ward = make_ward(tmp_path, web=web, look=look)
    volunteer = ward.client("volunteer")
    page = volunteer.get("/poles/pole1")
    assert 'data-look="/poles/pole1/look"' in page.text and "Xem trực tiếp" in page.text
    live = volunteer.get("/poles/pole1/look")  # the stream ends after live_max_s
    assert live.headers["content-type"].startswith("text/event-stream")
    data = json.loads(re.search(r"event: look\ndata: (.*)\n", live.text).group(1))  # type: ignore[union-attr]
    with ward.engine.connect() as conn:
        sha = conn.execute(select(cameras.c.snapshot_sha256).where(cameras.c.device == "pole1")).scalar()
    assert data == {"cam0": sha[:12]}
    assert len(asked) >= 2 and set(asked) == {"pole1"}
    after = len(asked)
    time.sleep(0.5)
    assert len(asked) == after  # nobody watches: nothing is asked
    assert volunteer.get("/poles/nope/look").status_code == 404
    assert ward.client("resident").get("/poles/pole1/look").status_code == 403
    plain = make_ward(tmp_path / "plain", web=web)  # a station without a broker to ask through
    answer = plain.client("volunteer").get("/poles/pole1/look")
    assert answer.status_code == 503 and "broker" in answer.text


def snapshots(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(cameras.c.snapshot_sha256).where(cameras.c.device == "pole1")).scalar()


def test_watching_a_live_pole_brings_a_new_picture_every_second(
    running: tuple[Ingest, Engine],  # noqa: F811
    shipped_broker: ShippedBroker,
    tmp_path: Path,
) -> None:
    ingest, engine = running
    video = shared("pets09_s2l1_vtest/vtest.avi")
    cfg = tmp_path / "pole.toml"
    cfg.write_text(
        f'device_id = "pole1"\nstate_dir = "{tmp_path / "pole"}"\n[camera]\nsource = "{video}"\n'
        f'[mqtt]\nurl = "{shipped_broker.url()}"\nusername = "pole1"\n'
        f'password = "{shipped_broker.passwords["pole1"]}"\n[outbox]\nflush_interval_s = 0.2\n'
        "[events]\nsnapshot_on_event = false\n"
    )
    service = Service(config.load(cfg), cfg, source=paced_source(video))
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    look = LiveLook(asker(ingest))
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (service.delivery and service.delivery.connected):
            time.sleep(0.1)
        seen: set[str] = set()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(seen) < 3:  # a viewer's page, once a second
            look.watch("pole1")
            sha = snapshots(engine)
            if sha:
                seen.add(sha)
            time.sleep(0.25)
        assert len(seen) >= 3, f"{len(seen)} pictures in 20 s of watching"
        time.sleep(2.0)  # nobody watches any more: the pole is not asked, no new picture comes
        quiet = snapshots(engine)
        time.sleep(2.0)
        assert snapshots(engine) == quiet
    finally:
        service.stop()
        thread.join(30)
