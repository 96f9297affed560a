"""A case exported as a signed BagIt bag from real pictures, and every tampering named by `verify_bag`."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import bagit
import pytest

from edge_agent.station.evidence.bag import (
    CaseInfo,
    EvidenceFile,
    OutputFolderError,
    UnsafePathError,
    verify_bag,
    write_bag,
)
from edge_agent.station.evidence.signing import load_or_create_key, public_key_pem
from tests.conftest import shared

EVENT = "data/events/pole17/42.json"
BUS = "data/thumbnails/pole17/42-1.jpg"
CASE = CaseInfo(
    name="2026-117 motorcycle theft",
    reason="Theft reported at Pole 17,\nbetween 21:00 and 21:30",
    opened_by="si.rao",
    opened_at="2026-11-23T08:15:00Z",
    station_id="ward12",
    exported_by="si.rao",
)
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def evidence_files() -> list[EvidenceFile]:
    """An event as received, two thumbnail versions and a snapshot: real JPEGs from the test data."""
    bus = shared("stills/bus.jpg").read_bytes()
    zidane = shared("stills/zidane.jpg").read_bytes()
    event = {
        "device": "pole17",
        "seq": 42,
        "label": "person",
        "thumbnail_sha256": hashlib.sha256(bus).hexdigest(),
    }
    return [
        EvidenceFile("events/pole17/42.json", json.dumps(event).encode()),
        EvidenceFile("thumbnails/pole17/42-1.jpg", bus),
        EvidenceFile("thumbnails/pole17/42-2.jpg", zidane),
        EvidenceFile("snapshots/pole17/2026-11-22T21-05-00Z.jpg", zidane),
        EvidenceFile("clock/pole17.json", b'{"synced": false}'),
    ]


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory):
    """The station's key and one bag written with it, shared by the tests (each gets a copy)."""
    root = tmp_path_factory.mktemp("station")
    key = load_or_create_key(root / "keys" / "station.pem")
    return key, write_bag(root / "case-2026-117", CASE, evidence_files(), key, now=NOW)


@pytest.fixture
def key(station):
    return station[0]


@pytest.fixture
def bag(tmp_path: Path, station) -> Path:
    return Path(shutil.copytree(station[1], tmp_path / "case-2026-117"))


def test_bag_of_real_pictures_verifies(bag: Path, key) -> None:
    report = verify_bag(bag, public_key_pem(key))
    assert report.ok and report.signature_ok and report.key_matches is True
    assert report.messages == [] and report.altered == report.added == report.removed == []
    assert report.info["Case-Name"] == "2026-117 motorcycle theft"
    assert report.info["Case-Reason"] == "Theft reported at Pole 17, between 21:00 and 21:30"
    assert report.info["Station-Id"] == "ward12"
    assert report.info["Bagging-Date"] == "2026-11-23"
    assert report.info["Exported-At"] == "2026-11-23T09:00:00Z"
    assert report.info["Payload-Oxum"] == f"{sum(len(f.data) for f in evidence_files())}.5"
    assert json.loads((bag / "case.json").read_text())["reason"] == CASE.reason  # kept exactly
    assert (bag / BUS).read_bytes() == shared("stills/bus.jpg").read_bytes()


def test_without_a_trusted_key_a_note_says_what_is_not_proven(bag: Path) -> None:
    report = verify_bag(bag)
    assert report.ok and report.key_matches is None
    assert any("station's own public key" in note for note in report.notes)


def test_the_bagit_reference_library_accepts_the_bag(bag: Path) -> None:
    reference = bagit.Bag(str(bag))
    assert reference.validate()
    assert reference.version_info == (1, 0)
    assert reference.info["Case-Name"] == CASE.name


@pytest.mark.skipif(shutil.which("openssl") is None or shutil.which("sha256sum") is None, reason="no openssl")
def test_a_stranger_can_verify_with_openssl_and_sha256sum(bag: Path) -> None:
    for command in (
        "openssl pkeyutl -verify -pubin -inkey station-public-key.pem -rawin "
        "-in tagmanifest-sha256.txt -sigfile tagmanifest-sha256.txt.sig",
        "sha256sum -c tagmanifest-sha256.txt",
        "sha256sum -c manifest-sha256.txt",
    ):
        subprocess.run(command.split(), cwd=bag, check=True, capture_output=True)


