"""Zones (polygons) and counting lines in normalised coordinates, tested by a box's bottom centre.

The bottom centre of a box is where a person or vehicle touches the road, which is what a zone
drawn on the road means. A line crossing is the segment between two successive bottom centres
crossing the line segment A–B; its direction is A>B when the object passes from the left of
A→B to its right (in image coordinates), else B>A.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_agent.config import LineConfig, ZoneConfig

Point = tuple[float, float]


def inside(point: Point, polygon: list[tuple[float, float]]) -> bool:
    """Even-odd rule point-in-polygon."""
    x, y = point
    result = False
    n = len(polygon)
    for i in range(n):
        (x1, y1), (x2, y2) = polygon[i], polygon[(i + 1) % n]
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            result = not result
    return result


def _side(a: Point, b: Point, p: Point) -> float:
    return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])


def crossing(line: LineConfig, p0: Point, p1: Point) -> str | None:
    """'A>B' or 'B>A' when the move p0→p1 crosses the line segment, else None."""
    s0, s1 = _side(line.a, line.b, p0), _side(line.a, line.b, p1)
    if s0 == 0 or (s0 > 0) == (s1 > 0):
        return None
    t0, t1 = _side(p0, p1, line.a), _side(p0, p1, line.b)
    if (t0 > 0) == (t1 > 0) and t0 != 0 and t1 != 0:
        return None
    return "A>B" if s0 < 0 else "B>A"


@dataclass
class Zones:
    zones: list[ZoneConfig]
    lines: list[LineConfig]

    def membership(self, point: Point) -> set[str]:
        return {z.name for z in self.zones if inside(point, z.polygon)}

    def crossings(self, p0: Point, p1: Point) -> list[tuple[str, str]]:
        out = []
        for line in self.lines:
            direction = crossing(line, p0, p1)
            if direction is not None:
                out.append((line.name, direction))
        return out
