"""A bag's footage checked on its own: the bytes are the pole's, the chain unbroken, signed by the pole.

For each `data/footage/<pole>/<camera>/<chain>/` folder (see `footage_bag`): every line of
`records.jsonl` is a record of that pole, camera and chain, and together they link without a hole
(`check_chain`); the last signed head in `heads.jsonl` names the last record and is signed by the
key in `<pole>/pole-key.json` (so the pole's signature covers every record linked before it);
every `segments/<index>.mp4` hashes to the sha256 its record names; every segment `clips.json`
says was verified is there. What fails is a sentence naming it; what holds is said per clip in a
sentence too, with which clock its times come from. Only files the bag's own walk found as
regular files are opened (the caller passes them), never a path a file names.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_agent.contract.footage import (
    FootageError,
    SegmentRecord,
    check_chain,
    check_head,
    check_segment,
    file_sha256,
    key_fingerprint,
    parse_head,
    parse_record,
    public_key_from,
)

FOLDER = re.compile(r"^data/footage/([a-z0-9_-]{1,64})/([a-z0-9_-]{1,64})/([0-9a-f]{16})/")
SEGMENT = re.compile(r"^segments/(\d{12})\.mp4$")
MAX_JSON = 64 * 1024 * 1024


@dataclass
class FootageReport:
    problems: list[str] = field(default_factory=list)
    clips: list[str] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)  # pole -> fingerprint of the key in the bag


def _read(root: Path, relative: str) -> bytes:
    fd = os.open(root / relative, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(0, "not a regular file")
        return os.read(fd, MAX_JSON + 1)
    finally:
        os.close(fd)


def check_footage(root: Path, files: set[str]) -> FootageReport:
    """Check `root`'s footage; `files` are the bag's regular files (relative paths)."""
    report = FootageReport()
    if "data/footage/clips.json" not in files:
        return report
    chains: dict[tuple[str, str, str], set[str]] = {}
    for path in files:
        m = FOLDER.match(path)
        if m:
            chains.setdefault((m[1], m[2], m[3]), set()).add(path[m.end() :])
    verified: dict[tuple[str, str, str], dict[int, SegmentRecord]] = {}
    for (device, camera, chain), names in sorted(chains.items()):
        verified[(device, camera, chain)] = _check_chain(root, files, device, camera, chain, names, report)
    _check_clips(root, verified, report)
    return report


def _check_chain(
    root: Path, files: set[str], device: str, camera: str, chain: str, names: set[str], report: FootageReport
) -> dict[int, SegmentRecord]:
    base = f"data/footage/{device}/{camera}/{chain}"
    where = f"footage of {device}/{camera} (chain {chain})"
    say: Callable[[str], None] = lambda text: report.problems.append(f"{where}: {text}")  # noqa: E731
    records = _lines(root, f"{base}/records.jsonl", names, parse_record, say)
    heads = _lines(root, f"{base}/heads.jsonl", names, parse_head, say)
    for r in records:
        if (r.device, r.camera, r.chain) != (device, camera, chain):
            say(f"record {r.index} is of {r.device}/{r.camera} chain {r.chain}: it was put in from elsewhere")
    for problem in check_chain(records, device, camera):
        say(problem)
    by_index = {r.index: r for r in records}
    key = _pole_key(root, files, device, say)
    if key is not None:
        report.keys[device] = key_fingerprint(key)
    if records and key is not None:
        last = records[-1].index
        covering = [h for h in heads if h.index == last]
        if not covering:
            say(
                f"no head signed by the pole names record {last}, the last one: the pole's signature "
                "does not cover these records"
            )
        for h in heads:
            for problem in check_head(h, key, by_index.get(h.index)):
                say(problem)
    good: dict[int, SegmentRecord] = {}
    for name in sorted(names):
        m = SEGMENT.match(name)
        if not m:
            continue
        index = int(m[1])
        record = by_index.get(index)
        if record is None:
            say(f"{name} has no record in the chain: it is not this camera's footage")
            continue
        try:
            problems = check_segment(
                record, file_sha256(root / base / name), (root / base / name).stat().st_size
            )
        except OSError as exc:
            problems = [f"{name} cannot be read: {exc.strerror or exc}"]
        for problem in problems:
            say(problem)
        if not problems:
            good[index] = record
    return good


def _lines(
    root: Path, relative: str, names: set[str], parse: Callable[[bytes], Any], say: Callable[[str], None]
) -> list[Any]:
    name = relative.rsplit("/", 1)[-1]
    if name not in names:
        say(f"{name} is missing from the bag")
        return []
    try:
        data = _read(root, relative)
    except OSError as exc:
        say(f"{name} cannot be read: {exc.strerror or exc}")
        return []
    out = []
    for number, line in enumerate(data.split(b"\n"), 1):
        if line.strip():
            try:
                out.append(parse(line))
            except FootageError as exc:
                say(f"{name} line {number}: {exc}")
    return out


def _pole_key(root: Path, files: set[str], device: str, say: Callable[[str], None]) -> bytes | None:
    relative = f"data/footage/{device}/pole-key.json"
    if relative not in files:
        say("pole-key.json is missing: the pole's signature cannot be checked")
        return None
    try:
        body = json.loads(_read(root, relative))
        return public_key_from(body["public_key"])
    except (OSError, ValueError, KeyError, TypeError, FootageError) as exc:
        say(
            f"pole-key.json holds no usable key ({type(exc).__name__}): "
            "the pole's signature cannot be checked"
        )
        return None


def _check_clips(
    root: Path, verified: dict[tuple[str, str, str], dict[int, SegmentRecord]], report: FootageReport
) -> None:
    try:
        clips = json.loads(_read(root, "data/footage/clips.json"))
        assert isinstance(clips, list)
    except (OSError, ValueError, AssertionError):
        report.problems.append("footage/clips.json is not the list of clips the export wrote")
        return
    for clip in clips:
        try:
            device, camera, cid = str(clip["device"]), str(clip["camera"]), int(clip["id"])
            listed = [
                (str(s["chain"]), int(s["index"]), str(s["name"]), str(s["state"]))
                for s in clip["segment_list"]
            ]
        except (KeyError, TypeError, ValueError):
            report.problems.append("footage/clips.json: a clip entry is not as the export wrote it")
            continue
        what = f"clip {cid} ({device}/{clip.get('event_id') or camera})"
        present: list[SegmentRecord] = []
        for chain, index, name, state in listed:
            if state != "verified":
                continue
            record = verified.get((device, camera, chain), {}).get(index)
            if record is None:
                report.problems.append(
                    f"{what}: segment {index} ({name}) is missing or not as the pole recorded it"
                )
            else:
                present.append(record)
        if not present:
            report.clips.append(
                f"{what}: no footage in the bag ({clip.get('state')}: {clip.get('detail', '')})"
            )
            continue
        unsynced = [r.index for r in present if not r.clock_synced]
        clock = (
            "times from the pole's clock, synchronised (NTP)"
            if not unsynced
            else f"times from the pole's clock, NOT synchronised for segments {unsynced[:5]}"
        )
        report.clips.append(
            f"{what}: {len(present)} of {len(listed)} segments, bytes as the pole recorded, "
            f"chain {present[0].chain} from record {present[0].index} to {present[-1].index}, "
            f"signed by pole key {report.keys.get(device, '?')}; {clock}"
        )
