"""Rules between sections: unique names, alarms that can fire, a Pi camera image that fits.

Typed by what they read (protocols), so that `settings` can call them without a cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Named(Protocol):
    @property
    def name(self) -> str: ...


class Alarm(Named, Protocol):
    @property
    def zone(self) -> str: ...
    @property
    def labels(self) -> list[str]: ...


class Camera(Protocol):
    @property
    def source(self) -> str: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...


def lores_size(width: int, height: int, motion_height: int) -> tuple[int, int]:
    """The Pi camera's lores stream size: `motion_height` rows (even), the main stream's aspect,
    width even (the same rule as `sources.picamera.lores_size`)."""
    h = motion_height - motion_height % 2
    w = round(width * h / height)
    return w + w % 2, h


def cross_check(
    zones: Sequence[Named],
    lines: Sequence[Named],
    alarms: Sequence[Alarm],
    kept: list[str],
    cam: Camera,
    motion_height: int,
) -> list[str]:
    """Problems between sections, one line each, naming the key."""
    problems: list[str] = []
    named: dict[str, Sequence[Named]] = {"zones": zones, "lines": lines, "alarms": alarms}
    for key, items in named.items():
        names = [item.name for item in items]
        for i, name in enumerate(names):
            if name in names[:i]:
                problems.append(f"{key}[{i}].name: {name!r} is used twice; each name must be unique")
    zone_names = {z.name for z in zones}
    for i, rule in enumerate(alarms):
        if rule.zone not in zone_names:
            known = ", ".join(sorted(zone_names)) or "none"
            problems.append(
                f"alarms[{i}].zone: alarm {rule.name!r} names zone {rule.zone!r}, which is not in "
                f"[[zones]] (zones: {known})"
            )
        unknown = [label for label in rule.labels if label not in kept]
        if unknown:
            problems.append(
                f"alarms[{i}].labels: {', '.join(map(repr, unknown))} never detected; "
                f"known labels (detector.labels): {', '.join(kept)}"
            )
    if cam.source == "picamera2":
        lw, lh = lores_size(cam.width, cam.height, motion_height)
        if lw > cam.width or lh > cam.height:
            problems.append(
                f"motion.height: the Pi camera's motion image ({lw}x{lh}) must fit inside its main "
                f"image ({cam.width}x{cam.height}): lower motion.height or raise camera.width/height"
            )
    return problems
