"""Robust estimates behind exposure following: the median only when it matters."""

from __future__ import annotations

import numpy as np

from edge_agent.motion.exposure import median, median_outside


def test_median_matches_numpy_and_is_skipped_only_when_surely_inside() -> None:
    rng = np.random.default_rng(3)
    for n in (1, 2, 3, 40, 41, 2160):
        for spread in (0.001, 0.01, 0.05):
            values = (1.0 + rng.normal(0.0, spread, n)).astype(np.float32)
            assert abs(median(values) - np.median(values)) < 1e-6
            got = median_outside(values, 0.99, 1.01)
            if got is None:  # skipped: the true median lies within the limits
                assert 0.99 <= np.median(values) <= 1.01
            else:
                assert abs(got - np.median(values)) < 1e-6
        # gray-level differences (uint8): compared as integers, the same answer
        diffs = rng.integers(0, 30, n).astype(np.uint8)
        got = median_outside(diffs, None, 18 / 3.0)
        assert (got is None and np.median(diffs) <= 6.0) or got == np.median(diffs)
    # a clear exposure step is never skipped
    assert median_outside(np.full(100, 1.2, np.float32), 0.99, 1.01) == np.float32(1.2)
