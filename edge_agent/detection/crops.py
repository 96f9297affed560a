"""Where the detector looks: square crops around clusters of motion boxes and live tracks.

Small, far-away people are seen larger by the model in a crop than in the whole frame, and the
empty parts of the frame cost nothing. Crops are squares (the model's input is square), at least
`min_side` pixels, padded around what they cover, merged when they overlap, and moved inside the
frame. When the crops would cover most of the frame anyway, one full-frame pass is cheaper.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from edge_agent.geometry import Box, area, intersection, merge_parts, union

Crop = tuple[int, int, int, int]  # x1, y1, x2, y2 of a square inside the frame


def square(box: Box, padding: float, min_side: float, width: int, height: int) -> Crop:
    """The square around `box` (padded, at least `min_side`), moved inside the frame."""
    w, h = box[2] - box[0], box[3] - box[1]
    side = max(w, h) * (1 + 2 * padding)
    side = min(max(side, min_side), float(min(width, height)))
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    x1 = min(max(cx - side / 2, 0.0), width - side)
    y1 = min(max(cy - side / 2, 0.0), height - side)
    s = round(side)
    return (round(x1), round(y1), round(x1) + s, round(y1) + s)


def largest_inside(boxes: Sequence[Box], cluster: Box) -> float:
    """The longest side of the boxes that lie inside `cluster` (the size of its largest object)."""
    x1, y1, x2, y2 = cluster[0] - 0.5, cluster[1] - 0.5, cluster[2] + 0.5, cluster[3] + 0.5
    sides = [
        max(b[2] - b[0], b[3] - b[1])
        for b in boxes
        if b[0] >= x1 and b[1] >= y1 and b[2] <= x2 and b[3] <= y2
    ]
    return max(sides, default=0.0)


def plan(
    boxes: Sequence[Box],
    width: int,
    height: int,
    *,
    padding: float,
    min_side: float,
    merge_overlap: float,
    max_crops: int,
    full_frame_area: float,
    context: float = 0.0,
) -> list[Crop] | None:
    """Crops that cover `boxes`; None when one full-frame pass is the better choice.

    Each crop is at least `context` times the largest box it holds (the model sees an object
    with its surroundings and never larger than the sizes it was trained on), and at least
    `min_side`: a small object gets a small crop, which the model sees enlarged."""
    if not boxes:
        return []
    clusters = merge_parts(boxes, gap=min_side * padding, slack=math.inf)  # whatever the shape
    side_limit = min(width, height)
    if any(max(c[2] - c[0], c[3] - c[1]) > side_limit for c in clusters):
        return None  # something wider than a square crop can hold
    crops = [
        square(c, padding, max(min_side, context * largest_inside(boxes, c)), width, height) for c in clusters
    ]
    # Merge crops that overlap much: one larger square is cheaper than two inferences.
    merged = True
    while merged and len(crops) > 1:
        merged = False
        for i in range(len(crops)):
            for j in range(i + 1, len(crops)):
                a, b = crops[i], crops[j]
                u = union(a, b)
                fits = max(u[2] - u[0], u[3] - u[1]) <= side_limit
                if fits and intersection(a, b) >= merge_overlap * min(area(a), area(b)):
                    crops[i] = square(union(a, b), 0.0, min_side, width, height)
                    del crops[j]
                    merged = True
                    break
            if merged:
                break
    covered = sum(area(c) for c in crops)
    if len(crops) > max_crops or covered >= full_frame_area * width * height:
        return None
    return crops
