"""Configuration: pydantic models, the only place defaults live.

Sources, highest priority first: environment (`EDGE_AGENT_…`, nested with `__`, e.g.
`EDGE_AGENT_MQTT__URL`), systemd credentials (`$CREDENTIALS_DIRECTORY/mqtt_password`), the TOML
file. Unknown keys are errors. Each section is one model; every number has bounds and no
inf/NaN; checks that need no file live here, those that read files in `files`; `loader.load()`
turns every problem into a `ConfigError` that names the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from edge_agent.config.device import default_device_id
from edge_agent.config.fields import (
    MAX_POLYGONS,
    MAX_RULES,
    BrokerUrl,
    CameraSource,
    FilePath,
    Id,
    Labels,
    LowerTopicPrefix,
    OptionalText,
    Password,
    Point,
    Polygon,
    TimeOfDay,
    TopicPrefix,
)
from edge_agent.config.rules import cross_check

DEFAULT_CONFIG_PATH = Path("/etc/edge-agent/config.toml")
ENV_PREFIX = "EDGE_AGENT_"


def not_below(v: float, info: ValidationInfo, other: str) -> float:
    """`v`, or a ValueError when it is below the sibling key `other` (already validated)."""
    low = info.data.get(other)
    if low is not None and v < low:
        raise ValueError(f"must not be less than {other} ({low})")
    return v


class Section(BaseModel):
    """A config section: unknown keys are errors, values are checked on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


# --- camera ---------------------------------------------------------------------------------


class CameraConfig(Section):
    id: Id = Field("cam0", description="camera id in topics and event ids ([a-z0-9_-])")
    source: CameraSource = Field(
        "picamera2",
        description="picamera2, an rtsp:// or http:// URL, a USB device (/dev/video0, usb:0), or a file",
    )
    width: int = Field(1280, ge=64, le=4096, description="main stream width (picamera2, USB)")
    height: int = Field(720, ge=64, le=4096, description="main stream height (picamera2, USB)")
    fps: float = Field(10.0, ge=0.1, le=120, description="frames per second asked of the camera")
    reopen_min_s: float = Field(1.0, ge=0.01, le=15, description="first wait before reopening a dead camera")
    reopen_max_s: float = Field(
        10.0, ge=0.01, le=15, description="longest wait between reopen attempts (a camera back is found soon)"
    )
    read_timeout_s: float = Field(10.0, ge=0.5, le=600, description="no frame for this long = camera gone")

    @field_validator("reopen_max_s")
    @classmethod
    def _reopen_order(cls, v: float, info: ValidationInfo) -> float:
        return not_below(v, info, "reopen_min_s")


# --- pipeline -------------------------------------------------------------------------------


class PipelineConfig(Section):
    motion_off_delay_s: float = Field(
        5.0, ge=0, le=600, description="publish motion OFF after this long without motion"
    )


# --- motion ---------------------------------------------------------------------------------


class MotionConfig(Section):
    height: int = Field(120, ge=48, le=480, description="rows of the small gray image motion works on")
    threshold: int = Field(18, ge=1, le=255, description="least gray-level change of a moving pixel")
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


class EventsConfig(Section):
    min_update_interval_s: float = Field(
        3.0, ge=0, le=3600, description="least time between updates of a track"
    )
    better_thumbnail: float = Field(
        1.5, ge=1.0, le=100, description="an update is sent when the thumbnail quality grows by this factor"
    )
    snapshot_on_event: bool = Field(True, description="publish the annotated full frame on each start")
    path_points: int = Field(8, ge=2, le=64, description="points in the path of an end event")
    counts_interval_s: float = Field(300.0, ge=10, le=86400, description="publish line counts this often")


class ThumbnailConfig(Section):
    min_side: int = Field(240, ge=64, le=2048, description="least side of a thumbnail crop, pixels")
    jpeg_quality: int = Field(85, ge=30, le=100, description="JPEG quality of thumbnails")
    snapshot_quality: int = Field(75, ge=30, le=100, description="JPEG quality of snapshots")
    margin: float = Field(0.25, ge=0.0, le=2.0, description="crop margin around the box")
    edge_px: float = Field(4.0, ge=0, le=256, description="a box this near the frame edge is cut off")


