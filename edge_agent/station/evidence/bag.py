"""A case exported as a signed BagIt bag (RFC 8493, BagIt 1.0), and its verification.

A bag written by `write_bag` holds:

    bagit.txt                    BagIt-Version 1.0, UTF-8
    bag-info.txt                 case name, reason, opened by/at, exported by/at, station id,
                                 the station key's fingerprint, Bagging-Date, Payload-Oxum
    case.json                    the case exactly as given (bag-info.txt folds it to one line each)
    station-public-key.pem       the station's Ed25519 public key
    manifest-sha256.txt          sha256 of every payload file under data/
    tagmanifest-sha256.txt       sha256 of every file above (not of itself nor of the signature)
    tagmanifest-sha256.txt.sig   Ed25519 signature (64 raw bytes) of tagmanifest-sha256.txt
    data/...                     the evidence files

What is signed: the exact bytes of `tagmanifest-sha256.txt`. It lists the sha256 of
`manifest-sha256.txt`, `bag-info.txt`, `case.json`, `bagit.txt` and the public key, so the one
signature covers both manifests and through them every byte of the bag. Anyone can check it
without this project, from the bag's folder:

    openssl pkeyutl -verify -pubin -inkey station-public-key.pem -rawin \\
        -in tagmanifest-sha256.txt -sigfile tagmanifest-sha256.txt.sig
    sha256sum -c tagmanifest-sha256.txt && sha256sum -c manifest-sha256.txt

A key inside the bag only proves the bag is unchanged since someone signed it: whoever rewrites a
bag can sign it again with a key of their own. That the signer is the station shows only against
the station's public key obtained elsewhere (`verify_bag(path, public_key_pem=...)`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import bagit
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent import __version__
from edge_agent.station.evidence import layout
from edge_agent.station.evidence.layout import UnsafePathError
from edge_agent.station.evidence.signing import fingerprint, public_key_pem
from edge_agent.station.evidence.verify import BagReport, verify_bag

# bagit logs every file it hashes at INFO; keep that out of the station's log unless asked for.
if logging.getLogger("bagit").level == logging.NOTSET:
    logging.getLogger("bagit").setLevel(logging.WARNING)

__all__ = [
    "BagReport",
    "CaseInfo",
    "EvidenceFile",
    "OutputFolderError",
    "UnsafePathError",
    "verify_bag",
    "write_bag",
]


@dataclass(frozen=True)
class EvidenceFile:
    """One payload file: `path_in_bag` is relative to data/ (`events/pole17/42.json`)."""

    path_in_bag: str
    data: bytes


@dataclass(frozen=True)
class CaseInfo:
    name: str
    reason: str
    opened_by: str
    opened_at: str
    station_id: str
    exported_by: str
    time_zone: str = "UTC"  # the station's; every instant above is UTC
    opened_at_local: str = ""  # opened_at on the ward's clock, with its offset


class OutputFolderError(ValueError):
    """The folder given for a bag exists and is not an empty folder."""


def write_bag(
    out_dir: Path,
    case: CaseInfo,
    files: Iterable[EvidenceFile],
    key: Ed25519PrivateKey,
    *,
    now: datetime | None = None,
) -> Path:
    """Write `files` as a signed bag at `out_dir` (which must not exist or be empty); return it.

    Nothing is written until every path is checked (`UnsafePathError` names the first bad one);
    the bag is built in a hidden sibling folder and renamed into place once complete, so a
    failed export leaves no half bag. `now` (UTC) fixes Bagging-Date and Exported-At.
    The signature is over `tagmanifest-sha256.txt`, which lists the sha256 of
    `manifest-sha256.txt` and of every other tag file (see the module docstring).
    """
    out_dir = Path(out_dir)
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError(f"the signing key must be an Ed25519PrivateKey, not {type(key).__name__}")
    _check_output_folder(out_dir)
    for value in asdict(case).values():
        _one_line(value)  # refuse a field that is not text before anything is written
    payload = _checked_payload(files)
    moment = (now or datetime.now(UTC)).astimezone(UTC)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.parent / f".{out_dir.name}.partial-{secrets.token_hex(6)}"
    staging.mkdir(mode=0o755)
    try:
        _write_into(staging, case, payload, key, moment)
        _reference_check(staging)
        _fsync_tree(staging)
        _move_into_place(staging, out_dir)
        _fsync_dir(out_dir.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def _check_output_folder(out_dir: Path) -> None:
    if out_dir.is_symlink():
        raise OutputFolderError(f"{out_dir} is a link: give a new or empty folder for the bag")
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise OutputFolderError(
            f"{out_dir} exists and is not a folder: give a new or empty folder for the bag"
        )
    if any(out_dir.iterdir()):
        raise OutputFolderError(
            f"{out_dir} is not empty: give a new or empty folder, a bag is never written among other files"
        )


def _checked_payload(files: Iterable[EvidenceFile]) -> dict[str, bytes]:
    payload: dict[str, bytes] = {}
    seen: dict[str, str] = {}
    for item in files:
        if not isinstance(item, EvidenceFile):
            raise TypeError(f"evidence files must be EvidenceFile, not {type(item).__name__}")
        path = layout.check_payload_path(item.path_in_bag)
        if not isinstance(item.data, bytes | bytearray | memoryview):
            raise TypeError(
                f"the data of {layout.display(path)} must be bytes, not {type(item.data).__name__}"
            )
        key = layout.normalized(path)
        if key in seen:
            raise UnsafePathError(f"path {path!a} is given twice (as {seen[key]!a} before)")
        seen[key] = path
        payload[path] = bytes(item.data)
    folders = {layout.normalized(p).rsplit("/", 1)[0] for p in payload if "/" in p}
    expanded = {"/".join(f.split("/")[: i + 1]) for f in folders for i in range(f.count("/") + 1)}
    for name, original in seen.items():
        if name in expanded:
            raise UnsafePathError(f"path {original!a} is both a file and a folder of other files")
    return payload


def _write_into(
    bag: Path, case: CaseInfo, payload: dict[str, bytes], key: Ed25519PrivateKey, moment: datetime
) -> None:
    data_dir = bag / layout.PAYLOAD_DIR
    data_dir.mkdir()
    manifest: dict[str, str] = {}
    for path, content in payload.items():
        target = data_dir.joinpath(*path.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_file(target, content)
        manifest[f"{layout.PAYLOAD_DIR}/{path}"] = hashlib.sha256(content).hexdigest()

    public_pem = public_key_pem(key)
    info = {
        "Bag-Software-Agent": f"edge-agent {__version__}",
        "Bagging-Date": moment.strftime("%Y-%m-%d"),
        "Case-Name": case.name,
        "Case-Reason": case.reason,
        "Case-Opened-By": case.opened_by,
        "Case-Opened-At": case.opened_at,
        "Exported-By": case.exported_by,
        "Exported-At": moment.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "Station-Id": case.station_id,
        "Station-Key-Fingerprint": fingerprint(public_pem),
        "Payload-Oxum": f"{sum(len(c) for c in payload.values())}.{len(payload)}",
    }
    tags = {
        layout.BAGIT_TXT: layout.BAGIT_TXT_CONTENT,
        layout.BAG_INFO: "".join(f"{k}: {_one_line(v)}\n" for k, v in info.items()).encode("utf-8"),
        layout.CASE_JSON: (json.dumps(asdict(case), ensure_ascii=False, indent=2) + "\n").encode("utf-8"),
        layout.PUBLIC_KEY: public_pem,
        layout.MANIFEST: layout.manifest_text(manifest),
    }
    for name, content in tags.items():
        _write_file(bag / name, content)
    tag_manifest = layout.manifest_text({n: hashlib.sha256(c).hexdigest() for n, c in tags.items()})
    _write_file(bag / layout.TAG_MANIFEST, tag_manifest)
    _write_file(bag / layout.SIGNATURE, key.sign(tag_manifest))


def _one_line(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"case fields must be text, not {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"case field {value!a} is not valid Unicode text") from None
    return re.sub(r"[\s\x00-\x1f\x7f]+", " ", value).strip()


def _write_file(path: Path, content: bytes) -> None:
    with path.open("xb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())  # an export is often copied off at once, or pulled out on a USB stick


def _fsync_tree(root: Path) -> None:
    """Make the folder entries durable too (the files were synced as they were written)."""
    folders = [root, *(p for p in root.rglob("*") if p.is_dir() and not p.is_symlink())]
    for folder in reversed(folders):
        _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # some file systems (vfat on a stick) cannot sync a folder
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _reference_check(bag: Path) -> None:
    """The bag must pass the BagIt reference library's own validation (a bug here, never the user's)."""
    try:
        bagit.Bag(str(bag)).validate(processes=1)
    except bagit.BagError as error:
        raise RuntimeError(
            f"the bag written in {bag} fails the BagIt library's validation ({error}); "
            "this is a bug in edge-agent, please report it"
        ) from error


def _move_into_place(staging: Path, out_dir: Path) -> None:
    try:
        with contextlib.suppress(FileNotFoundError):
            out_dir.rmdir()  # checked empty above; rmdir refuses if something appeared since
        os.rename(staging, out_dir)
    except OSError as error:
        raise OutputFolderError(
            f"{out_dir} appeared while the bag was being written ({error.strerror}): "
            "give a new or empty folder"
        ) from None
