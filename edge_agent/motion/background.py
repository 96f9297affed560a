"""The motion stage: background subtraction on a small grayscale image.

A running-average background (float32, updated quickly where the scene is still and slowly
where something moves), an absolute difference against it with a threshold that rises with the
frame's own noise, a persistence test (a pixel must move in `persistence` frames in a row: one
frame of rain, an insect or a compression burst does not count), config masks, a small opening,
blobs (ghosts where the background was guessed wrong are learned at once, see `ghosts`), and
boxes merged where they are parts of one object. A sudden change of most of the
frame, or of its mean brightness (lights, IR switch, auto-exposure), re-learns the background and
is reported as a scene change instead of a flood of motion.

Every step is a handful of OpenCV calls on the small image or a count on a sparse grid; the
costly estimates (medians, labels) run only in the frames that need them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from edge_agent.config import MotionConfig
from edge_agent.geometry import Box, merge_parts
from edge_agent.motion import exposure, ghosts
from edge_agent.motion.camera_health import CameraAlert, CameraHealth
from edge_agent.motion.presence import Presence, PresenceFinder
from edge_agent.sources import Frame

KERNEL = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
ONE = (1.0, 0.0, 0.0, 0.0)
# A swayed edge differs from the background around it by little more than the picture's noise;
# an object's pixel by most of the threshold. Half the threshold keeps the faint parts of people
# that the whole threshold cut off (vtest.avi: one more split walker at 1.0).
SWAY_SHARE = 0.5
SWAY_KERNELS = {r: cv2.getStructuringElement(cv2.MORPH_RECT, (2 * r + 1, 2 * r + 1)) for r in (1, 2, 3)}
NIGHT_HYSTERESIS = 10.0  # gray levels above night_level before the picture is day again


@dataclass(slots=True)
class MotionResult:
    boxes: list[Box]  # full-frame pixel coordinates
    fraction: float  # share of the unmasked small image that moved
    scene_change: bool = False
    alerts: list[CameraAlert] = field(default_factory=list)
    presence: list[Presence] = field(default_factory=list)  # whole objects (only when asked for)

    @property
    def motion(self) -> bool:
        return bool(self.boxes)


def polygon_mask(polygons: list[list[tuple[float, float]]], width: int, height: int) -> np.ndarray:
    """255 where motion counts, 0 inside the config's mask polygons (normalised coordinates)."""
    mask = np.full((height, width), 255, np.uint8)
    for poly in polygons:
        pts = np.array([[round(x * (width - 1)), round(y * (height - 1))] for x, y in poly], np.int32)
        cv2.fillPoly(mask, [pts], 0)
    return mask


