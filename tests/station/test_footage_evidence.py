"""A case's bag carries its clips with the pole's proof; verify says per clip what holds and what not.

The pole's own chain and key (via the scripted pole of test_footage_pull), a clip pulled through
the real ingest, a case exported by the real exporter. `verify_bag` (what `station verify` runs)
says for the clip: its bytes are the pole's, the chain is unbroken over it, the pole's key signed
it, which clock its times come from. A flipped byte, a removed segment, a segment of another
pole, a removed record and a re-signed chain each fail with a sentence naming it.
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from edge_agent.contract.footage import head_message, parse_head
from edge_agent.recording.keys import PoleKey
from edge_agent.station.evidence.cases import add_events, open_case
from edge_agent.station.evidence.export import export_case
from edge_agent.station.evidence.signing import load_or_create_key, public_key_pem
from edge_agent.station.evidence.verify import verify_bag
from edge_agent.station.footage.puller import Puller
from edge_agent.station.footage.requests import ask_event
from edge_agent.station.store.engine import connect
from edge_agent.station.store.pictures import PictureStore
from tests.station.factory import event
from tests.station.test_footage_pull import T0, Pole, feed, setup


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    e = connect(f"sqlite:///{tmp_path / 'station.db'}")
    yield e
    e.dispose()


@pytest.fixture
def bag(engine: Engine, tmp_path: Path) -> Path:
    pole, archive, files = setup(engine, tmp_path, n=6)
    start = T0 + timedelta(seconds=6)
    feed(archive, [event("pole17", 1, n=1, start=start), event("pole17", 2, n=1, type="end", start=start)])
    with engine.begin() as conn:
        ask_event(conn, "pole17", "pole17-cam0-000001", "officer-an", 5, 5)
    Puller(engine, pole.send).run_once(now=2_000)
    feed(archive, pole.answer(pole.asked[0]), at=3_000)
    open_case(engine, "case-17", "motorbike theft", "officer-an")
    add_events(engine, "case-17", [("pole17", "pole17-cam0-000001")], "officer-an")
    out = export_case(
        engine, PictureStore(tmp_path / "pics"), tmp_path / "station.pem", "ward7", "case-17",
        tmp_path / "bag", "officer-an", footage=files,
    )  # fmt: skip
    bag.pole = pole  # type: ignore[attr-defined]
    return out


def trusted(tmp_path: Path) -> bytes:
    return public_key_pem(load_or_create_key(tmp_path / "station.pem"))


def chain_dir(bag: Path) -> Path:
    (folder,) = (bag / "data" / "footage" / "pole17" / "cam0").iterdir()
    return folder


def test_the_bag_carries_the_clip_and_verify_says_what_it_proves(bag: Path, tmp_path: Path) -> None:
    report = verify_bag(bag, trusted(tmp_path))
    assert report.ok, report.messages
    (line,) = report.clips
    assert "clip 1 (pole17/pole17-cam0-000001): 4 of 4 segments, bytes as the pole recorded" in line
    assert "from record 0 to 3" in line and "synchronised (NTP)" in line
    folder = chain_dir(bag)
    assert len(list((folder / "segments").iterdir())) == 4
    heads = [parse_head(x) for x in (folder / "heads.jsonl").read_bytes().splitlines()]
    assert heads[-1].index >= 3, "a signed head covers the clip's last record"


def forged(bag: Path, tmp_path: Path, change: object) -> list[str]:
    """Tamper with a copy of the bag; what verify says about its footage."""
    copy = tmp_path / f"copy-{len(list(tmp_path.glob('copy-*')))}"
    shutil.copytree(bag, copy)
    change(chain_dir(copy))  # type: ignore[operator]
    report = verify_bag(copy, trusted(tmp_path))
    assert not report.ok
    return [m for m in report.messages if m.startswith("footage")] + report.messages


def test_a_flipped_byte_is_named(bag: Path, tmp_path: Path) -> None:
    def flip(folder: Path) -> None:
        seg = sorted((folder / "segments").iterdir())[1]
        data = bytearray(seg.read_bytes())
        data[1000] ^= 0x40
        seg.write_bytes(bytes(data))

    said = " | ".join(forged(bag, tmp_path, flip))
    assert "segments/000000000001.mp4 was altered after export" in said
    assert "segment cam0-00000101.mp4's bytes are not the ones the pole recorded" in said


def test_a_removed_segment_and_a_removed_record_are_named(bag: Path, tmp_path: Path) -> None:
    said = " | ".join(forged(bag, tmp_path, lambda f: sorted((f / "segments").iterdir())[2].unlink()))
    assert "clip 1 (pole17/pole17-cam0-000001): segment 2 (cam0-00000102.mp4) is missing" in said

    def drop_record(folder: Path) -> None:
        lines = (folder / "records.jsonl").read_bytes().splitlines(keepends=True)
        (folder / "records.jsonl").write_bytes(b"".join(lines[:1] + lines[2:]))

    said = " | ".join(forged(bag, tmp_path, drop_record))
    assert "record 1 is missing: the chain jumps from 0 to 2" in said


def test_a_segment_of_another_pole_is_named(bag: Path, tmp_path: Path) -> None:
    other = Pole(tmp_path / "pole18", 3)

    def swap(folder: Path) -> None:
        seg = sorted((folder / "segments").iterdir())[0]
        shutil.copy(other.folder / "cam0-00000100.mp4", seg)

    said = " | ".join(forged(bag, tmp_path, swap))
    assert "segment cam0-00000100.mp4's bytes are not the ones the pole recorded" in said


def test_a_re_signed_chain_is_named(bag: Path, tmp_path: Path) -> None:
    thief = PoleKey.load_or_create(tmp_path / "thief")

    def resign(folder: Path) -> None:
        lines = []
        for raw in (folder / "heads.jsonl").read_bytes().splitlines():
            h = json.loads(raw)
            sig = thief.sign(head_message(h["device"], h["camera"], h["chain"], h["index"], h["head"]))
            h["signature"], h["key"] = base64.b64encode(sig).decode(), thief.fingerprint
            lines.append(json.dumps(h).encode())
        (folder / "heads.jsonl").write_bytes(b"\n".join(lines) + b"\n")

    said = " | ".join(forged(bag, tmp_path, resign))
    assert "is not signed by the pole's key" in said and "the chain was re-signed or altered" in said
