"""Reading the TOML file and the credential files as a volunteer's laptop wrote them.

A byte order mark (Windows Notepad) is dropped; UTF-16 and UTF-32 with a BOM are converted to
text; anything else must be UTF-8. A file bigger than `MAX_CONFIG_BYTES` is refused before it is
parsed (a 30 MB polygon would take gigabytes), and so is anything that is not a regular file
(`/dev/zero`, a FIFO). Every failure is a `ConfigError` naming the file; never a traceback.
"""

from __future__ import annotations

import codecs
import os
import stat
import tomllib
from pathlib import Path
from typing import Any

from edge_agent.config.errors import ConfigError

MAX_CONFIG_BYTES = 1_000_000
MAX_SECRET_BYTES = 4096
# Longest BOM first: the UTF-32-LE mark begins with the UTF-16-LE one.
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)
SAVE_AS_UTF8 = "save it as UTF-8 text (Notepad: Save as…, Encoding: UTF-8)"


def read_bytes(path: Path, limit: int, what: str = "file") -> bytes:
    """At most `limit` bytes of the regular file `path`, else a ConfigError naming it."""
    name = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        hint = " (create it, or pass --config FILE)" if what == "file" else ""
        raise ConfigError(name, [f"{what} not found{hint}"]) from None
    except PermissionError:
        raise ConfigError(name, [f"{what} cannot be read: permission denied"]) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(name, [f"{what} cannot be opened: {reason}"]) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ConfigError(name, ["is a directory, not a TOML file"])
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(name, [f"is not a regular {what} (a device or a pipe?)"])
        if info.st_size > limit:
            raise ConfigError(
                name, [f"is {info.st_size:,} bytes; a {what} is at most {limit:,} bytes (wrong file?)"]
            )
        with os.fdopen(fd, "rb", closefd=True) as fh:
            fd = -1
            data = fh.read(limit + 1)
    except OSError as exc:
        raise ConfigError(name, [f"{what} cannot be read: {exc.strerror or exc}"]) from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > limit:  # it grew while being read
        raise ConfigError(name, [f"is more than {limit:,} bytes; a {what} is at most {limit:,} bytes"])
    return data


def decode(data: bytes, name: str) -> str:
    """`data` as text: a BOM is dropped, UTF-16/32 with a BOM converted, else strict UTF-8."""
    for bom, codec, label in BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec).lstrip("\ufeff")
            except UnicodeDecodeError as exc:
                raise ConfigError(
                    name,
                    [
                        f"starts with a {label} byte order mark but is not {label} text "
                        f"({exc.reason}): {SAVE_AS_UTF8}"
                    ],
                ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        bad = data[exc.start : exc.start + 1].hex()
        raise ConfigError(
            name, [f"is not UTF-8 text (byte 0x{bad} at line {line}, column {column}): {SAVE_AS_UTF8}"]
        ) from None


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML file as data, or a ConfigError naming the file and what is wrong."""
    text = decode(read_bytes(path, MAX_CONFIG_BYTES), str(path))
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"invalid TOML: {exc}"]) from None
    except RecursionError:
        raise ConfigError(str(path), ["invalid TOML: arrays or tables nested too deeply"]) from None


def read_secret(path: Path, what: str) -> str:
    """A one-line secret file (a password): BOM, line ends, NULs and surrounding blanks dropped."""
    text = decode(read_bytes(path, MAX_SECRET_BYTES, what), str(path))
    return text.strip(" \t\r\n\x00\ufeff")
