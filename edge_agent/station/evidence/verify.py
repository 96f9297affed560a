"""Verify an evidence bag: which file was altered, added or removed, and whether the signature holds.

The bag is treated as hostile: its folder is walked without following links, only regular files
found by that walk are ever opened (never a path a manifest names), tag files are read up to a
size cap, and any failure becomes a sentence in the report rather than an exception.

Layout and signature: see `edge_agent.station.evidence.bag`.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import bagit
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge_agent.station.evidence import layout
from edge_agent.station.evidence.footage_check import check_footage
from edge_agent.station.evidence.signing import fingerprint, load_public_key, public_key_pem

__all__ = ["BagReport", "verify_bag"]

_FILE, _LINK, _OTHER = "file", "link", "other"
_NOT_SIGNED = {layout.TAG_MANIFEST, layout.SIGNATURE}  # tag files the tag manifest cannot list


@dataclass
class BagReport:
    """What `verify_bag` found. `ok` is true only when `messages` is empty.

    `altered`, `added`, `removed`: paths relative to the bag (`data/events/pole17/42.json`,
    `bag-info.txt`), printable (odd bytes escaped). `signature_ok`: the signature in the bag holds
    for its tag manifest with the key in the bag. `key_matches`: that key is the trusted key given
    (None when none was given). `messages`: one plain sentence per problem. `notes`: sentences
    that are not problems (what a check without a trusted key cannot show).
    """

    ok: bool = False
    altered: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    signature_ok: bool = False
    key_matches: bool | None = None
    messages: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    info: dict[str, str] = field(default_factory=dict)
    key_fingerprint: str | None = None
    clips: list[str] = field(default_factory=list)  # per clip: what its footage proves


def verify_bag(path: Path, public_key_pem: bytes | None = None) -> BagReport:
    """Check the bag at `path` against its manifests and signature, and its key against a trusted one.

    Never raises on what the bag holds. `public_key_pem` is the station's public key from a
    trusted place (not from the bag): without it, a bag whose key and signature were both replaced
    still verifies, and a note says so. A `public_key_pem` that is not an Ed25519 public key PEM
    is the caller's mistake and raises `ValueError`.
    """
    trusted = None
    if public_key_pem is not None:
        try:
            trusted = load_public_key(public_key_pem)
        except ValueError as error:
            raise ValueError(f"the trusted station key given is unusable: {error}") from None
    report = BagReport(key_matches=None if trusted is None else False)
    try:
        _verify(Path(path), trusted, report)
    except Exception as error:  # a last resort: the checks above are meant to leave nothing here
        report.messages.append(
            f"the bag could not be checked to the end ({type(error).__name__}: {_sentence(error)})"
        )
    report.ok = not (report.messages or report.altered or report.added or report.removed)
    report.ok = report.ok and report.signature_ok and report.key_matches is not False
    return report


def _verify(root: Path, trusted: Ed25519PublicKey | None, report: BagReport) -> None:
    shown = layout.display(str(root))
    if not root.exists():
        report.messages.append(f"{shown} does not exist: give the folder that the export wrote")
        return
    if not root.is_dir():
        report.messages.append(
            f"{shown} is a file, not a bag: a bag is a folder (unpack it first if archived)"
        )
        return
    found = _walk(root, report)
    if not {layout.BAGIT_TXT, layout.MANIFEST, layout.TAG_MANIFEST} & found.keys():
        report.messages.append(
            f"{shown} is not a BagIt bag (no bagit.txt and no manifest): give the folder the export wrote"
        )
        return

    tag_bytes = _read_tag(root, found, layout.TAG_MANIFEST, report, unlisted=True)
    tag_entries = _parse(tag_bytes, layout.TAG_MANIFEST, report)
    unlisted = tag_bytes is None  # without a tag manifest, a missing manifest is reported here
    manifest_bytes = _read_tag(root, found, layout.MANIFEST, report, unlisted=unlisted)
    payload_entries = _parse(manifest_bytes, layout.MANIFEST, report)

    for name, entries, inside in (
        (layout.TAG_MANIFEST, tag_entries, False),
        (layout.MANIFEST, payload_entries, True),
    ):
        for entry in list(entries):
            if entry.startswith(f"{layout.PAYLOAD_DIR}/") != inside or not _plain(entry):
                where = "a path outside the bag" if not _plain(entry) else "a file in the wrong manifest"
                report.messages.append(f"{name} names {where}, {layout.display(entry)}")
                del entries[entry]

    on_disk_tags = {p: k for p, k in found.items() if not p.startswith(f"{layout.PAYLOAD_DIR}/")}
    for name in _NOT_SIGNED:
        on_disk_tags.pop(name, None)
    on_disk_payload = {p: k for p, k in found.items() if p.startswith(f"{layout.PAYLOAD_DIR}/")}
    # Without a manifest every file it should cover would show as added: say it once instead.
    if tag_bytes is not None:
        _compare(root, tag_entries, on_disk_tags, report)
    if manifest_bytes is not None:
        _compare(root, payload_entries, on_disk_payload, report)
    else:
        report.messages.append(f"the files under data/ cannot be checked without {layout.MANIFEST}")

    footage = check_footage(root, {p for p, k in found.items() if k == _FILE})
    report.messages.extend(footage.problems)
    report.clips = footage.clips
    report.info = _parse_info(_read_tag(root, found, layout.BAG_INFO, report, unlisted=False))
    _check_oxum(root, report, on_disk_payload)
    _check_signature(root, found, tag_bytes, trusted, report)
    if not (report.messages or report.altered or report.added or report.removed) and report.signature_ok:
        _reference_check(root, report)


def _walk(root: Path, report: BagReport) -> dict[str, str]:
    """Every entry under `root` that is not a folder, by relative path, as file, link or other."""
    found: dict[str, str] = {}
    stack = [""]
    while stack:
        prefix = stack.pop()
        try:
            with os.scandir(root / prefix if prefix else root) as entries:
                items = list(entries)
        except OSError as error:
            report.messages.append(
                f"the folder {layout.display(prefix or '.')} could not be read ({error.strerror})"
            )
            continue
        for entry in items:
            relative = f"{prefix}/{entry.name}" if prefix else entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(relative)
                elif entry.is_symlink():
                    found[relative] = _LINK
                elif entry.is_file(follow_symlinks=False):
                    found[relative] = _FILE
                else:
                    found[relative] = _OTHER
            except OSError:
                found[relative] = _OTHER
    return found


def _read_tag(
    root: Path, found: dict[str, str], name: str, report: BagReport, *, unlisted: bool
) -> bytes | None:
    """A tag file's bytes, or None. Only an `unlisted` file (the tag manifest, the signature) is
    reported here when missing or replaced: the tag manifest reports the others."""
    kind = found.get(name)
    if kind != _FILE:
        if unlisted:
            (report.removed if kind is None else report.altered).append(name)
            what = "removed" if kind is None else "altered (it is no longer a regular file)"
            report.messages.append(f"{name} was {what} after export")
        return None
    try:
        with open(_open_regular(root / name), "rb") as file:
            data = file.read(layout.MAX_TAG_FILE + 1)
    except OSError as error:
        report.messages.append(f"{name} could not be read ({error.strerror})")
        return None
    if len(data) > layout.MAX_TAG_FILE:
        report.messages.append(f"{name} is larger than any this station writes, so it was not read")
        return None
    return data


def _parse(data: bytes | None, name: str, report: BagReport) -> dict[str, str]:
    if data is None:
        return {}
    entries, problems = layout.parse_manifest(data, name)
    report.messages.extend(problems)
    return entries


def _plain(path: str) -> bool:
    parts = path.split("/")
    return "\x00" not in path and not path.startswith("/") and all(p not in ("", ".", "..") for p in parts)


def _compare(root: Path, expected: dict[str, str], on_disk: dict[str, str], report: BagReport) -> None:
    by_nfc = {layout.normalized(p): p for p in on_disk}
    matched: set[str] = set()
    for path in sorted(expected):
        actual = path if path in on_disk else by_nfc.get(layout.normalized(path))
        shown = layout.display(path)
        if actual is None:
            report.removed.append(shown)
            report.messages.append(f"{shown} was removed after export")
            continue
        matched.add(actual)
        if on_disk[actual] != _FILE:
            report.altered.append(shown)
            what = "a link" if on_disk[actual] == _LINK else "not a regular file"
            report.messages.append(f"{shown} was altered after export (it is now {what})")
            continue
        try:
            digest = _sha256(root / actual)
        except OSError as error:
            report.messages.append(f"{shown} could not be read to check it ({error.strerror})")
            continue
        if digest != expected[path]:
            report.altered.append(shown)
            report.messages.append(f"{shown} was altered after export")
    for path in sorted(set(on_disk) - matched):
        shown = layout.display(path)
        report.added.append(shown)
        report.messages.append(f"{shown} was added after export")


def _open_regular(path: Path) -> int:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(0, "not a regular file")
    return fd


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(_open_regular(path), "rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _parse_info(data: bytes | None) -> dict[str, str]:
    """bag-info.txt's `Label: value` lines (folded lines joined); the first of a repeated label."""
    info: dict[str, str] = {}
    if data is None:
        return info
    label = None
    for line in data.decode("utf-8", "replace").removeprefix("\ufeff").splitlines():
        if line[:1].isspace() and label is not None:
            info[label] = f"{info[label]} {line.strip()}".strip()
        elif ":" in line:
            name, value = line.split(":", 1)
            label = name.strip()
            info.setdefault(label, value.strip())
            if info[label] != value.strip():
                label = None  # a repeat: keep the first, ignore its folded lines
    return info