def find_blobs(mask: np.ndarray, min_px: int) -> list[Box]:
    """Boxes (x1, y1, x2, y2) of the blobs of a binary mask with at least `min_px` pixels, in
    raster order of their first pixel. Outer contours find them at half the cost of labelling
    every pixel; a blob inside another's hole is not found (its box lies inside the other's)."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = []
    # A contour starts at its blob's first pixel in raster order.
    for c in sorted(contours, key=lambda c: (c[0, 0, 1], c[0, 0, 0])):
        x, y, w, h = cv2.boundingRect(c)
        # A blob spans its box with at least max(w, h) pixels; count only the small ones.
        if max(w, h) >= min_px or cv2.countNonZero(mask[y : y + h, x : x + w]) >= min_px:
            out.append((float(x), float(y), float(x + w), float(y + h)))
    return out


class MotionDetector:
    def __init__(
        self, cfg: MotionConfig, frame_width: int, frame_height: int, presence_height: float | None = None
    ) -> None:
        """`presence_height`: also find whole objects at least this share of the frame tall
        (`MotionResult.presence`, for alarms on motion alone); None: not needed."""
        self.cfg = cfg
        self.night = False
        self._presence = PresenceFinder(cfg.presence_frames, (frame_width, frame_height))
        self.presence_height = presence_height
        self.frame_size = (frame_width, frame_height)
        self.health = CameraHealth(cfg)
        self._bg: np.ndarray | None = None
        self._streak: np.ndarray | None = None
        self._guessed = np.zeros((1, 1), np.uint8)
        self._watching = 0  # frames until every guessed pixel of `_guessed` has been watched
        self._mask: np.ndarray | None = None
        self._unmasked = 1
        self._relearn = 0
        self._prev_mean = 0.0
        self._previous: np.ndarray | None = None
        self.mask: np.ndarray | None = None

    def _start(self, gray: np.ndarray) -> None:
        h, w = gray.shape
        self._bg = gray.astype(np.float32)
        self._streak = np.zeros((h, w), np.uint8)
        self._guessed = np.zeros((h, w), np.uint8)  # frames left to watch a guessed background
        self._mask = polygon_mask(self.cfg.masks, w, h) if self.cfg.masks else None
        self._unmasked = int(np.count_nonzero(self._mask)) if self._mask is not None else h * w
        self._prev_mean = float(gray.mean())

    def process(self, frame: Frame) -> MotionResult:
        # No Intel IPP on this thread (the setting is per thread): IPP's accumulateWeighted
        # rounds differently from OpenCV's own code, which ARM runs, and the background and so
        # the events would differ between a pole and an x86 replay. It costs ~6 µs a frame.
        cv2.ipp.setUseIPP(False)
        gray = frame.gray
        if self._bg is None or self._bg.shape != gray.shape:
            self._start(gray)
        assert self._bg is not None and self._streak is not None
        mean = cv2.mean(gray)[0]
        self.night = mean < self.cfg.night_level + (NIGHT_HYSTERESIS if self.night else 0.0)
        jump = abs(mean - self._prev_mean)
        self._prev_mean = mean
        previous, self._previous = self._previous, gray
        alerts = self.health.update(frame, gray, previous, mean)

        guessed = exposure.follow(self._bg, gray, previous, self._streak, self.cfg)
        if self._watching:
            cv2.subtract(self._guessed, ONE, dst=self._guessed)
            self._watching -= 1
        if guessed is not None:
            self._watch(guessed)
        bg8 = cv2.convertScaleAbs(self._bg)
        diff = cv2.absdiff(gray, bg8)
        thr = self._threshold(diff)
        _, moving = cv2.threshold(diff, thr, 255, cv2.THRESH_BINARY)
        if self._mask is not None:
            moving = cv2.bitwise_and(moving, self._mask)
        fraction = cv2.countNonZero(moving) / self._unmasked

        moved: list[CameraAlert] = []
        if fraction >= self.cfg.shift_check_fraction:  # much changed: has the view shifted?
            moved = self.health.scene_changed(gray, self._bg)
            alerts += moved
        if (
            jump >= self.cfg.scene_change_brightness
            or fraction >= self.cfg.scene_change_fraction
            or any(a.active for a in moved)
        ):
            # Lights, IR switch, auto-exposure, camera bumped: learn the new scene, report it.
            self._bg[:] = gray
            self._streak[:] = 0
            self._guessed[:] = 0
            self._watching = 0
            self._relearn = self.cfg.relearn_frames
            self._presence.reset()
            return MotionResult([], fraction, scene_change=True, alerts=alerts)

        # Persistence: count consecutive moving frames per pixel (saturating).
        cv2.add(self._streak, ONE, dst=self._streak, mask=moving)  # uint8: saturates at 255
        self._streak = cv2.bitwise_and(self._streak, moving)  # reset where still
        _, persistent = cv2.threshold(self._streak, self.cfg.persistence - 1, 255, cv2.THRESH_BINARY)
        persistent = cv2.morphologyEx(persistent, cv2.MORPH_OPEN, KERNEL)
        self.mask = persistent  # the small foreground mask, for benchmarks and debugging

        # Background: fast where still, slow where moving (a parked car is learned in minutes).
        still_rate = self.cfg.learning_rate if self._relearn == 0 else min(1.0, self.cfg.learning_rate * 4)
        cv2.accumulateWeighted(gray, self._bg, still_rate, mask=cv2.bitwise_not(moving))
        if self.cfg.motion_learning_rate > 0:
            cv2.accumulateWeighted(gray, self._bg, self.cfg.motion_learning_rate, mask=moving)
        # Pixels that have "moved" for many frames in a row are part of the scene now.
        _, stuck = cv2.threshold(self._streak, self.cfg.absorb_frames - 1, 255, cv2.THRESH_BINARY)
        cv2.accumulateWeighted(gray, self._bg, self.cfg.learning_rate, mask=stuck)
        if self._relearn:
            self._relearn -= 1
            return MotionResult([], fraction, alerts=alerts)
        if self._watching:  # a guessed background may leave ghosts: label the blobs and look
            blobs = self._blobs_without_ghosts(persistent, moving, gray, previous, bg8)
        else:
            blobs = find_blobs(persistent, self.cfg.min_blob_px)
        if self.cfg.sway_px and blobs:
            blobs = self._without_sway(blobs, persistent, gray, bg8, thr)
        presence: list[Presence] = []
        if self.presence_height is not None:
            rows = max(1, round(self.presence_height * persistent.shape[0]))
            kept = np.zeros_like(persistent)  # the blobs kept above: no swaying edge, no ghost
            for x1, y1, x2, y2 in blobs:
                window = (slice(int(y1), int(y2)), slice(int(x1), int(x2)))
                kept[window] = persistent[window]
            presence = self._presence.update(kept, gray, self._bg, rows)
        return MotionResult(self._boxes(blobs, persistent.shape), fraction, alerts=alerts, presence=presence)

    def _without_sway(
        self, blobs: list[Box], persistent: np.ndarray, gray: np.ndarray, bg8: np.ndarray, thr: float
    ) -> list[Box]:
        """The blobs that are not only edges of the scene shifted by the camera swaying (wind on
        the pole, a drifting mount): each must keep `min_blob_px` pixels that differ by
        `SWAY_SHARE` of the threshold from every background value within `sway_px` pixels. A
        moving object keeps all but its rim; a shifted edge keeps nothing."""
        kernel = SWAY_KERNELS[self.cfg.sway_px]
        brighter = cv2.subtract(gray, cv2.dilate(bg8, kernel))  # saturating: 0 unless brighter
        darker = cv2.subtract(cv2.erode(bg8, kernel), gray)
        _, solid = cv2.threshold(cv2.add(brighter, darker), thr * SWAY_SHARE, 255, cv2.THRESH_BINARY)
        solid = cv2.bitwise_and(solid, persistent)
        min_px = self.cfg.min_blob_px
        return [
            b
            for b in blobs
            if cv2.countNonZero(solid[int(b[1]) : int(b[3]), int(b[0]) : int(b[2])]) >= min_px
        ]

    def _blobs_without_ghosts(
        self,
        persistent: np.ndarray,
        moving: np.ndarray,
        gray: np.ndarray,
        previous: np.ndarray | None,
        bg8: np.ndarray,
    ) -> list[Box]:
        """`find_blobs`, by connected components, after learning the ghosts among them at once
        (see `ghosts`): the background takes the frame there, and they leave the foreground."""
        assert self._bg is not None and self._streak is not None
        # 16-bit labels: three times faster than the default 32-bit ones on a small image.
        n, labels, stats, _ = cv2.connectedComponentsWithStats(persistent, connectivity=8, ltype=cv2.CV_16U)
        gone = ghosts.find(labels, n, moving, gray, previous, bg8, self._guessed, self.cfg.ghost_ratio)
        if len(gone):
            where = np.isin(labels, gone)
            self._bg[where] = gray[where]
            self._streak[where] = 0
            self._watch(where)  # a wrong guess shows up soon
            persistent[where] = 0  # the foreground mask (self.mask) loses them too
            stats[gone, cv2.CC_STAT_AREA] = 0
        min_px = self.cfg.min_blob_px
        return [
            (float(x), float(y), float(x + w), float(y + h))
            for x, y, w, h, a in stats[1:].tolist()
            if a >= min_px
        ]

    def _watch(self, where: np.ndarray) -> None:
        """Watch these pixels (bool) for ghosts for the next `ghost_watch_frames` frames."""
        self._guessed[where] = self.cfg.ghost_watch_frames
        self._watching = self.cfg.ghost_watch_frames

    def _threshold(self, diff: np.ndarray) -> float:
        """The least difference from the background that counts as moving: `threshold`, raised
        to `noise_factor` times the median difference (the frame's noise) in a noisy picture;
        `night_threshold` in a dark picture, whose people differ less from the road."""
        floor = self.cfg.night_threshold if self.night else self.cfg.threshold
        if self.cfg.noise_factor <= 0:
            return floor
        noise = exposure.median_outside(diff[exposure.GRID], None, floor / self.cfg.noise_factor)
        return floor if noise is None else max(floor, noise * self.cfg.noise_factor)

    def _boxes(self, blobs: list[Box], shape: tuple[int, ...]) -> list[Box]:
        """Boxes in frame coordinates from the blobs (small image), merged where they are parts
        of one object."""
        h, w = shape[:2]
        merged = merge_parts(blobs, gap=self.cfg.merge_gap * w, slack=self.cfg.merge_slack)
        sx, sy = self.frame_size[0] / w, self.frame_size[1] / h
        min_area = self.cfg.min_area * w * h
        return [
            (b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy)
            for b in merged
            if (b[2] - b[0]) * (b[3] - b[1]) >= min_area
        ]
