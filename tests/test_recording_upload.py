"""The station pulls footage from the pole: `clip` requests, chunked uploads, a real mosquitto.

The station's side is played by a paho client with the viewer's credentials: it publishes a
`ClipRequest` on `edge/pole1/cmd/clip`, reads the `ClipReply`, and reassembles the chunks from
`footage/chunks` into files whose sha256 must be the segment's. The pole's side is `Delivery` with
the `Uploader` as its `clip` command, on real segments cut from an H.264 clip by the `Segmenter`
(and, at the end, the whole service recording an RTSP camera). Broker restarts, the rate cap, the
budget, a file deleted mid-upload, hostile payloads and the broker's ACL are each tried.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge_agent import config
from edge_agent.agent.service import Service
from edge_agent.contract import Topics
from edge_agent.contract.clips import CHUNK_BYTES, ClipReply, Unavailable, parse_chunk
from edge_agent.contract.footage import parse_record
from edge_agent.delivery.commands import Commands
from edge_agent.delivery.mqtt import Delivery
from edge_agent.recording import uploader as upl
from edge_agent.recording.budget import Budget
from edge_agent.recording.segment_file import Segment
from edge_agent.recording.segmenter import Segmenter
from tests.broker import Broker, Subscriber
from tests.rtsp_server import RtspCamera, h264_clip
from tests.test_mqtt import event_message, settings_for
from tests.test_service import write_config

CHAIN = "0123456789abcdef"
TOPICS = Topics("edge", "pole1", "cam0")
CMD, REPLY = "edge/pole1/cmd/clip", "edge/pole1/cmd/clip/reply"
CHUNKS, UNAVAILABLE = "edge/pole1/cam0/footage/chunks", "edge/pole1/cam0/footage/unavailable"


@pytest.fixture(scope="module")
def segments(tmp_path_factory: pytest.TempPathFactory) -> list[Segment]:
    """16 real segments of about 2 s (fMP4, H.264) cut from a 20 s clip, made once."""
    d = tmp_path_factory.mktemp("segments")
    made: list[Segment] = []
    Segmenter(
        str(h264_clip(d / "clips", 20)), d / "rec", segment_s=2, live=False, on_segment=made.append
    ).run()
    assert len(made) >= 12
    return made


class Pole:
    """Delivery with the uploader as its `clip` command, on a copy of the segments."""

    def __init__(self, broker: Broker, tmp_path: Path, segments: list[Segment], kbps: int = 10**6) -> None:
        self.folder = tmp_path / "rec"
        self.folder.mkdir()
        for s in segments:
            shutil.copy(s.path, self.folder / s.path.name)
        self.segments = {s.path.name: s for s in segments}
        commands = Commands()
        self.delivery = d = Delivery(settings_for(broker, tmp_path), on_command=commands)
        self.budget = Budget(self.folder, 10**12)
        self.uploader = upl.Uploader(
            self.folder,
            self.budget,
            "cam0",
            TOPICS,
            d.publish_now,
            d.publish,
            lambda: d.connected,
            lambda: d.depth,
            kbps,
        )
        commands.add("clip", self.uploader.request)
        d.start()
        self.uploader.start()
        assert wait_for(lambda: d.connected, 10)
        time.sleep(0.3)  # subscribed to its commands

    def name(self, i: int) -> str:
        return f"cam0-{i:08d}.mp4"

    def __enter__(self) -> Pole:
        return self

    def __exit__(self, *exc: object) -> None:
        self.uploader.stop()
        self.delivery.close()


class Station:
    """The station's side: asks, and keeps what arrives."""

    def __init__(self, broker: Broker) -> None:
        self.sub = Subscriber(broker, [REPLY, CHUNKS, UNAVAILABLE], client_id="test-station")

    def _on(self, topic: str) -> list[bytes]:
        with self.sub._lock:
            return [m.payload for m in self.sub.messages if m.topic == topic]

    def ask(self, body: dict | bytes) -> dict:
        before = len(self._on(REPLY))
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.sub.client.publish(CMD, payload, qos=1)
        assert wait_for(lambda: len(self._on(REPLY)) > before, 10), "no reply"
        return dict(json.loads(self._on(REPLY)[before]))

    def unavailable(self) -> list[Unavailable]:
        return [Unavailable.model_validate_json(p) for p in self._on(UNAVAILABLE)]

    def received(self) -> dict[str, tuple[int, dict[int, bytes]]]:
        """name → (the segment's size, offset → bytes); a chunk sent twice must be the same bytes."""
        out: dict[str, tuple[int, dict[int, bytes]]] = {}
        for payload in self._on(CHUNKS):
            header, data = parse_chunk(payload)
            size, parts = out.setdefault(header.name, (header.size, {}))
            assert header.size == size
            assert parts.setdefault(header.offset, data) == data, "a chunk sent again differs"
        return out

    def complete(self, name: str, prefix: bytes = b"") -> bytes | None:
        """The whole file from `prefix` (what the station had) and the chunks, once it is whole."""
        got = self.received().get(name)
        if got is None:
            return None
        size, parts = got
        data = bytearray(prefix)
        while len(data) < size and parts.get(len(data)):
            data += parts[len(data)]
        whole = len(data) == size and (len(data) > len(prefix) or size in parts)  # or the empty last one
        return bytes(data) if whole else None

    def close(self) -> None:
        self.sub.close()


