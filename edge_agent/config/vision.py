"""The vision sections of the configuration: motion, detector and tracker (their defaults live here)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from edge_agent.config.fields import MAX_POLYGONS, FilePath, Labels, Polygon
from edge_agent.config.section import Section

# --- motion ---------------------------------------------------------------------------------


class MotionConfig(Section):
    height: int = Field(120, ge=48, le=480, description="rows of the small gray image motion works on")
    threshold: int = Field(18, ge=1, le=255, description="least gray-level change of a moving pixel")
    night_threshold: int = Field(
        9,
        ge=1,
        le=255,
        description="the same at night (mean gray below night_level): a person in IR or street light "
        "differs from the road by less than by day",
    )
    night_level: float = Field(
        50.0,
        ge=0,
        le=255,
        description="mean gray of the small image below which night_threshold applies",
    )
    presence_frames: int = Field(
        5,
        ge=1,
        le=50,
        description="motion alarms: where anything moved in this many last frames, parts joined into objects",
    )
    noise_factor: float = Field(
        3.0, ge=0, le=20, description="raise the threshold to this many times the frame noise"
    )
    learning_rate: float = Field(0.05, gt=0, le=1, description="background update per frame (still areas)")
    motion_learning_rate: float = Field(
        0.002, ge=0, le=1, description="background update per frame where something moves"
    )
    absorb_frames: int = Field(
        50, ge=2, le=250, description="a pixel moving this many frames in a row joins the background"
    )
    sway_px: int = Field(
        1,
        ge=0,
        le=3,
        description="a blob must also move against the background this many pixels around (0: off)",
    )
    persistence: int = Field(2, ge=1, le=10, description="frames a pixel must move in a row to count")
    min_area: float = Field(
        0.0004, ge=0, le=1, description="least area of a motion box, as a fraction of the frame"
    )
    min_blob_px: int = Field(4, ge=1, le=1000, description="least pixels of a motion blob (small image)")
    merge_gap: float = Field(
        0.0, ge=0, le=0.5, description="motion blobs closer than this (fraction of width) may merge"
    )
    merge_slack: float = Field(
        1.4, ge=1, le=100, description="blobs merge when their union box is at most this times their area"
    )
    scene_change_fraction: float = Field(
        0.45, gt=0, le=1, description="more of the frame than this changed at once: a scene change"
    )
    scene_change_brightness: float = Field(
        25.0, gt=0, le=255, description="mean brightness jump (gray levels) that is a scene change"
    )
    shift_check_fraction: float = Field(
        0.15, gt=0, le=1, description="this much of the frame changed: check whether the camera moved"
    )
    gain_tolerance: float = Field(
        0.01, ge=0, le=0.5, description="follow whole-picture brightness changes above this ratio"
    )
    gain_blocks: tuple[Annotated[int, Field(ge=1, le=64)], Annotated[int, Field(ge=1, le=64)]] = Field(
        (8, 6), description="columns and rows of blocks for exposure changes behind moving objects"
    )
    gain_block_spread: float = Field(
        0.08, gt=0, le=1, description="pixels whose brightness changed more than this are not used"
    )
    ghost_ratio: float = Field(
        0.4,
        ge=0,
        le=1,
        description="a blob whose outline in the frame is less than this share of "
        "its difference from the background is a ghost, learned at once (0: off)",
    )
    ghost_watch_frames: int = Field(
        25,
        ge=1,
        le=255,
        description="frames a background guessed through an exposure change is watched for ghosts",
    )
    relearn_frames: int = Field(5, ge=1, le=100, description="frames to re-learn after a scene change")
    # Polygons in normalised 0..1 coordinates where motion is ignored (on-screen clock, a tree).
    masks: list[Polygon] = Field(
        default_factory=list, max_length=MAX_POLYGONS, description="polygons where motion is ignored"
    )
    frozen_s: float = Field(10.0, gt=0, le=3600, description="identical frames for this long: camera frozen")
    dark_level: float = Field(12.0, ge=0, le=255, description="mean gray below this: lens covered or dark")
    dark_s: float = Field(30.0, gt=0, le=86400, description="dark for this long before it is reported")
    blur_ratio: float = Field(
        0.25, gt=0, le=1, description="sharpness below this share of the learned sharpness: blurred"
    )
    blur_s: float = Field(60.0, gt=0, le=86400, description="blurred for this long before it is reported")
    moved_px: float = Field(
        4.0, gt=0, le=100, description="background shifted by this many small-image pixels: camera moved"
    )


# --- detector -------------------------------------------------------------------------------

DEFAULT_LABELS = ["person", "bicycle", "car", "motorcycle", "bus", "truck"]


class DetectorConfig(Section):
    model: FilePath = Field(
        Path("nanodet-g-int8.onnx"),
        description="ONNX model (nanodet-g-int8.onnx or nanodet-g.onnx, or a path)",
    )
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = Field(
        None, description="expected sha256 of the model file; default: from the models' SHA256SUMS"
    )
    input_size: int = Field(416, ge=128, le=1024, multiple_of=32, description="full-frame model input")
    crop_size: int = Field(320, ge=128, le=1024, multiple_of=32, description="model input for crops")
    threads: int = Field(1, ge=1, le=8, description="onnxruntime threads")
    mode: Literal["crops", "full"] = Field("crops", description="crops around motion, or whole frame")
    labels: Labels = Field(default_factory=lambda: list(DEFAULT_LABELS), description="labels kept")
    min_score: float = Field(0.45, ge=0.0, le=1.0, description="least score of a detection")
    label_min_score: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(
        default_factory=lambda: {"car": 0.22, "bus": 0.22, "truck": 0.22},
        description="per-label least score (vehicles seen from above score low)",
    )
    max_person_area: float = Field(
        0.15,
        gt=0.0,
        le=1.0,
        description="a person box larger than this share of the frame is dropped (no one is that big "
        "at a pole camera)",
    )
    night_min_score: float = Field(
        0.3, ge=0.0, le=1.0, description="least score of a detection in the night (IR) profile"
    )
    night_label_min_score: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(
        default_factory=dict, description="per-label least score in the night profile"
    )
    night_luma: float = Field(
        40.0, ge=0.0, le=255.0, description="mean gray level below which the picture is night"
    )
    night_brighten_to: float = Field(
        90.0,
        ge=0.0,
        le=255.0,
        description="in the night profile, a picture whose mean gray is below this is brightened to "
        "it (gamma) before the model sees it; thumbnails are not (0: off)",
    )
    night_chroma: float = Field(
        1.0,
        ge=0.0,
        le=255.0,
        description="mean colour (max channel difference) below which the "
        "picture is grey: the camera's infrared mode",
    )
    min_box_px: float = Field(
        4.0, ge=0, le=4096, description="least box side in frame pixels (a far person is 6-7 px wide)"
    )
    nms_iou: float = Field(0.5, gt=0.0, le=1.0, description="overlap above which boxes are merged")
    box_voting: bool = Field(True, description="a kept box is the score-weighted mean of those it merges")
    flip: bool = Field(
        False, description="also run each input mirrored and fuse both views (twice the model time)"
    )
    track_min_score: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="least score of a detection that overlaps a live track (none: no lower bar)",
    )
    track_iou: float = Field(
        0.5, gt=0.0, le=1.0, description="overlap with a live track box that lets track_min_score apply"
    )
    crop_min_side: int = Field(256, ge=64, le=4096, description="least crop side in frame pixels")
    crop_context: float = Field(
        3.0,
        ge=0.0,
        le=10.0,
        description="least crop side as a multiple of the largest object in it (0: off)",
    )
    crop_padding: float = Field(0.25, ge=0.0, le=2.0, description="padding around what a crop covers")
    crop_merge_overlap: float = Field(0.3, ge=0.0, le=1.0, description="merge crops overlapping this much")
    crop_edge_px: float = Field(
        3.0, ge=0, le=64, description="detections this near an inner crop edge are cut off: dropped"
    )
    max_crops: int = Field(4, ge=1, le=16, description="more crops than this: one full-frame pass")
    full_frame_area: float = Field(
        0.6, gt=0.0, le=2.0, description="crops covering this fraction of the frame: one full pass"
    )
    sweep_interval_s: float = Field(
        60.0, ge=0, le=86400, description="full-frame pass this often for things that stopped (0: never)"
    )
    max_inferences_per_s: float = Field(5.0, ge=0.01, le=1000, description="cap on model runs per second")

    @field_validator("label_min_score")
    @classmethod
    def _scores_of_kept_labels(cls, v: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        labels = info.data.get("labels")
        unknown = sorted(set(v) - set(labels)) if labels is not None else []
        if unknown:
            raise ValueError(
                f"{', '.join(map(repr, unknown))} not in detector.labels, so never used; "
                f"known labels: {', '.join(labels or [])}"
            )
        return v


# --- tracker and events -------------------------------------------------------------------


class TrackerConfig(Section):
    iou_match: float = Field(0.15, gt=0.0, le=1.0, description="least overlap to match a track")
    max_distance: float = Field(
        0.6, ge=0, le=5, description="match by centre distance (in box heights) when boxes do not overlap"
    )
    max_reach: float = Field(
        3.0, ge=1, le=10, description="the distance gate grows with time unseen up to this factor"
    )
    coast_s: float = Field(
        1.0, gt=0, le=60, description="after this long unseen, predicted motion slows down"
    )
    confirm_hits: int = Field(3, ge=1, le=30, description="detections before a track is real")
    still_threshold: float = Field(
        0.55,
        ge=0.0,
        le=1.0,
        description="a track that has not moved since it appeared is real only when the median of "
        "its scores reaches this (Frigate's threshold; a cone that scores 0.46-0.50 as a person)",
    )
    label_still_threshold: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(
        default_factory=lambda: {"car": 0.22, "bus": 0.22, "truck": 0.22},
        description="per-label still_threshold (parked vehicles seen from above score low)",
    )
    tentative_max_unseen_s: float = Field(
        0.6, gt=0, le=60, description="an unconfirmed track unseen this long is dropped silently"
    )
    max_unseen_s: float = Field(4.0, gt=0, le=600, description="a moving track unseen this long has ended")
    stationary_after_s: float = Field(
        8.0, gt=0, le=3600, description="a track that moved less than stationary_move for this long is parked"
    )
    stationary_move: float = Field(
        0.25, gt=0, le=5, description="movement, in box heights, below which a track is not moving"
    )
    stationary_max_unseen_s: float = Field(
        900.0, gt=0, le=86400, description="a parked track unseen this long (by sweeps) has ended"
    )
    duplicate_iou: float = Field(
        0.4,
        gt=0,
        le=1,
        description="an unmatched detection overlapping a track matched this frame this much starts "
        "no track (1: off)",
    )
    pusher_in_step: float = Field(
        0.7,
        gt=0,
        le=1,
        description="a person touching a bike/motorbike for this share of their shared frames walks it: "
        "one event, riders: 1",
    )
    pusher_wait_s: float = Field(
        2.0,
        ge=0,
        le=30,
        description="a person beside a bike/motorbike waits this long for it before an event",
    )
    velocity_smoothing: float = Field(0.5, gt=0, le=1, description="weight of the newest velocity")
    rider_overlap: float = Field(
        0.4, gt=0, le=1, description="share of a person box on a bike/motorbike that makes a rider"
    )
