"""Day or night: which score profile the detector uses, told from the picture itself.

At night a street camera either switches to near-infrared (a grey picture lit by its own IR
LEDs: no colour at all) or keeps colour under street lights (a dark picture). Either way the
model scores people lower and sees things that are not there, so the detector switches to the
night profile (`detector.night_*`). The picture is sampled sparsely (every 8th pixel of every
8th row) at most once a second, and the profile changes only after three readings in a row
disagree with it, so a passing headlight or a white lorry does not flip it.

A dark picture is also brightened for the model in the night profile (`brighten`): a gamma
curve that takes its mean grey to `detector.night_brighten_to`. NanoDet was trained on COCO's
daylight pictures; on LLVIP's night crossing (mean grey 26-28) the grey picture's pedestrian
scores 0.39 brightened against 0.26 as it is, the colour picture's 0.59 against 0.34
(docs/detection.md).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Profile = Literal["day", "night"]
SAMPLE_STEP = 8
INTERVAL_NS = 1_000_000_000
SWITCH_AFTER = 3


def reading(image: np.ndarray) -> tuple[float, float]:
    """Mean gray level and mean colour (largest difference between two channels) of a sample."""
    sample = image[::SAMPLE_STEP, ::SAMPLE_STEP].astype(np.int16)
    if sample.ndim == 2 or sample.shape[2] == 1:
        return float(sample.mean()), 0.0
    b, g, r = sample[..., 0], sample[..., 1], sample[..., 2]
    luma = 0.114 * b + 0.587 * g + 0.299 * r
    chroma = np.maximum(np.maximum(np.abs(b - g), np.abs(g - r)), np.abs(b - r))
    return float(luma.mean()), float(chroma.mean())


def brighten(luma: float, target: float) -> np.ndarray | None:
    """A lookup table that takes a picture of mean grey `luma` to about `target` (a gamma curve:
    black stays black, white stays white), or None when it is bright enough already."""
    if target <= 0 or luma >= target:
        return None
    gamma = np.log(target / 255.0) / np.log(max(luma, 1.0) / 255.0)
    return np.round(255.0 * (np.arange(256) / 255.0) ** gamma).astype(np.uint8)


class DayNight:
    def __init__(self, night_luma: float, night_chroma: float) -> None:
        self.night_luma = night_luma
        self.night_chroma = night_chroma
        self.profile: Profile | None = None
        self.luma = 0.0
        self.chroma = 0.0
        self._last_ns: int | None = None
        self._against = 0

    def observe(self, image: np.ndarray, mono_ns: int) -> Profile:
        """The profile for this frame (the first frame decides at once)."""
        if self.profile is not None and self._last_ns is not None and mono_ns - self._last_ns < INTERVAL_NS:
            return self.profile
        self._last_ns = mono_ns
        self.luma, self.chroma = reading(image)
        night = self.luma < self.night_luma or self.chroma < self.night_chroma
        seen: Profile = "night" if night else "day"
        if self.profile is None:
            self.profile = seen
        elif seen != self.profile:
            self._against += 1
            if self._against >= SWITCH_AFTER:
                self.profile, self._against = seen, 0
        else:
            self._against = 0
        return self.profile