@pytest.mark.parametrize("target", [EVENT, BUS, "data/clock/pole17.json"])
def test_a_flipped_byte_in_any_payload_file_is_named(bag: Path, key, target: str) -> None:
    data = bytearray((bag / target).read_bytes())
    data[len(data) // 2] ^= 0x01
    (bag / target).write_bytes(bytes(data))
    report = verify_bag(bag, public_key_pem(key))
    assert not report.ok
    assert report.altered == [target] and report.added == report.removed == []
    assert report.messages == [f"{target} was altered after export"]
    assert report.signature_ok  # the manifests themselves are untouched


def test_a_removed_file_is_named(bag: Path) -> None:
    (bag / BUS).unlink()
    report = verify_bag(bag)
    assert not report.ok and report.removed == [BUS] and report.altered == report.added == []
    assert report.messages == [f"{BUS} was removed after export"]


def test_an_added_file_is_named(bag: Path) -> None:
    (bag / "data/thumbnails/pole17/43-1.jpg").write_bytes(b"\xff\xd8 not from the pole")
    (bag / "readme.txt").write_text("added at the top")
    report = verify_bag(bag)
    assert not report.ok and report.altered == report.removed == []
    assert sorted(report.added) == ["data/thumbnails/pole17/43-1.jpg", "readme.txt"]
    assert "data/thumbnails/pole17/43-1.jpg was added after export" in report.messages


def test_an_altered_manifest_is_named(bag: Path) -> None:
    # Cover a changed picture by writing its new hash into the manifest: the tag manifest notices.
    (bag / BUS).write_bytes(b"another picture")
    manifest = bag / "manifest-sha256.txt"
    old = hashlib.sha256(shared("stills/bus.jpg").read_bytes()).hexdigest()
    manifest.write_text(manifest.read_text().replace(old, hashlib.sha256(b"another picture").hexdigest()))
    report = verify_bag(bag)
    assert report.altered == ["manifest-sha256.txt"]
    assert report.messages == ["manifest-sha256.txt was altered after export"]
    assert not report.ok


def test_an_altered_bag_info_is_named(bag: Path) -> None:
    info = bag / "bag-info.txt"
    info.write_text(info.read_text().replace("Exported-By: si.rao", "Exported-By: someone.else"))
    report = verify_bag(bag)
    assert report.altered == ["bag-info.txt"] and report.messages == ["bag-info.txt was altered after export"]


def test_rewritten_manifests_break_the_signature(bag: Path) -> None:
    (bag / BUS).write_bytes(b"another picture")
    _rehash(bag)
    report = verify_bag(bag)
    assert not report.ok and not report.signature_ok
    assert report.altered == report.added == report.removed == []
    assert report.messages == [
        "the signature does not match tagmanifest-sha256.txt: the manifests changed after signing"
    ]


def test_a_replaced_key_and_signature_show_only_against_the_trusted_key(
    bag: Path, key, tmp_path: Path
) -> None:
    forger = load_or_create_key(tmp_path / "forger.pem")
    (bag / BUS).write_bytes(b"another picture")
    (bag / "station-public-key.pem").write_bytes(public_key_pem(forger))
    _rehash(bag)
    (bag / "tagmanifest-sha256.txt.sig").write_bytes(
        forger.sign((bag / "tagmanifest-sha256.txt").read_bytes())
    )

    alone = verify_bag(bag)  # the bag is consistent in itself: only a trusted key can tell
    assert alone.ok and alone.signature_ok and alone.key_matches is None

    checked = verify_bag(bag, public_key_pem(key))
    assert not checked.ok and checked.signature_ok and checked.key_matches is False
    assert len(checked.messages) == 1
    assert "its key and signature were replaced" in checked.messages[0]


def test_a_forger_who_forgets_the_payload_oxum_is_caught_even_without_a_trusted_key(
    bag: Path, tmp_path: Path
) -> None:
    forger = load_or_create_key(tmp_path / "forger.pem")
    info = (bag / "bag-info.txt").read_text()
    (bag / BUS).write_bytes(b"another picture")
    (bag / "station-public-key.pem").write_bytes(public_key_pem(forger))
    _rehash(bag)
    (bag / "bag-info.txt").write_text(info)  # the old Payload-Oxum back
    _rehash(bag, keep_oxum=True)
    (bag / "tagmanifest-sha256.txt.sig").write_bytes(
        forger.sign((bag / "tagmanifest-sha256.txt").read_bytes())
    )
    report = verify_bag(bag)
    assert not report.ok and report.signature_ok
    assert len(report.messages) == 1 and "Payload-Oxum says 5 files of" in report.messages[0]


def test_case_fields_must_be_text(tmp_path: Path, key) -> None:
    with pytest.raises(TypeError, match="case fields must be text"):
        write_bag(tmp_path / "bag", CaseInfo("n", None, "a", "t", "s", "e"), [], key)  # type: ignore[arg-type]
    assert not (tmp_path / "bag").exists()


def test_a_removed_manifest_is_named_once(bag: Path) -> None:
    (bag / "manifest-sha256.txt").unlink()
    report = verify_bag(bag)
    assert report.removed == ["manifest-sha256.txt"] and report.added == []
    assert report.messages == [
        "manifest-sha256.txt was removed after export",
        "the files under data/ cannot be checked without manifest-sha256.txt",
    ]


def test_a_missing_or_wrong_signature_is_named(bag: Path) -> None:
    (bag / "tagmanifest-sha256.txt.sig").unlink()
    report = verify_bag(bag)
    assert not report.ok and not report.signature_ok
    assert report.removed == ["tagmanifest-sha256.txt.sig"]
    (bag / "tagmanifest-sha256.txt.sig").write_bytes(b"\x00" * 64)
    assert verify_bag(bag).messages == [
        "the signature does not match tagmanifest-sha256.txt: the manifests changed after signing"
    ]


def test_a_payload_file_replaced_by_a_link_is_named_and_not_followed(bag: Path) -> None:
    (bag / BUS).unlink()
    os.symlink("/dev/zero", bag / BUS)  # following it would never end
    report = verify_bag(bag)
    assert report.altered == [BUS]
    assert report.messages == [f"{BUS} was altered after export (it is now a link)"]


@pytest.mark.parametrize("shape", ["empty folder", "file", "missing", "folder of pictures"])
def test_something_that_is_not_a_bag_is_named(tmp_path: Path, shape: str) -> None:
    path = tmp_path / "thing"
    if shape == "empty folder":
        path.mkdir()
    elif shape == "file":
        path.write_bytes(shared("stills/bus.jpg").read_bytes())
    elif shape == "folder of pictures":
        path.mkdir()
        shutil.copy(shared("stills/zidane.jpg"), path / "zidane.jpg")
    report = verify_bag(path)
    assert not report.ok and not report.signature_ok
    assert len(report.messages) == 1
    assert (
        "not a BagIt bag" in report.messages[0]
        or "does not exist" in report.messages[0]
        or ("is a file, not a bag" in report.messages[0])
    )


def test_a_bad_trusted_key_is_the_callers_error(bag: Path) -> None:
    with pytest.raises(ValueError, match="trusted station key given is unusable"):
        verify_bag(bag, b"not a key")


@pytest.mark.parametrize(
    ("path", "cause"),
    [
        ("../outside.json", "'..' part"),
        ("events/../../outside.json", "'..' part"),
        ("/etc/passwd", "absolute"),
        ("events\\pole17\\42.json", "backslash"),
        ("events/42\x00.json", "NUL"),
        ("events/42\n.json", "control character"),
        ("events//42.json", "empty part"),
        ("events/42.json/", "empty part"),
        ("./42.json", "'.' part"),
        ("", "empty"),
        ("100%.jpg", "%"),
        ("x" * 256, "longer than 255 bytes"),
    ],
)
def test_paths_escaping_data_are_refused_before_anything_is_written(
    tmp_path: Path, key, path: str, cause: str
) -> None:
    out = tmp_path / "bag"
    with pytest.raises(UnsafePathError, match=re.escape(cause)):
        write_bag(out, CASE, [EvidenceFile("ok.json", b"{}"), EvidenceFile(path, b"x")], key)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_the_same_path_twice_or_a_file_that_is_also_a_folder_is_refused(tmp_path: Path, key) -> None:
    with pytest.raises(UnsafePathError, match="given twice"):
        write_bag(tmp_path / "a", CASE, [EvidenceFile("é.jpg", b"1"), EvidenceFile("e\u0301.jpg", b"2")], key)
    with pytest.raises(UnsafePathError, match="both a file and a folder"):
        write_bag(
            tmp_path / "b", CASE, [EvidenceFile("events/42", b"1"), EvidenceFile("events/42/x", b"2")], key
        )


def test_the_output_folder_must_be_new_or_empty(tmp_path: Path, key) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "other.txt").write_text("keep me")
    with pytest.raises(OutputFolderError, match="is not empty"):
        write_bag(busy, CASE, [EvidenceFile("a.json", b"{}")], key)
    assert [p.name for p in busy.iterdir()] == ["other.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputFolderError, match="not a folder"):
        write_bag(tmp_path / "file", CASE, [], key)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert verify_bag(write_bag(empty, CASE, [], key)).ok  # an empty case is still a valid bag
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy", "empty", "file"]  # no leftovers


def _rehash(bag: Path, *, keep_oxum: bool = False) -> None:
    """What a forger does: recompute both manifests (and Payload-Oxum) after changing the payload."""
    lines = []
    for file in sorted((bag / "data").rglob("*")):
        if file.is_file():
            lines.append(
                f"{hashlib.sha256(file.read_bytes()).hexdigest()}  {file.relative_to(bag).as_posix()}\n"
            )
    (bag / "manifest-sha256.txt").write_text("".join(lines))
    sizes = [f.stat().st_size for f in (bag / "data").rglob("*") if f.is_file()]
    info = bag / "bag-info.txt"
    oxum = next(line for line in info.read_text().splitlines() if line.startswith("Payload-Oxum"))
    if not keep_oxum:
        info.write_text(info.read_text().replace(oxum, f"Payload-Oxum: {sum(sizes)}.{len(sizes)}"))
    tags = ["bag-info.txt", "bagit.txt", "case.json", "manifest-sha256.txt", "station-public-key.pem"]
    (bag / "tagmanifest-sha256.txt").write_text(
        "".join(f"{hashlib.sha256((bag / t).read_bytes()).hexdigest()}  {t}\n" for t in tags)
    )


def test_odd_file_names_are_shown_escaped(bag: Path) -> None:
    (bag / "data" / "new\nline.jpg").write_bytes(b"x")
    os.close(os.open(os.fsencode(bag / "data") + b"/\xff.jpg", os.O_CREAT | os.O_WRONLY, 0o644))
    report = verify_bag(bag)
    assert sorted(report.added) == ["data/\\xff.jpg", "data/new\\nline.jpg"]
    assert all("\n" not in m for m in report.messages)
