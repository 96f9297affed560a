"""Hostile bags: random corruptions of a real bag, and folders that only look like bags, always give
a report (never an exception, never a hang), and any change at all makes the report not ok."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent.station.evidence.bag import BagReport, CaseInfo, EvidenceFile, verify_bag, write_bag
from edge_agent.station.evidence.signing import load_or_create_key, public_key_pem
from tests.conftest import shared

CASE = CaseInfo("2026-117", "theft", "si.rao", "2026-11-23T08:15:00Z", "ward12", "si.rao")
TAG_FILES = [
    "bagit.txt",
    "bag-info.txt",
    "case.json",
    "manifest-sha256.txt",
    "tagmanifest-sha256.txt",
    "tagmanifest-sha256.txt.sig",
    "station-public-key.pem",
]
NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=12).filter(
    lambda n: n not in (".", "..")
)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """A real bag: an event and two real JPEG thumbnails, signed by a station key."""
    root = tmp_path_factory.mktemp("fuzz")
    key = load_or_create_key(root / "station.pem")
    files = [
        EvidenceFile("events/pole17/42.json", b'{"device": "pole17", "seq": 42}'),
        EvidenceFile("thumbnails/pole17/42-1.jpg", shared("stills/bus.jpg").read_bytes()),
        EvidenceFile("thumbnails/pole17/42-2.jpg", shared("stills/zidane.jpg").read_bytes()),
    ]
    return write_bag(root / "bag", CASE, files, key), public_key_pem(key)


def snapshot(root: Path) -> dict[str, object]:
    """Every file and link under `root` with what it holds (folders themselves do not count)."""
    state: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            path = Path(dirpath, name)
            relative = path.relative_to(root).as_posix()
            if path.is_symlink():
                state[relative] = ("link", os.readlink(path))
            elif path.is_file():
                state[relative] = path.read_bytes()
            else:
                state[relative] = "special"
    return state


@st.composite
def corruption(draw: st.DrawFn) -> tuple:
    kind = draw(
        st.sampled_from(
            ["flip", "truncate", "append", "delete", "add", "link", "folder", "fifo", "garbage", "manifest"]
        )
    )
    target = draw(st.integers(min_value=0, max_value=100))
    if kind == "flip":
        return kind, target, draw(st.integers(min_value=0)), draw(st.integers(min_value=1, max_value=255))
    if kind in ("truncate", "append", "garbage"):
        return kind, target, draw(st.binary(max_size=64))
    if kind == "add":
        folder = draw(st.sampled_from(["", "data", "data/events/pole17", "data/new", "extra"]))
        return kind, folder, draw(NAME), draw(st.binary(max_size=64))
    if kind == "link":
        return kind, target, draw(st.sampled_from(["/dev/zero", "outside", "..", "loop", "data"]))
    if kind == "manifest":
        lines = draw(
            st.lists(
                st.tuples(
                    st.text(alphabet="0123456789abcdefABCDEFxyz", min_size=0, max_size=66),
                    st.lists(
                        st.sampled_from(["data/", "../", "/", "%0A", "%25", "*", " ", "\t", "a", "é"]),
                        max_size=8,
                    ).map("".join),
                ),
                max_size=6,
            )
        )
        return kind, draw(st.sampled_from(["manifest-sha256.txt", "tagmanifest-sha256.txt"])), lines
    return kind, target


def apply(bag: Path, change: tuple) -> None:
    files = sorted(p for p in bag.rglob("*") if p.is_file() and not p.is_symlink())
    kind = change[0]
    if kind == "add":
        _, folder, name, data = change
        (bag / folder).mkdir(parents=True, exist_ok=True)
        _write_plain(bag / folder / name, data)
        return
    if kind == "manifest":
        _, name, lines = change
        _write_plain(bag / name, "".join(f"{h}  {p}\n" for h, p in lines).encode())
        return
    if not files:
        return
    path = files[change[1] % len(files)]
    if kind == "flip":
        data = bytearray(path.read_bytes())
        if data:
            data[change[2] % len(data)] ^= change[3]
            path.write_bytes(bytes(data))
    elif kind == "truncate":
        path.write_bytes(path.read_bytes()[: len(change[2])])
    elif kind == "append":
        with path.open("ab") as out:
            out.write(change[2])
    elif kind == "garbage":
        path.write_bytes(change[2])
    elif kind == "delete":
        path.unlink()
    elif kind == "link":
        path.unlink()
        target = {"loop": path.name, "outside": str(bag.parent / "outside.txt")}.get(change[2], change[2])
        os.symlink(target, path)
    elif kind == "folder":
        path.unlink()
        path.mkdir()
        (path / "inside").write_bytes(b"x")
    elif kind == "fifo":
        path.unlink()
        os.mkfifo(path)


def _write_plain(target: Path, data: bytes) -> None:
    """Write `target` unless an earlier change made it a link, folder or pipe (never write through)."""
    if target.is_symlink() or (target.exists() and not target.is_file()):
        return
    target.write_bytes(data)


def check_report(report: BagReport) -> None:
    assert isinstance(report, BagReport)
    for sentence in report.messages + report.altered + report.added + report.removed:
        assert isinstance(sentence, str) and sentence and "\n" not in sentence
    assert report.ok == (not report.messages and report.signature_ok and report.key_matches is not False)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.lists(corruption(), min_size=1, max_size=3))
def test_corrupted_bags_give_a_report_and_never_pass(pristine: tuple[Path, bytes], changes: list) -> None:
    source, trusted = pristine
    with tempfile.TemporaryDirectory() as scratch:
        bag = Path(scratch) / "bag"
        shutil.copytree(source, bag, symlinks=True)
        (Path(scratch) / "outside.txt").write_bytes(b"a file beside the bag")
        before = snapshot(bag)
        for change in changes:
            apply(bag, change)
        report = verify_bag(bag, trusted)
        check_report(report)
        assert report.ok == (snapshot(bag) == before), (changes, report.messages)


@settings(max_examples=40, deadline=None)
@given(
    contents=st.dictionaries(
        st.sampled_from([*TAG_FILES, "data/a.jpg", "data/x/y.json", "fetch.txt", "data"]),
        st.one_of(
            st.binary(max_size=200),
            st.sampled_from(
                [
                    b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
                    b"BagIt-Version: 9\nTag-File-Character-Encoding: klingon\n",
                    b"\xef\xbb\xbfBagIt-Version: 0.97\n",
                    b"Payload-Oxum: 1.1\nPayload-Oxum: x.y\n  folded\n",
                    ("0" * 64 + "  ../../etc/passwd\n" + "0" * 64 + "  data/%0A\n").encode(),
                    b"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n",
                    b"\x00" * 64,
                ]
            ),
        ),
        max_size=8,
    )
)
def test_folders_that_only_look_like_bags_give_a_report(contents: dict[str, bytes]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "thing"
        folder.mkdir()
        for name, data in contents.items():
            path = folder / name
            with contextlib.suppress(OSError):  # "data" as a file and "data/a.jpg": the first one wins
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        report = verify_bag(folder)
        check_report(report)
        assert not report.ok  # nothing here is signed by anyone


def test_a_corrupted_manifest_with_hostile_paths_is_named(
    pristine: tuple[Path, bytes], tmp_path: Path
) -> None:
    source, trusted = pristine
    bag = tmp_path / "bag"
    shutil.copytree(source, bag)
    digest = hashlib.sha256(b"x").hexdigest()
    (bag / "manifest-sha256.txt").write_text(f"{digest}  ../../etc/passwd\nnot a line\n")
    report = verify_bag(bag, trusted)
    assert not report.ok
    assert "manifest-sha256.txt names a path outside the bag, ../../etc/passwd" in report.messages
    assert "line 2 of manifest-sha256.txt is not a checksum and a file name" in report.messages
    assert report.altered == ["manifest-sha256.txt"]
    assert sorted(report.added) == [
        "data/events/pole17/42.json",
        "data/thumbnails/pole17/42-1.jpg",
        "data/thumbnails/pole17/42-2.jpg",
    ]