def wait_for(predicate: Callable[[], object], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def request(rid: str, *wanted: tuple[int, str, int], camera: str = "cam0") -> dict:
    segs = [{"index": i, "name": name, "offset": offset} for i, name, offset in wanted]
    return {"schema": "edge-agent/clip/1", "request": rid, "camera": camera, "chain": CHAIN, "segments": segs}


@pytest.fixture
def station(broker: Broker) -> Iterator[Station]:
    s = Station(broker)
    yield s
    s.close()


@pytest.fixture
def pole(broker: Broker, tmp_path: Path, segments: list[Segment]) -> Iterator[Pole]:
    with Pole(broker, tmp_path, segments) as p:
        yield p


def sha(data: bytes | None) -> str:
    return hashlib.sha256(data or b"").hexdigest()


def test_what_is_asked_for_arrives_whole_and_the_rest_says_why(pole: Pole, station: Station) -> None:
    for i in (0, 1, 2, 9):  # 0-2 recorded over (older than the oldest left), 9 lost
        (pole.folder / pole.name(i)).unlink()
    os.symlink("/etc/passwd", pole.folder / "cam0-00000099.mp4")
    wanted = [(3, pole.name(3), 0), (4, pole.name(4), 0), (1, pole.name(1), 0), (9, pole.name(9), 0)]
    wanted += [(5, pole.name(5), 10**9), (50, "cam0.chain.jsonl", 0), (51, "cam1-00000003.mp4", 0)]
    wanted += [(99, "cam0-00000099.mp4", 0), (52, "cam0-00000004.mp4.part", 0)]
    reply = station.ask(request("r1", *wanted))
    ClipReply.model_validate(reply)
    assert reply["ok"] is True and reply["request"] == "r1" and reply["queued"] == [3, 4]
    why = {u["index"]: u["reason"] for u in reply["unavailable"]}
    size5 = pole.segments[pole.name(5)].bytes
    assert why == {
        1: upl.RECORDED_OVER,
        9: upl.NOT_ON_DISK,
        5: f"the station asks from byte {10**9} but the segment has {size5}",
        50: upl.NOT_A_SEGMENT,
        51: upl.NOT_A_SEGMENT,
        99: upl.NOT_A_FILE,
        52: upl.NOT_A_SEGMENT,
    }
    for i in (3, 4):
        name = pole.name(i)
        assert wait_for(lambda n=name: station.complete(n), 20), f"{name} did not arrive whole"
        assert sha(station.complete(name)) == pole.segments[name].sha256
    assert set(station.received()) == {pole.name(3), pole.name(4)}  # nothing else was read
    assert wait_for(lambda: pole.uploader.stats()["sent_segments"] == 2, 5)
    assert pole.uploader.stats()["queued"] == 0 and not pole.budget.held
    # a name with a path is not a segment name at all: the whole request is refused
    bad = station.ask(request("r2", (0, "../x.mp4", 0)))
    assert bad["ok"] is False and bad["request"] == "r2" and "segments.0.name" in bad["error"]


def test_offsets_send_only_the_rest(pole: Pole, station: Station) -> None:
    a, b = pole.name(5), pole.name(6)
    whole_a, whole_b = (pole.folder / a).read_bytes(), (pole.folder / b).read_bytes()
    reply = station.ask(request("r3", (5, a, 300_000), (6, b, len(whole_b))))
    assert reply["queued"] == [5, 6] and reply["unavailable"] == []
    assert wait_for(lambda: station.complete(a, whole_a[:300_000]) and station.complete(b, whole_b), 20)
    assert sha(station.complete(a, whole_a[:300_000])) == pole.segments[a].sha256
    sent = station.received()
    assert min(sent[a][1]) == 300_000 and sum(map(len, sent[a][1].values())) == len(whole_a) - 300_000
    assert sent[b][1] == {len(whole_b): b""}  # all there already: one empty last chunk says so


def test_the_same_segment_asked_again_is_queued_once_and_held_from_the_budget(
    broker: Broker, tmp_path: Path, segments: list[Segment], station: Station
) -> None:
    with Pole(broker, tmp_path, segments, kbps=16) as pole:  # the first chunk, then a long wait
        held = [pole.name(i) for i in (3, 4, 5)]
        station.ask(request("r4", *((i, pole.name(i), 0) for i in (3, 4, 5))))
        again = station.ask(request("r5", (4, pole.name(4), 1000), (5, pole.name(5), 0)))
        assert again["queued"] == [4, 5] and pole.uploader.stats()["queued"] == 3
        assert pole.budget.held == set(held)
        pole.budget.max_bytes = 1  # over budget: everything goes but what is held
        pole.budget.enforce()
        assert sorted(p.name for p in pole.folder.iterdir()) == held
        reply = station.ask(request("r6", (0, pole.name(0), 0)))
        assert reply["unavailable"][0]["reason"] == upl.RECORDED_OVER
        pole.uploader.stop()  # the pole keeps no upload state: released
        assert not pole.budget.held and pole.budget.enforce() == held


def test_rate_cap_holds(broker: Broker, tmp_path: Path, segments: list[Segment], station: Station) -> None:
    kbps = 8000
    with Pole(broker, tmp_path, segments, kbps=kbps) as pole:
        names = [s.path.name for s in segments]
        total = sum(s.bytes for s in segments)
        started = time.monotonic()
        reply = station.ask(request("r7", *((i, n, 0) for i, n in enumerate(names))))
        assert len(reply["queued"]) == len(names)
        assert wait_for(lambda: pole.uploader.stats()["rate_kbps"] > 0, 10)
        assert wait_for(lambda: all(station.complete(n) for n in names), 60)
        elapsed = time.monotonic() - started
        assert elapsed >= (total - CHUNK_BYTES) * 8 / (kbps * 1000) * 0.9, f"{total} bytes in {elapsed:.1f} s"
        assert all(sha(station.complete(s.path.name)) == s.sha256 for s in segments)
        assert pole.uploader.stats()["sent_bytes"] >= total
        order = [(h.index, h.offset) for h, _ in map(parse_chunk, station._on(CHUNKS))]
        assert order == sorted(set(order)), "one chunk at a time, in the queue's order, each once"


@pytest.mark.slow
def test_a_broker_restart_mid_upload_resumes_and_completes(
    broker: Broker, tmp_path: Path, segments: list[Segment], station: Station
) -> None:
    with Pole(broker, tmp_path, segments, kbps=4000) as pole:
        names = [s.path.name for s in segments]
        station.ask(request("r8", *((i, n, 0) for i, n in enumerate(names))))
        assert wait_for(lambda: len(station.received()) >= 3, 20)
        broker.stop()
        assert wait_for(lambda: not pole.delivery.connected, 10)
        time.sleep(1)
        broker.start()
        assert wait_for(lambda: all(station.complete(n) for n in names), 90), (
            f"incomplete: {[n for n in names if not station.complete(n)]}"
        )
        assert all(sha(station.complete(s.path.name)) == s.sha256 for s in segments)
        assert pole.uploader.stats()["sent_segments"] == len(names) and not pole.budget.held
        assert pole.delivery.stats.connects >= 2


def test_a_segment_deleted_mid_upload_is_said_unavailable(
    broker: Broker, tmp_path: Path, segments: list[Segment], station: Station
) -> None:
    with Pole(broker, tmp_path, segments, kbps=1000) as pole:  # a chunk about every 2 s
        name = pole.name(3)
        assert pole.segments[name].bytes > CHUNK_BYTES
        station.ask(request("r9", (3, name, 0)))
        assert wait_for(lambda: name in station.received(), 10)
        (pole.folder / name).unlink()
        assert wait_for(lambda: station.unavailable(), 10), "no unavailable notice"
        notice = station.unavailable()[0]
        assert (notice.request, notice.index, notice.name) == ("r9", 3, name)
        assert "deleted" in notice.reason
        assert pole.uploader.stats()["queued"] == 0 and not pole.budget.held
        assert station.complete(name) is None


def test_hostile_payloads_get_a_sentence_and_the_pole_goes_on(pole: Pole, station: Station) -> None:
    many = request("r10", *((i, pole.name(i), 0) for i in range(49)))
    cases: list[tuple[dict | bytes, str]] = [
        (b"not json", "not valid JSON"),
        (json.dumps({"request": "x", "pad": "a" * 5000}).encode(), "at most 4096"),
        (request("r11", (3, pole.name(3), 0), camera="cam9"), "this pole records camera cam0, not cam9"),
        (many, "segments"),
        (b"[1, 2]", "JSON object"),
        ({"request": "../../etc", "segments": []}, "not a clip request: request"),
        (request("r12", (-1, pole.name(3), 0)), "segments.0.index"),
        (request("r13", (3, pole.name(3), "0")), "segments.0.offset"),  # type: ignore[arg-type]
    ]
    for payload, says in cases:
        reply = station.ask(payload)
        assert reply["ok"] is False and says in reply["error"], reply
        ClipReply.model_validate(reply)
    assert pole.uploader.stats()["queued"] == 0 and not station.received()
    assert pole.delivery.alive() and pole.uploader.alive()
    reply = station.ask(request("r14", (3, pole.name(3), 0)))
    assert reply["ok"] is True and reply["queued"] == [3]
    assert wait_for(lambda: station.complete(pole.name(3)), 10)


def test_stale_items_a_full_queue_and_a_missing_disk_without_a_broker(
    tmp_path: Path, segments: list[Segment]
) -> None:
    folder = shutil.copytree(segments[0].path.parent, tmp_path / "rec")
    budget = Budget(folder, 10**12)
    # never connected: nothing is sent, the items wait
    up = upl.Uploader(
        folder,
        budget,
        "cam0",
        TOPICS,
        lambda *a, **k: True,
        lambda m: None,
        lambda: False,
        lambda: 0,
        1000,
        max_queue=2,
        stale_s=1.0,
    ).start()
    try:
        names = [s.path.name for s in segments[:3]]
        reply = up.request(request("r20", *((i, n, 0) for i, n in enumerate(names))))
        assert reply["queued"] == [0, 1] and reply["unavailable"][0]["reason"] == upl.QUEUE_FULL
        assert budget.held == set(names[:2])
        assert wait_for(lambda: up.stats()["queued"] == 0, 5), "stale items stay"
        assert not budget.held
        shutil.rmtree(folder)  # the disk is gone
        reply = up.request(request("r21", (0, names[0], 0)))
        reason = reply["unavailable"][0]["reason"]
        assert reason == "the recording disk cannot be read: No such file or directory"
        started = time.monotonic()
    finally:
        up.stop()
    assert time.monotonic() - started < 1 and not up._thread.is_alive()


def test_publish_now_is_true_only_for_a_successful_puback(broker: Broker, tmp_path: Path) -> None:
    delivery = Delivery(settings_for(broker, tmp_path))
    assert delivery.publish_now("edge/pole1/x", b"x", 5) is False  # not connected: at once
    delivery.start()
    try:
        assert wait_for(lambda: delivery.connected, 10)
        for i in range(1, 21):  # the outbox's own messages in flight meanwhile
            delivery.publish(event_message(delivery.topics.events, i))
        assert delivery.publish_now("edge/pole1/cam0/footage/chunks", b"ok", 5) is True
        assert delivery.publish_now("edge/otherpole/x", b"refused", 5) is False  # the ACL: 135
        assert delivery.stats.rejected == {135: 1}
        assert delivery.drain(10) == 0 and delivery.stats.acked == 20
        assert delivery.outbox.depth == 0
    finally:
        delivery.close()


def test_the_service_serves_its_recorded_chain(broker: Broker, tmp_path: Path, station: Station) -> None:
    clip = h264_clip(tmp_path / "clips", 30)
    with RtspCamera(clip, tmp_path) as camera:
        extra = (
            f'[recording]\nenabled = true\ndir = "{tmp_path / "rec"}"\nstaging_dir = "{tmp_path / "ram"}"\n'
            'segment_s = 2\nretain = "all"\nupload_kbps = 100000\n'
        )
        path = write_config(tmp_path / "config.toml", broker, Path("/dev/null"), tmp_path / "state", extra)
        path.write_text(path.read_text().replace('source = "/dev/null"', f'source = "{camera.url}"'))
        records_sub = Subscriber(broker, ["edge/pole1/cam0/footage", "edge/pole1/cmd/stats/reply"])
        service = Service(config.load(path), path)
        thread = threading.Thread(target=service.run, daemon=True)
        thread.start()
        try:
            assert records_sub.wait_for(lambda: len(records_sub.on("cam0/footage")) >= 3, 40)
            records = [parse_record(m.payload) for m in records_sub.on("cam0/footage")][:3]
            body = request("r15", *((r.index, r.name, 0) for r in records))
            body["chain"] = records[0].chain
            reply = station.ask(body)
            assert reply["queued"] == [r.index for r in records], reply
            assert wait_for(lambda: all(station.complete(r.name) for r in records), 20)
            assert [sha(station.complete(r.name)) for r in records] == [r.sha256 for r in records]
            records_sub.client.publish("edge/pole1/cmd/stats", b"{}", qos=1)
            assert records_sub.wait_for(lambda: bool(records_sub.on("stats/reply")), 10)
            upload = json.loads(records_sub.on("stats/reply")[-1].payload)["recording"]["upload"]
            assert upload["sent_segments"] == 3 and upload["queued"] == 0
        finally:
            service.stop()
            thread.join(30)
            records_sub.close()
        assert not thread.is_alive()
