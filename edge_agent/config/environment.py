"""Which `EDGE_AGENT_…` environment variable set which key, so an error names the variable.

pydantic-settings reads the variables (case-insensitive, nested with `__`); this module only
maps them back: `EDGE_AGENT_CAMERA__FPS` set `camera.fps`. It also catches a variable that looks
meant for a key but names none (`EDGE_AGENT_CAMERA_FPS`, one underscore), which pydantic-settings
would silently ignore, and turns pydantic-settings' own parse failure (a list or table that is
not JSON) into a line naming the variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping


def origins(
    prefix: str, fields: Iterable[str], environ: Mapping[str, str] | None = None
) -> dict[tuple[str, ...], str]:
    """Key path (lower case) → the variable that sets it, for every variable that names a key."""
    env = os.environ if environ is None else environ
    known = set(fields)
    out: dict[tuple[str, ...], str] = {}
    for name in sorted(env):
        if not name.upper().startswith(prefix):
            continue
        path = tuple(name[len(prefix) :].lower().split("__"))
        if path[0] in known:
            out[path] = name
    return out


def strays(prefix: str, fields: Iterable[str], environ: Mapping[str, str] | None = None) -> list[str]:
    """Problems for variables that look meant for a key but name none (they would be ignored)."""
    env = os.environ if environ is None else environ
    known = sorted(fields, key=len, reverse=True)
    problems = []
    for name in sorted(env):
        if not name.upper().startswith(prefix):
            continue
        rest = name[len(prefix) :].lower()
        if rest.split("__")[0] in known:
            continue
        section = next((f for f in known if rest.startswith(f + "_")), None)
        if section is not None:
            key = rest[len(section) :].lstrip("_")
            problems.append(
                f"{name}: names no setting; a key inside a section takes two underscores: "
                f"{prefix}{section.upper()}__{key.upper()}"
            )
    return problems


def parse_failure(message: str, prefix: str, origin: Mapping[tuple[str, ...], str]) -> str:
    """The line for pydantic-settings' `SettingsError` (a value it could not parse)."""
    m = re.search(r'field "([^"]+)"', message)
    field = m.group(1) if m else ""
    names = [var for path, var in origin.items() if path[0] == field] or [f"{prefix}{field.upper()}"]
    return (
        f"{field} (from {', '.join(names)}): cannot be read from the environment: a list or table "
        'is written as JSON there, e.g. [[0.1, 0.5], [0.9, 0.5], [0.5, 0.9]] or {"fps": 5}'
    )