def _check_oxum(root: Path, report: BagReport, payload: dict[str, str]) -> None:
    oxum = report.info.get("Payload-Oxum", "")
    octets, _, count = oxum.partition(".")
    if not (octets.isdigit() and count.isdigit()) or report.altered or report.added or report.removed:
        return  # those are named already; a count that disagrees would only repeat them
    sizes = []
    for path, kind in payload.items():
        if kind == _FILE:
            try:
                sizes.append(os.lstat(root / path).st_size)
            except OSError:
                return
    if (int(octets), int(count)) != (sum(sizes), len(sizes)):
        report.messages.append(
            f"bag-info.txt's Payload-Oxum says {count} files of {octets} bytes, "
            f"but data/ holds {len(sizes)} files of {sum(sizes)} bytes"
        )


def _check_signature(
    root: Path,
    found: dict[str, str],
    signed: bytes | None,
    trusted: Ed25519PublicKey | None,
    report: BagReport,
) -> None:
    key_pem = _read_tag(root, found, layout.PUBLIC_KEY, report, unlisted=False)
    signature = _read_tag(root, found, layout.SIGNATURE, report, unlisted=True)
    key = None
    if key_pem is None:
        report.messages.append(
            f"the bag has no readable {layout.PUBLIC_KEY}, so its signature cannot be checked"
        )
    else:
        try:
            key = load_public_key(key_pem)
            report.key_fingerprint = fingerprint(key_pem)
        except ValueError as error:
            report.messages.append(f"{layout.PUBLIC_KEY} in the bag is unusable: {error}")
    if signature is not None and key is not None and signed is not None:
        try:
            key.verify(signature, signed)
            report.signature_ok = True
        except InvalidSignature:
            report.messages.append(
                f"the signature does not match {layout.TAG_MANIFEST}: the manifests changed after signing"
            )
    if trusted is None:
        if report.signature_ok:
            report.notes.append(
                "the signature holds for the key inside the bag; only a check against the station's "
                "own public key shows that the key and signature were not both replaced"
            )
        return
    trusted_fp = fingerprint(public_key_pem(trusted))
    report.key_matches = key is not None and key.public_bytes_raw() == trusted.public_bytes_raw()
    if not report.key_matches:
        report.messages.append(
            f"the bag is signed with key {report.key_fingerprint or 'none'}, not the station's key "
            f"{trusted_fp}: its key and signature were replaced, or it comes from another station"
        )


def _reference_check(root: Path, report: BagReport) -> None:
    """A second opinion from the BagIt reference library, once the bag passed every check above."""
    try:
        bagit.Bag(str(root)).validate(processes=1)
    except Exception as error:
        report.messages.append(f"the BagIt library rejects the bag: {_sentence(error)}")


def _sentence(error: BaseException) -> str:
    """An error's text on one line, odd characters escaped (it may quote a hostile file name)."""
    return layout.display(" ".join(str(error).split()))
