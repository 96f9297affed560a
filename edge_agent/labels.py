"""Label families: labels the detector confuses for one object (a car seen from above scores as
car, bus and truck at once), matched and suppressed together."""

from __future__ import annotations

FAMILIES = {
    "person": "person",
    "bicycle": "two-wheeler",
    "motorcycle": "two-wheeler",
    "car": "vehicle",
    "bus": "vehicle",
    "truck": "vehicle",
}
TWO_WHEELERS = ("bicycle", "motorcycle")


def family(label: str) -> str:
    return FAMILIES.get(label, label)
