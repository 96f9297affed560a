"""Small inline SVG line charts (no JavaScript, no library): a pole's stats over 24 hours."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT, POINTS = 300, 60, 144


@dataclass(frozen=True)
class Chart:
    title: str
    unit: str
    points: str  # SVG polyline points, "" when there is no data
    low: float | None
    high: float | None
    last: float | None


def chart(title: str, unit: str, series: list[tuple[int, float]], t0_us: int, t1_us: int) -> Chart:
    """`series` as (time µs, value), drawn over [t0, t1], thinned to at most POINTS points."""
    if not series:
        return Chart(title, unit, "", None, None, None)
    step = max(1, len(series) // POINTS)
    thin = series[::step]
    values = [v for _, v in series]
    low, high = min(values), max(values)
    span_v = (high - low) or 1.0
    span_t = max(1, t1_us - t0_us)
    pts = " ".join(
        f"{WIDTH * (t - t0_us) / span_t:.1f},{HEIGHT - 4 - (HEIGHT - 8) * (v - low) / span_v:.1f}"
        for t, v in thin
    )
    return Chart(title, unit, pts, low, high, series[-1][1])
