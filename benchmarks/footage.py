"""Footage benchmark: the pipeline with recording on and off, a clip's pull over a capped link, and
what the station spends verifying it.

    python benchmarks/footage.py [--seconds 40] [--link-kbps 2000]

1. The live agent on one RTSP camera (GStreamer's server, the demo clip as H.264, 12.5 fps), the
   real model, `--seconds` with recording off and then on (`retain = "all"`): frames processed
   per second and the agent's CPU, side by side.
2. A 30 s event's clip (5 s before and after: 40 s of 4 s segments) pulled through a real
   mosquitto with the pole's uploader capped at `--link-kbps` (a 2 Mbit/s link), from the ask
   to the clip playable (every segment verified and remuxed): against the link's own time.
3. The station's CPU to take, verify and remux that clip (its chunks through the real archive).
Writes benchmarks/results/footage.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import REPO, table, write
from sqlalchemy import select

sys.path.insert(0, str(REPO))

from edge_agent import config
from edge_agent.agent.demo import LocalBroker
from edge_agent.agent.service import Service
from edge_agent.contract import Kind, Message, Topics
from edge_agent.contract.clips import CHUNK_BYTES, ChunkHeader, chunk_payload
from edge_agent.contract.footage import canonical
from edge_agent.delivery.commands import Commands
from edge_agent.delivery.mqtt import Delivery
from edge_agent.recording.budget import Budget
from edge_agent.recording.chain import Chain
from edge_agent.recording.keys import PoleKey
from edge_agent.recording.segmenter import Segmenter
from edge_agent.recording.uploader import Uploader
from edge_agent.station import config as station_config
from edge_agent.station.footage.playback import clip_mp4
from edge_agent.station.footage.puller import Puller
from edge_agent.station.footage.requests import ask_range, status
from edge_agent.station.ingest.archive import Archive, Received
from edge_agent.station.ingest.inbox import classify
from edge_agent.station.ingest.subscriber import Ingest
from edge_agent.station.service import commander
from edge_agent.station.store.engine import connect
from edge_agent.station.store.footage_files import FootageFiles
from edge_agent.station.store.footage_tables import footage_segments
from edge_agent.station.store.pictures import PictureStore
from tests.rtsp_server import RtspCamera, h264_clip

T0 = datetime(2026, 12, 7, 21, 10, tzinfo=UTC)


def pipeline(camera_url: str, work: Path, broker: LocalBroker, seconds: float, record: bool) -> dict:
    cfg = work / f"pole-{record}.toml"
    extra = f'[recording]\nenabled = true\nretain = "all"\ndir = "{work / "rec"}"\n' if record else ""
    extra += f'staging_dir = "{work / "ram"}"\n' if record else ""
    cfg.write_text(
        f'device_id = "bench"\nstate_dir = "{work / f"state-{record}"}"\n[camera]\nsource = "{camera_url}"\n'
        f'[mqtt]\nurl = "mqtt://127.0.0.1:{broker.port}"\n{extra}'
    )
    service = Service(config.load(cfg), cfg)
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    time.sleep(8)  # the camera connects, the background settles
    service._stats_body()  # the stats window starts here
    time.sleep(seconds)
    body = service._stats_body()
    service.stop()
    thread.join(30)
    rec = body.get("recording", {})
    return {
        "recording": "on" if record else "off",
        "fps_processed": body.get("fps_processed"),
        "agent_cpu_percent": body.get("cpu_percent"),
        "rss_mb": body.get("memory", {}).get("rss_mb"),
        "segments_kept": rec.get("segments_kept", ""),
        "bytes_written": rec.get("bytes_written_today", ""),
    }


def make_footage(work: Path, n: int) -> tuple[Path, PoleKey, list[tuple[str, bytes]]]:
    """`n` real 4 s segments of the demo clip, chained and signed as a pole does, times from T0."""
    folder = work / "pole-rec"
    cut: list = []
    Segmenter(
        str(h264_clip(work / "clips", 4 * n + 8)), folder, segment_s=4, live=False, on_segment=cut.append
    ).run()
    key = PoleKey.load_or_create(work / "pole-state")
    chain = Chain.open(folder, "bench", "cam0", key, sign_every=100)
    topics = Topics("edge", "bench", "cam0")
    msgs, at = [], T0
    for seg in cut[:n]:
        seg = replace(seg, start=at, end=at + timedelta(seconds=seg.duration_s - 0.08))
        at += timedelta(seconds=seg.duration_s)
        msgs.append((topics.footage, canonical(chain.append(seg).record)))
    msgs.append((topics.footage_heads, canonical(chain.close())))  # type: ignore[arg-type]
    return folder, key, msgs


def pull(work: Path, broker: LocalBroker, link_kbps: int) -> dict:
    folder, key, records = make_footage(work, 10)
    s = station_config.load(
        None,
        overrides={
            "state_dir": str(work / "station"),
            "brokers": [{"url": f"mqtt://127.0.0.1:{broker.port}", "username": None}],
        },
    )
    engine = connect(s.database_url)
    files = FootageFiles(s.footage_dir)
    ingest = Ingest(s, Archive(engine, files), PictureStore(s.pictures_dir))
    ingest.start()
    pole = config.load(None, overrides={"device_id": "bench", "state_dir": str(work / "pole-state"),
                                         "mqtt": {"url": f"mqtt://127.0.0.1:{broker.port}"}})  # fmt: skip
    commands = Commands()
    delivery = Delivery(pole, on_command=commands)
    topics = Topics("edge", "bench", "cam0")
    up = Uploader(folder, Budget(folder, 10**12), "cam0", topics, delivery.publish_now, delivery.publish,
                  lambda: delivery.connected, lambda: delivery.depth, link_kbps)  # fmt: skip
    commands.add("clip", up.request)
    delivery.start()
    up.start()
    stats = {"recording": {"key": key.fingerprint, "public_key": key.public_b64}}
    delivery.publish(Message(topics.stats, json.dumps(stats).encode(), Kind.STATS))
    for t, p in records:
        delivery.publish(Message(t, p, Kind.FOOTAGE))
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if len(conn.execute(select(footage_segments.c.idx)).all()) >= 10:
                    break
            time.sleep(0.2)
        nbytes = sum((folder / f"cam0-{i:08d}.mp4").stat().st_size for i in range(10))
        puller = Puller(engine, commander(ingest, "clip"), ask_every_s=30)
        t0 = time.monotonic()
        with engine.begin() as conn:
            rid = ask_range(
                conn,
                "bench",
                "cam0",
                int(T0.timestamp() * 1e6),
                int(T0.timestamp() * 1e6) + 40_000_000,
                "bench",
            )
        while time.monotonic() - t0 < 600:
            puller.run_once(int(time.time() * 1e6))
            with engine.connect() as conn:
                st = status(conn, rid)
            if st is not None and st.state == "done":
                break
            time.sleep(0.2)
        assert st is not None and st.state == "done", st and st.as_dict()
        clip_mp4(st, files, work / "cache")
        took = time.monotonic() - t0
    finally:
        up.stop()
        delivery.close()
        ingest.stop()
        engine.dispose()
    link_s = nbytes * 8 / (link_kbps * 1000)
    return {"segments": 10, "mb": round(nbytes / 1e6, 2), "link_kbps": link_kbps,
            "link_s": round(link_s, 1), "ask_to_playable_s": round(took, 1),
            "over_link_s": round(took - link_s, 1)}  # fmt: skip


def station_cost(work: Path) -> dict:
    """CPU to take, verify and remux the clip when its chunks are already here."""
    folder, key, records = make_footage(work / "cost", 10)
    engine = connect(f"sqlite:///{work / 'cost.db'}")
    files = FootageFiles(work / "cost-footage")
    archive = Archive(engine, files)
    topics = Topics("edge", "bench", "cam0")
    stats = json.dumps({"recording": {"public_key": key.public_b64}}).encode()
    archive.store(
        [Received("b", 1, classify("edge", t, p, 2**22)) for t, p in [(topics.stats, stats), *records]]
    )
    with engine.begin() as conn:
        rid = ask_range(
            conn, "bench", "cam0", int(T0.timestamp() * 1e6), int(T0.timestamp() * 1e6) + 40_000_000, "b"
        )
        st = status(conn, rid)
    assert st is not None
    chain = json.loads(records[0][1])["chain"]
    chunks = []
    for sg in st.segments:
        data = (folder / sg.name).read_bytes()
        for off in range(0, len(data), CHUNK_BYTES):
            h = ChunkHeader(
                request="b",
                camera="cam0",
                chain=chain,
                index=sg.idx,
                name=sg.name,
                offset=off,
                size=len(data),
            )
            chunks.append((topics.footage_chunks, chunk_payload(h, data[off : off + CHUNK_BYTES])))
    nbytes = sum(len(p) for _, p in chunks)
    c0 = time.process_time()
    for t, p in chunks:
        archive.store([Received("b", 2, classify("edge", t, p, 2**22))])
    c1 = time.process_time()
    with engine.connect() as conn:
        st = status(conn, rid)
    assert st is not None and st.state == "done"
    clip_mp4(st, files, work / "cost-cache")
    c2 = time.process_time()
    engine.dispose()
    verify_ms = (c1 - c0) * 1000
    return {
        "mb": round(nbytes / 1e6, 2),
        "chunks": len(chunks),
        "ingest_verify_cpu_ms": round(verify_ms),
        "cpu_ms_per_mb": round(verify_ms / (nbytes / 1e6), 1),
        "remux_cpu_ms": round((c2 - c1) * 1000),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--link-kbps", type=int, default=2000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="edge-bench-footage-"))
    broker = LocalBroker(shutil.which("mosquitto") or "/usr/sbin/mosquitto")
    try:
        with RtspCamera(h264_clip(work / "clips", 120), work) as camera:
            runs = [pipeline(camera.url, work, broker, args.seconds, rec) for rec in (False, True)]
        print(f"the agent on one RTSP camera (768x432, 12.5 fps), {args.seconds:.0f} s each:")
        print(table(runs, list(runs[0])))
        pulled = pull(work / "pull", broker, args.link_kbps)
        print("\na 30 s event's clip (40 s with its margins) pulled over a capped link:")
        print(table([pulled], list(pulled)))
        cost = station_cost(work)
        print("\nthe station taking, verifying and remuxing that clip:")
        print(table([cost], list(cost)))
        print(f"\nwrote {write('footage', {'pipeline': runs, 'pull': pulled, 'station': cost})}")
    finally:
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
