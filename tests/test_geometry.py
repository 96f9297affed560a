"""Box helpers: merging the parts of one object, keeping neighbours apart."""

from __future__ import annotations

import math
import random

from edge_agent.geometry import area, intersection, merge_parts, union


def test_halves_of_one_object_merge_and_diagonal_neighbours_stay_apart() -> None:
    top, bottom = (10.0, 10.0, 50.0, 30.0), (12.0, 28.0, 50.0, 60.0)  # one car cut by a shadow line
    left, right = (100.0, 100.0, 140.0, 130.0), (138.0, 128.0, 180.0, 160.0)  # two cars, corners touch
    merged = merge_parts([top, bottom, left, right], gap=0.0, slack=1.4)
    assert sorted(merged) == sorted([(10.0, 10.0, 50.0, 60.0), left, right])


def test_a_merged_box_can_reach_a_third_part_and_gap_joins_close_boxes() -> None:
    a, b, c = (0.0, 0.0, 10.0, 10.0), (0.0, 9.0, 10.0, 20.0), (0.0, 19.5, 10.0, 30.0)
    assert merge_parts([a, c, b], gap=0.0, slack=1.4) == [(0.0, 0.0, 10.0, 30.0)]
    apart = [(0.0, 0.0, 10.0, 10.0), (12.0, 0.0, 22.0, 10.0)]
    assert merge_parts(apart, gap=0.0, slack=1.4) == apart
    assert merge_parts(apart, gap=3.0, slack=1.4) == [(0.0, 0.0, 22.0, 10.0)]


def random_boxes(rng: random.Random, n: int) -> list[tuple[float, float, float, float]]:
    out = []
    for _ in range(n):
        x, y = rng.uniform(0, 100), rng.uniform(0, 100)
        out.append((x, y, x + rng.uniform(0.5, 30), y + rng.uniform(0.5, 30)))
    return out


def near(a: tuple[float, ...], b: tuple[float, ...], gap: float) -> bool:
    return min(a[2], b[2]) - max(a[0], b[0]) + gap > 0 and min(a[3], b[3]) - max(a[1], b[1]) + gap > 0


def test_merging_leaves_no_pair_that_should_merge() -> None:
    # Whatever the order of the merges, no two boxes of the result are near each other with a
    # union at most `slack` times what they cover; with infinite slack the result is the groups
    # of boxes linked by nearness, each one box (found here the slow way, pair by pair).
    rng = random.Random(7)
    for _ in range(2000):
        boxes = random_boxes(rng, rng.randint(0, 20))
        gap, slack = rng.choice([0.0, 2.0, 10.0]), rng.choice([1.0, 1.4, 2.0])
        merged = merge_parts(boxes, gap=gap, slack=slack)
        for i, a in enumerate(merged):
            for b in merged[i + 1 :]:
                u = union(a, b)
                assert not (near(a, b, gap) and area(u) <= slack * (area(a) + area(b) - intersection(a, b)))
        groups = list(boxes)
        while pair := next(
            (
                (i, j)
                for i in range(len(groups))
                for j in range(i + 1, len(groups))
                if near(groups[i], groups[j], gap)
            ),
            None,
        ):
            i, j = pair
            groups[i] = union(groups[i], groups.pop(j))
        assert sorted(merge_parts(boxes, gap=gap, slack=math.inf)) == sorted(groups)
