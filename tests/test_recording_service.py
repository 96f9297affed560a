"""The agent records its RTSP camera while it detects on it: footage records reach the broker.

The live service on GStreamer's RTSP server (the demo clip as H.264) and a real mosquitto with the
shipped ACL: OpenCV decodes the stream for the detector, PyAV copies it into segments, the cars'
events keep their segments, each kept segment's record arrives on `P/D/C/footage` and the signed
head on `P/D/C/footage/heads`, and `stats` carries the pole's public key for the station to pin.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path

from edge_agent import config
from edge_agent.agent.service import Service
from edge_agent.contract.footage import check_chain, check_head, key_fingerprint, parse_head, parse_record
from tests.broker import Broker, Subscriber
from tests.rtsp_server import RtspCamera, h264_clip
from tests.test_service import write_config


def test_the_agent_records_its_camera_and_publishes_the_signed_chain(broker: Broker, tmp_path: Path) -> None:
    clip = h264_clip(tmp_path / "clips", 30)
    with RtspCamera(clip, tmp_path) as camera:
        extra = (
            f'[recording]\nenabled = true\ndir = "{tmp_path / "rec"}"\nstaging_dir = "{tmp_path / "ram"}"\n'
            "segment_s = 2\npre_capture_s = 2\npost_capture_s = 2\nsign_every = 3\n"
        )
        path = write_config(tmp_path / "config.toml", broker, Path("/dev/null"), tmp_path / "state", extra)
        path.write_text(path.read_text().replace('source = "/dev/null"', f'source = "{camera.url}"'))
        sub = Subscriber(broker, ["edge/pole1/#"])
        service = Service(config.load(path), path)
        thread = threading.Thread(target=service.run, daemon=True)
        thread.start()
        try:
            assert sub.wait_for(lambda: bool(sub.on("/events")), 30), "no event from the cars"
            assert sub.wait_for(lambda: len(sub.on("/footage")) >= 3, 30), "no footage records"
            assert sub.wait_for(lambda: bool(sub.on("stats")), 15)
            time.sleep(1)
        finally:
            service.stop()
            thread.join(30)
        assert not thread.is_alive()
        assert sub.wait_for(lambda: bool(sub.on("/footage/heads")), 10), "the head is signed at stop"
        sub.close()
    records = [parse_record(m.payload) for m in sub.on("/footage")]
    assert check_chain(records) == [] and records[0].index == 0
    assert {r.codec for r in records} == {"h264"} and all(r.device == "pole1" for r in records)
    stats = json.loads(sub.on("stats")[-1].payload)["recording"]
    key = base64.b64decode(stats["public_key"])
    assert stats["key"] == key_fingerprint(key) and stats["state"] == "recording"
    by_index = {r.index: r for r in records}
    heads = [parse_head(m.payload) for m in sub.on("/footage/heads")]
    for head in heads:
        if head.index in by_index:
            assert check_head(head, key, by_index[head.index]) == []
    assert (tmp_path / "state" / "pole_key.pem").stat().st_mode & 0o777 == 0o600