class ZoneConfig(Section):
    name: Id
    polygon: Polygon


class LineConfig(Section):
    name: Id
    a: Point
    b: Point

    @model_validator(mode="after")
    def _has_length(self) -> LineConfig:
        if self.a == self.b:
            raise ValueError("a and b are the same point: a counting line needs two different ends")
        return self


class AlarmRule(Section):
    name: Id
    zone: Id
    labels: Labels = Field(default_factory=lambda: ["person"])
    start: TimeOfDay = Field("22:00", description="local time HH:MM")
    end: TimeOfDay = Field("05:00", description="local time HH:MM")

    @model_validator(mode="after")
    def _window(self) -> AlarmRule:
        if self.start == self.end:
            raise ValueError(f"start and end are both {self.start}: the alarm window would be empty")
        return self


# --- delivery -------------------------------------------------------------------------------


class MqttConfig(Section):
    url: BrokerUrl = Field(None, description="mqtt://host:port or mqtts://host:port; empty: publish nothing")
    username: OptionalText = None
    password: Password = None
    ca_file: FilePath | None = Field(None, description="CA certificate for mqtts (default: system CAs)")
    certfile: FilePath | None = Field(None, description="client certificate (optional)")
    keyfile: FilePath | None = Field(None, description="client key (optional)")
    prefix: LowerTopicPrefix = "edge"
    keepalive_s: int = Field(30, ge=5, le=3600)
    will_delay_s: int = Field(30, ge=0, le=3600, description="broker waits this long before 'offline'")
    reconnect_min_s: float = Field(1.0, ge=0.1, le=3600)
    reconnect_max_s: float = Field(60.0, ge=0.1, le=3600)

    @field_validator("ca_file", "certfile", "keyfile")
    @classmethod
    def _tls_only(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        url = info.data.get("url")
        if v is not None and "url" in info.data and not (url or "").startswith("mqtts://"):
            raise ValueError("only applies to a TLS broker: use an mqtts:// url (or remove this key)")
        if v is not None and info.field_name == "keyfile" and info.data.get("certfile") is None:
            raise ValueError("is set without certfile: give the client certificate too")
        return v

    @field_validator("reconnect_max_s")
    @classmethod
    def _reconnect_order(cls, v: float, info: ValidationInfo) -> float:
        return not_below(v, info, "reconnect_min_s")


class OutboxConfig(Section):
    max_bytes: int = Field(256 * 1024 * 1024, ge=1024 * 1024, le=1 << 40, description="outbox size on disk")
    flush_interval_s: float = Field(1.0, gt=0, le=60, description="batch writes this often")


class HealthConfig(Section):
    stats_interval_s: float = Field(60.0, ge=5, le=86400, description="publish stats this often")


class HomeAssistantConfig(Section):
    enabled: bool = False
    discovery_prefix: TopicPrefix = "homeassistant"


# --- the whole file -------------------------------------------------------------------------


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_assignment=True,
        allow_inf_nan=False,
    )

    device_id: Id = Field(
        default_factory=lambda: default_device_id(),
        description="this pole's id (default: the Pi's serial number)",
    )
    state_dir: FilePath = Field(Path("/var/lib/edge-agent"), description="outbox and sequence numbers")
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="journal verbosity")
    camera: CameraConfig = Field(default_factory=CameraConfig)
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    motion: MotionConfig = Field(default_factory=MotionConfig)
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    tracker: TrackerConfig = Field(default_factory=TrackerConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
    thumbnails: ThumbnailConfig = Field(default_factory=ThumbnailConfig)
    zones: list[ZoneConfig] = Field(default_factory=list, max_length=MAX_POLYGONS)
    lines: list[LineConfig] = Field(default_factory=list, max_length=MAX_POLYGONS)
    alarms: list[AlarmRule] = Field(default_factory=list, max_length=MAX_RULES)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    homeassistant: HomeAssistantConfig = Field(default_factory=HomeAssistantConfig)

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        problems = cross_check(
            self.zones, self.lines, self.alarms, self.detector.labels, self.camera, self.motion.height
        )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file and the credentials come in through init_settings (see load()), so
        # the environment must win over them: env first.
        return (env_settings, init_settings)
