"""Box helpers: merging the parts of one object, keeping neighbours apart."""

from __future__ import annotations

from edge_agent.geometry import merge_parts


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
