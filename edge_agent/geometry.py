"""Axis-aligned boxes in pixel coordinates: (x1, y1, x2, y2), x2 > x1, y2 > y1."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Box = tuple[float, float, float, float]


def area(b: Box) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def intersection(a: Box, b: Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def iou(a: Box, b: Box) -> float:
    inter = intersection(a, b)
    if inter <= 0.0:
        return 0.0
    return inter / (area(a) + area(b) - inter)


def union(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def merge_parts(boxes: Sequence[Box], gap: float, slack: float) -> list[Box]:
    """Merge boxes that lie within `gap` pixels of each other and look like parts of one object:
    their union box is at most `slack` times the area the two cover. Two cars in neighbouring
    lanes touch diagonally, and their union would be mostly road; the halves of one car split
    by a window or a shadow line fill their union. Repeated until no pair is left; with `slack`
    infinite, every group of boxes within `gap` becomes one (the detector's crop clusters). Each
    result takes the place of its first member."""
    start = [(float(b[0]), float(b[1]), float(b[2]), float(b[3])) for b in boxes]
    # Most boxes touch no other: find the pairs that do at once, then follow only the merges
    # (the last pair first).
    todo = sorted(_touching_pairs(start, gap))
    out: list[Box | None] = list(start)
    while todo:
        i, j = todo.pop()
        a, b = out[i], out[j]
        if a is None or b is None:
            continue
        u = union(a, b)
        if area(u) > slack * (area(a) + area(b) - intersection(a, b)):
            continue
        i, j = min(i, j), max(i, j)  # the union takes the earlier place: order by first member
        out[i], out[j] = u, None
        x1, y1, x2, y2 = u[0] - gap, u[1] - gap, u[2] + gap, u[3] + gap  # what is near the union
        todo += [
            (i, k)
            for k, c in enumerate(out)
            if c is not None and k != i and c[0] < x2 and c[2] > x1 and c[1] < y2 and c[3] > y1
        ]
    return [b for b in out if b is not None]


def _touching_pairs(boxes: Sequence[Box], gap: float) -> list[tuple[int, int]]:
    """Pairs (i, j), i < j, of boxes closer than `gap` on both axes (overlapping when gap is 0),
    by a sweep along x: a few microseconds for the handful of blobs of a frame."""
    order = sorted(range(len(boxes)), key=[b[0] for b in boxes].__getitem__)
    pairs = []
    for pos, i in enumerate(order):
        _, ay1, ax2, ay2 = boxes[i]
        for j in order[pos + 1 :]:
            bx1, by1, _, by2 = boxes[j]
            if bx1 - ax2 >= gap:  # this box and all after it start too far to the right
                break
            # near along x (bx1 >= ax1): is it near along y?
            if (ay2 if ay2 < by2 else by2) - (ay1 if ay1 > by1 else by1) + gap > 0:
                pairs.append((i, j) if i < j else (j, i))
    return pairs


def iou_matrix(a: Sequence[Box] | np.ndarray, b: Sequence[Box] | np.ndarray) -> np.ndarray:
    """IoU of every box in `a` against every box in `b` (sequences or (n, 4) arrays), shape
    (len(a), len(b))."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float32)
    aa = np.asarray(a, dtype=np.float32)[:, None, :]
    bb = np.asarray(b, dtype=np.float32)[None, :, :]
    w = np.clip(np.minimum(aa[..., 2], bb[..., 2]) - np.maximum(aa[..., 0], bb[..., 0]), 0, None)
    h = np.clip(np.minimum(aa[..., 3], bb[..., 3]) - np.maximum(aa[..., 1], bb[..., 1]), 0, None)
    inter = w * h
    area_a = (aa[..., 2] - aa[..., 0]) * (aa[..., 3] - aa[..., 1])
    area_b = (bb[..., 2] - bb[..., 0]) * (bb[..., 3] - bb[..., 1])
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


def clip(b: Box, width: int, height: int) -> Box:
    return (
        min(max(b[0], 0.0), float(width)),
        min(max(b[1], 0.0), float(height)),
        min(max(b[2], 0.0), float(width)),
        min(max(b[3], 0.0), float(height)),
    )


def normalise(b: Box, width: int, height: int) -> tuple[float, float, float, float]:
    """Box as fractions of the frame (0..1), rounded to 4 decimals, as the MQTT contract wants."""
    c = clip(b, width, height)
    return (
        round(c[0] / width, 4),
        round(c[1] / height, 4),
        round(c[2] / width, 4),
        round(c[3] / height, 4),
    )


def bottom_centre(b: Box) -> tuple[float, float]:
    return ((b[0] + b[2]) / 2.0, b[3])


def centre(b: Box) -> tuple[float, float]:
    return ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0)
