"""Footage from the camera to the court, with every part real: GStreamer's RTSP camera streaming
the demo clip, the pole agent detecting on it and recording it, the shipped broker and ACL, the
station's ingest, puller and exporter.

The cars' events keep their segments on the pole; the station learns of them from the chain
records, asks for one event's clip, the pole sends it in chunks, each segment checks out against
its record, the clip plays as one MP4, and the case's bag verifies: bytes, chain and signature.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import pytest
from sqlalchemy import Engine, select

from edge_agent import config
from edge_agent.agent.service import Service
from edge_agent.station.evidence.cases import add_events, open_case
from edge_agent.station.evidence.export import export_case
from edge_agent.station.evidence.signing import load_or_create_key, public_key_pem
from edge_agent.station.evidence.verify import verify_bag
from edge_agent.station.footage.playback import clip_mp4
from edge_agent.station.footage.puller import Puller
from edge_agent.station.footage.requests import ask_event, ask_range, status
from edge_agent.station.ingest.archive import Archive
from edge_agent.station.ingest.subscriber import Ingest
from edge_agent.station.service import commander
from edge_agent.station.store.engine import connect
from edge_agent.station.store.footage_files import FootageFiles
from edge_agent.station.store.footage_tables import footage_segments, pole_keys
from edge_agent.station.store.pictures import PictureStore
from edge_agent.station.store.schema import events
from tests.rtsp_server import RtspCamera, h264_clip
from tests.station.shipped_broker import ShippedBroker
from tests.station.test_ingest import settings_for


def until(check: Callable[[], object], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout_s} s: {what}")


@pytest.fixture
def station(tmp_path: Path, shipped_broker: ShippedBroker) -> Iterator[tuple[Ingest, Engine, FootageFiles]]:
    settings = settings_for(tmp_path / "station", f"sqlite:///{tmp_path / 'station.db'}", shipped_broker)
    engine = connect(settings.database_url)
    files = FootageFiles(settings.footage_dir)
    ingest = Ingest(settings, Archive(engine, files), PictureStore(settings.pictures_dir))
    ingest.start()
    assert all(c.connected.wait(10) for c in ingest.clients)
    yield ingest, engine, files
    ingest.stop()
    engine.dispose()


@pytest.mark.slow
def test_an_events_footage_goes_from_the_camera_into_a_verified_case(
    station: tuple[Ingest, Engine, FootageFiles], shipped_broker: ShippedBroker, tmp_path: Path
) -> None:
    ingest, engine, files = station
    with RtspCamera(h264_clip(tmp_path / "clips", 30), tmp_path) as camera:
        cfg = tmp_path / "pole.toml"
        cfg.write_text(
            f'device_id = "pole1"\nstate_dir = "{tmp_path / "pole"}"\n[camera]\nsource = "{camera.url}"\n'
            f'[mqtt]\nurl = "{shipped_broker.url()}"\nusername = "pole1"\n'
            f'password = "{shipped_broker.passwords["pole1"]}"\n[outbox]\nflush_interval_s = 0.2\n'
            "[health]\nstats_interval_s = 5\n"
            f'[recording]\nenabled = true\ndir = "{tmp_path / "pole-rec"}"\n'
            f'staging_dir = "{tmp_path / "pole-ram"}"\nsegment_s = 2\npre_capture_s = 2\npost_capture_s = 2\n'
            "upload_kbps = 50000\n"
        )
        service = Service(config.load(cfg), cfg)
        thread = threading.Thread(target=service.run, daemon=True)
        thread.start()
        try:

            def ended() -> str | None:
                with engine.connect() as conn:
                    return conn.execute(
                        select(events.c.event_id)
                        .where(events.c.end_us.is_not(None))
                        .order_by(events.c.id)
                        .limit(1)
                    ).scalar()

            until(ended, 60, "a car's event ended")
            event_id = ended()
            assert event_id is not None

            def known() -> bool:
                with engine.connect() as conn:
                    pinned = conn.execute(select(pole_keys.c.fingerprint)).scalar()
                    n = len(conn.execute(select(footage_segments.c.idx)).all())
                return pinned is not None and n >= 3

            until(known, 30, "the pole's key and its footage records at the station")
            with engine.begin() as conn:
                rid = ask_event(conn, "pole1", event_id, "officer-an", 2, 2)
            puller = Puller(engine, commander(ingest, "clip"), ask_every_s=5)

            def done() -> bool:
                puller.run_once(int(time.time() * 1e6))
                with engine.connect() as conn:
                    st = status(conn, rid)
                return st is not None and st.state in ("done", "partial", "unavailable")

            until(done, 60, "the clip pulled")
        finally:
            service.stop()
            thread.join(30)
    with engine.connect() as conn:
        st = status(conn, rid)
    assert st is not None and st.state == "done", st.as_dict()
    n = len(st.segments)
    assert n >= 2 and st.verified == n
    mp4 = clip_mp4(st, files, tmp_path / "cache")
    with av.open(str(mp4)) as c:
        frames = sum(1 for _ in c.decode(c.streams.video[0]))
    with engine.connect() as conn:
        recorded = sum(
            int(json.loads(r)["frames"])
            for r in conn.execute(
                select(footage_segments.c.raw).where(footage_segments.c.idx.in_([s.idx for s in st.segments]))
            ).scalars()
        )
    assert frames == recorded, "every frame the pole recorded for the clip plays"

    open_case(engine, "case-1", "collision at the crossroads", "officer-an")
    add_events(engine, "case-1", [("pole1", event_id)], "officer-an")
    key = tmp_path / "station.pem"
    bag = export_case(
        engine,
        PictureStore(tmp_path / "pics"),
        key,
        "ward7",
        "case-1",
        tmp_path / "bag",
        "officer-an",
        footage=files,
    )
    report = verify_bag(bag, public_key_pem(load_or_create_key(key)))
    assert report.ok, report.messages
    (line,) = report.clips
    assert f"{n} of {n} segments, bytes as the pole recorded" in line


def test_a_record_forged_with_another_poles_password_is_refused_by_the_acl_and_the_station(
    station: tuple[Ingest, Engine, FootageFiles], shipped_broker: ShippedBroker, tmp_path: Path
) -> None:
    import paho.mqtt.client as mqtt

    from edge_agent.contract import Topics
    from edge_agent.contract.footage import canonical
    from edge_agent.recording.chain import Chain
    from edge_agent.recording.keys import PoleKey
    from edge_agent.station.store.schema import rejects
    from tests.station.test_footage_ingest import segment

    _, engine, _ = station
    chain = Chain.open(tmp_path / "forger", "pole1", "cam0", PoleKey.load_or_create(tmp_path / "k"), 10)
    forged = canonical(chain.append(segment(0, tmp_path)).record)  # a record "of pole1"
    acks: list[object] = []
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="forger", protocol=mqtt.MQTTv5)
    c.username_pw_set("pole2", shipped_broker.passwords["pole2"])
    c.on_publish = lambda _c, _u, _mid, reason, _p: acks.append(reason)
    c.connect("127.0.0.1", shipped_broker.port)
    c.loop_start()
    try:
        c.publish(Topics("edge", "pole1", "cam0").footage, forged, qos=1).wait_for_publish(10)
        c.publish(Topics("edge", "pole2", "cam0").footage, forged, qos=1).wait_for_publish(10)
        until(lambda: len(acks) == 2, 10, "both PUBACKs")
    finally:
        c.loop_stop()
        c.disconnect()
    assert getattr(acks[0], "value", None) == 135, "the ACL lets pole2 write only under its own name"

    def refused() -> list[str]:
        with engine.connect() as conn:
            return list(conn.execute(select(rejects.c.reason)).scalars())

    until(refused, 10, "the station's reject row")
    assert any("footage record names pole1/cam0, topic says pole2/cam0" in r for r in refused())
    with engine.connect() as conn:
        assert conn.execute(select(footage_segments.c.idx)).first() is None


@pytest.mark.slow
def test_a_clip_arrives_whole_through_a_station_restart_and_a_pole_restart(
    shipped_broker: ShippedBroker, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path / "station", f"sqlite:///{tmp_path / 'station.db'}", shipped_broker)
    engine = connect(settings.database_url)
    files = FootageFiles(settings.footage_dir)

    def new_ingest() -> Ingest:
        ingest = Ingest(settings, Archive(engine, files), PictureStore(settings.pictures_dir))
        ingest.start()
        assert all(c.connected.wait(10) for c in ingest.clients)
        return ingest

    def start(cfg: Path) -> tuple[Service, threading.Thread]:
        service = Service(config.load(cfg), cfg)
        thread = threading.Thread(target=service.run, daemon=True)
        thread.start()
        return service, thread

    ingest = new_ingest()
    with RtspCamera(h264_clip(tmp_path / "clips", 60), tmp_path) as camera:
        cfg = tmp_path / "pole.toml"
        cfg.write_text(
            f'device_id = "pole1"\nstate_dir = "{tmp_path / "pole"}"\n[camera]\nsource = "{camera.url}"\n'
            f'[mqtt]\nurl = "{shipped_broker.url()}"\nusername = "pole1"\n'
            f'password = "{shipped_broker.passwords["pole1"]}"\n[outbox]\nflush_interval_s = 0.2\n'
            f'[recording]\nenabled = true\nretain = "all"\ndir = "{tmp_path / "pole-rec"}"\n'
            f'staging_dir = "{tmp_path / "pole-ram"}"\nsegment_s = 2\nupload_kbps = 1200\n'
        )
        service, thread = start(cfg)
        try:

            def records() -> list[tuple[int, int, int]]:
                s = footage_segments.c
                with engine.connect() as conn:
                    return [
                        tuple(r) for r in conn.execute(select(s.idx, s.start_us, s.end_us).order_by(s.idx))
                    ]

            until(lambda: len(records()) >= 8, 60, "eight footage records at the station")
            first, last = records()[0], records()[7]
            with engine.begin() as conn:
                rid = ask_range(conn, "pole1", "cam0", first[1], last[2], "officer-an")

            def pulled(puller: Puller, enough: Callable[[dict], bool]) -> Callable[[], bool]:
                def check() -> bool:
                    puller.run_once(int(time.time() * 1e6))
                    with engine.connect() as conn:
                        st = status(conn, rid)
                    return st is not None and enough(st.as_dict())

                return check

            puller = Puller(engine, commander(ingest, "clip"), ask_every_s=5)
            until(pulled(puller, lambda d: d["have_bytes"] > 600_000), 60, "the first chunks")
            ingest.stop()  # the station goes down mid-upload; its broker session keeps the chunks
            time.sleep(2)
            ingest = new_ingest()
            puller = Puller(engine, commander(ingest, "clip"), ask_every_s=5)
            until(pulled(puller, lambda d: d["verified"] >= 4), 60, "half the clip")
            service.stop()  # the pole restarts mid-upload: its queue is gone, the station asks again
            thread.join(30)
            service, thread = start(cfg)
            until(pulled(puller, lambda d: d["state"] == "done"), 90, "the whole clip")
        finally:
            service.stop()
            thread.join(30)
            ingest.stop()
    with engine.connect() as conn:
        st = status(conn, rid)
    engine.dispose()
    assert st is not None and st.verified == len(st.segments) == 8
    copies = sorted(p.name for p in files.root.rglob("*.mp4"))
    assert len(copies) == 8 and len(set(copies)) == 8, "each segment once, none flagged"
