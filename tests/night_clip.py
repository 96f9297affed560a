"""A night street from PETS09 `vtest.avi`, made on the fly and seeded: the test fixture of the
motion alarm (issue 29, "Night").

Street cameras at night switch to near-infrared: a grey picture lit by the camera's own LEDs,
dark, flat, and grainy from the sensor's gain. `night()` turns each frame of the daytime clip
into that: grey, a gamma curve that crushes it into the bottom quarter of the range, lower
contrast, and Gaussian sensor noise. On top, what rings a naive motion alarm at night:

- `rain`: short bright streaks at the fall angle, new in every frame (at 10 fps a drop crosses
  the picture between two frames), some near the lens and long;
- `sweep`: a car's headlights sweeping the scene: a soft wide spot of light that brightens what
  it passes over (multiplicative, as light does), crossing the frame in a few seconds;
- `insects`: moths at the IR lamp: small over-bright blurred blobs near the lens, darting.

`empty_street()` is the same scene without the people (the per-pixel median of the clip), for
the "rings 0 times in 10 minutes" half. Nothing is written to the repository: the frames are
made in memory from `../shared`; `python -m tests.night_clip OUT.mp4` writes a copy to look at.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from edge_agent.sources import Frame
from edge_agent.sources.base import small_gray
from tests.conftest import shared

FPS = 10.0
START = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)  # 23:00 in Hanoi: inside a 22:00-05:00 window
NOISE_SIGMA = 6.0


@dataclass(frozen=True)
class Weather:
    rain: int = 0  # streaks per frame
    sweep_every_s: float = 0.0  # a headlight sweep starts this often (0: none)
    sweep_s: float = 3.0  # and takes this long to cross the frame
    insects: int = 0  # moths at the lamp at any time


ROUGH_NIGHT = Weather(rain=160, sweep_every_s=25.0, insects=2)


def vtest_frames(limit: int | None = None) -> Iterator[np.ndarray]:
    cap = cv2.VideoCapture(str(shared("pets09_s2l1_vtest/vtest.avi")))
    n = 0
    try:
        while limit is None or n < limit:
            ok, image = cap.read()
            if not ok:
                return
            n += 1
            yield image
    finally:
        cap.release()


def empty_street() -> np.ndarray:
    """The clip without its people: the median of every 8th frame (nobody stands still long)."""
    stack = np.stack(list(vtest_frames())[::8])
    return np.median(stack, axis=0).astype(np.uint8)


class Night:
    """Turns day frames into seeded night frames, one after another (the weather moves on)."""

    def __init__(self, seed: int, weather: Weather = ROUGH_NIGHT) -> None:
        self.rng = np.random.default_rng(seed)
        self.weather = weather
        self.index = 0
        self._moths: list[list[float]] = []

    def __call__(self, day: np.ndarray) -> np.ndarray:
        w = self.weather
        t = self.index / FPS
        self.index += 1
        grey = cv2.cvtColor(day, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255.0
        light = np.ones_like(grey)
        if w.sweep_every_s:
            light = self._sweep(grey.shape, t)
        # Near-IR at night: dark and flat (the LEDs light the near street only), lit by passing cars.
        scene = 8.0 + 95.0 * np.power(grey, 1.8) * light
        if w.rain:
            self._rain(scene)
        if w.insects:
            self._insects(scene)
        noise = self.rng.standard_normal(scene.shape, dtype=np.float32)  # seeded: not OpenCV's RNG
        scene += NOISE_SIGMA * noise
        out = np.clip(scene, 0, 255).astype(np.uint8)
        return cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)

    def _sweep(self, shape: tuple[int, ...], t: float) -> np.ndarray:
        """A wide soft spot of headlight crossing from one side to the other, every so often."""
        w = self.weather
        h, width = shape[:2]
        phase = t % w.sweep_every_s
        light = np.ones(shape[:2], np.float32)
        if phase >= w.sweep_s:
            return light
        k = int(t // w.sweep_every_s)
        rng = np.random.default_rng(1000 + k)  # the same sweep for the same time, whatever came before
        leftwards = bool(rng.integers(2))
        x = (phase / w.sweep_s) * (width * 1.6) - width * 0.3
        if leftwards:
            x = width - x
        y = h * rng.uniform(0.45, 0.85)
        sx, sy = width * rng.uniform(0.10, 0.18), h * rng.uniform(0.12, 0.22)
        xs = (np.arange(width, dtype=np.float32) - x) / sx
        ys = (np.arange(h, dtype=np.float32) - y) / sy
        spot = np.exp(-0.5 * (ys[:, None] ** 2 + xs[None, :] ** 2))
        return light + rng.uniform(1.5, 2.5) * spot

    def _rain(self, scene: np.ndarray) -> None:
        h, width = scene.shape
        rng = self.rng
        n = self.weather.rain
        near = rng.random(n) < 0.08  # a few drops near the lens: long and wide
        length = np.where(near, rng.uniform(60, 140, n), rng.uniform(8, 30, n))
        angle = np.radians(rng.normal(78, 4, n))
        x0, y0 = rng.uniform(0, width, n), rng.uniform(-40, h, n)
        layer = np.zeros_like(scene)
        for i in range(n):
            x1 = x0[i] + length[i] * math.cos(angle[i])
            y1 = y0[i] + length[i] * math.sin(angle[i])
            thick = 3 if near[i] else 1
            level = float(rng.uniform(25, 60) if near[i] else rng.uniform(15, 45))
            cv2.line(layer, (int(x0[i]), int(y0[i])), (int(x1), int(y1)), level, thick, cv2.LINE_AA)
        scene += cv2.GaussianBlur(layer, (3, 3), 0)

    def _insects(self, scene: np.ndarray) -> None:
        h, width = scene.shape
        rng = self.rng
        while len(self._moths) < self.weather.insects:
            # x, y, vx, vy (px per frame), radius, frames left
            self._moths.append(
                [
                    rng.uniform(0, width),
                    rng.uniform(0, h),
                    rng.normal(0, 25),
                    rng.normal(0, 25),
                    rng.uniform(5, 18),
                    float(rng.integers(8, 30)),
                ]
            )
        layer = np.zeros_like(scene)
        for m in self._moths:
            m[2] += rng.normal(0, 12)  # darting
            m[3] += rng.normal(0, 12)
            m[0] += m[2]
            m[1] += m[3]
            m[5] -= 1
            cv2.circle(layer, (int(m[0]), int(m[1])), int(m[4]), 180.0, -1, cv2.LINE_AA)
        self._moths = [m for m in self._moths if m[5] > 0 and -50 < m[0] < width + 50 and -50 < m[1] < h + 50]
        scene += cv2.GaussianBlur(layer, (0, 0), 4)


def frames(
    day: Iterator[np.ndarray], seed: int, weather: Weather = ROUGH_NIGHT, motion_height: int = 120
) -> Iterator[Frame]:
    """Night frames of `day` at 10 fps, as a camera hands them to the pipeline."""
    night = Night(seed, weather)
    for i, image in enumerate(day):
        dark = night(image)
        t_ns = round(i * 1e9 / FPS)
        yield Frame(
            i, t_ns, START + timedelta(microseconds=t_ns // 1000), dark, small_gray(dark, motion_height)
        )


def empty_night(minutes: float, seed: int, weather: Weather = ROUGH_NIGHT) -> Iterator[Frame]:
    """`minutes` of the empty street at night, at 10 fps."""
    plate = empty_street()
    n = round(minutes * 60 * FPS)
    return frames((plate for _ in range(n)), seed, weather)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.night_clip OUT.mp4   (vtest.avi at night, rough weather)")
        return 2
    out = cv2.VideoWriter(argv[0], cv2.VideoWriter_fourcc(*"mp4v"), FPS, (768, 576))
    for frame in frames(vtest_frames(), seed=7):
        out.write(frame.image)
    out.release()
    print(f"wrote {Path(argv[0]).resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
