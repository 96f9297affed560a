"""The layout of an evidence bag: its file names, safe payload paths, and the manifest line format.

Manifest lines are `<sha256 hex><two spaces><path>`, the format of `sha256sum`, so a bag can also
be checked with `sha256sum -c manifest-sha256.txt` (and `tagmanifest-sha256.txt`) from its folder.
RFC 8493 requires CR, LF and % in a path to be percent-encoded; a path this station writes holds
none of them (see `check_payload_path`), and a manifest that does is decoded as the RFC says.
"""

from __future__ import annotations

import re
import unicodedata

BAGIT_TXT = "bagit.txt"
BAG_INFO = "bag-info.txt"
MANIFEST = "manifest-sha256.txt"
TAG_MANIFEST = "tagmanifest-sha256.txt"
PUBLIC_KEY = "station-public-key.pem"
CASE_JSON = "case.json"
SIGNATURE = "tagmanifest-sha256.txt.sig"
PAYLOAD_DIR = "data"

BAGIT_TXT_CONTENT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"

# No manifest or tag file of a real case comes near this; a larger one is not read into memory.
MAX_TAG_FILE = 256 * 1024 * 1024

_LINE = re.compile(r"([0-9a-fA-F]{64})[ \t]+(\S.*)")
_PERCENT = re.compile(r"%(0[aAdD]|25)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class UnsafePathError(ValueError):
    """A payload path that would land outside data/ or could not be written the same everywhere."""


def check_payload_path(path_in_bag: str) -> str:
    """`path_in_bag` (relative to data/) when it is safe to write; `UnsafePathError` saying why not.

    Refused: empty, absolute, `..` or `.` parts, empty parts (`a//b`, a trailing `/`), backslashes,
    NUL and other control characters, `%` (RFC 8493 would need it encoded), parts over 255 bytes.
    """
    if not isinstance(path_in_bag, str):
        raise UnsafePathError(f"a path in the bag must be text, not {type(path_in_bag).__name__}")
    shown = ascii(path_in_bag)
    if not path_in_bag:
        raise UnsafePathError(
            "a path in the bag is empty: give a relative path such as events/pole17/42.json"
        )
    if "\x00" in path_in_bag:
        raise UnsafePathError(f"path {shown} holds a NUL character")
    if "\\" in path_in_bag:
        raise UnsafePathError(f"path {shown} holds a backslash: separate folders with / only")
    if path_in_bag.startswith("/"):
        raise UnsafePathError(f"path {shown} is absolute: give it relative to the bag's data/ folder")
    if _CONTROL.search(path_in_bag):
        raise UnsafePathError(f"path {shown} holds a control character (a newline, tab or the like)")
    if "%" in path_in_bag:
        raise UnsafePathError(f"path {shown} holds a %, which BagIt manifests would have to encode")
    for part in path_in_bag.split("/"):
        if part in ("", ".", ".."):
            what = "an empty part" if not part else f"a {part!r} part"
            raise UnsafePathError(f"path {shown} has {what}: it must name a file inside data/")
        if len(part.encode("utf-8", "surrogatepass")) > 255:
            raise UnsafePathError(f"path {shown} has a part longer than 255 bytes")
    try:
        path_in_bag.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafePathError(f"path {shown} is not valid Unicode text") from None
    return path_in_bag


def normalized(path: str) -> str:
    """The NFC form of `path`: two names equal in NFC are the same file on some file systems."""
    return unicodedata.normalize("NFC", path)


def encode_manifest_path(path: str) -> str:
    """`path` as a manifest line holds it (RFC 8493 §2.1.3: CR, LF and % percent-encoded)."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def decode_manifest_path(text: str) -> str:
    return _PERCENT.sub(lambda m: {"0a": "\n", "0d": "\r", "25": "%"}[m.group(1).lower()], text)


def manifest_text(entries: dict[str, str]) -> bytes:
    """Manifest lines for `{path: sha256 hex}`, sorted by path, as UTF-8 bytes."""
    return "".join(
        f"{digest}  {encode_manifest_path(path)}\n" for path, digest in sorted(entries.items())
    ).encode("utf-8")


def parse_manifest(data: bytes, name: str) -> tuple[dict[str, str], list[str]]:
    """`({path: sha256 hex}, problems)` from a manifest's bytes; never raises.

    A line that is not `<64 hex> <path>` or that repeats a path is a problem, named by line number.
    """
    entries: dict[str, str] = {}
    problems: list[str] = []
    text = data.decode("utf-8", "replace")
    text = text.removeprefix("\ufeff")
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip(" \t")
        if not line:
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            problems.append(f"line {number} of {name} is not a checksum and a file name")
            continue
        path = decode_manifest_path(match.group(2).removeprefix("*"))
        if path in entries:
            problems.append(f"{name} lists {display(path)} more than once")
            continue
        entries[path] = match.group(1).lower()
    return entries, problems


def display(path: str) -> str:
    """`path` safe to print: undecodable bytes and control characters shown as escapes."""
    try:
        raw = path.encode("utf-8", "surrogateescape")  # names read from disk: show the raw byte
    except UnicodeEncodeError:
        raw = path.encode("utf-8", "backslashreplace")
    text = raw.decode("utf-8", "backslashreplace")
    return _CONTROL.sub(lambda m: ascii(m.group())[1:-1], text)
