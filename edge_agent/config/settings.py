"""Configuration: pydantic models, the only place defaults live.

Sources, highest priority first: environment (`EDGE_AGENT_…`, nested with `__`, e.g.
`EDGE_AGENT_MQTT__URL`), systemd credentials (`$CREDENTIALS_DIRECTORY/mqtt_password`), the TOML
file. Unknown keys are errors. Each section is one model; every number has bounds and no
inf/NaN; checks that need no file live here, those that read files in `files`; `loader.load()`
turns every problem into a `ConfigError` that names the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (
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
from edge_agent.config.recording import RecordingConfig, record_problem
from edge_agent.config.rules import cross_check
from edge_agent.config.section import Section, not_below
from edge_agent.config.vision import DetectorConfig, MotionConfig, TrackerConfig

DEFAULT_CONFIG_PATH = Path("/etc/edge-agent/config.toml")
ENV_PREFIX = "EDGE_AGENT_"


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
    motion_s: float = Field(
        0.0,
        ge=0,
        le=60,
        description="also ring on motion alone: a person-sized moving object this many seconds "
        "in the zone that the detector names nothing (night, IR); 0: off",
    )
    motion_min_height: float = Field(
        0.08, gt=0, le=1, description="least height of that object, as a share of the frame's height"
    )
    motion_max_speed: float = Field(
        0.3, gt=0, le=5, description="fastest it may move, in frame heights per second (lights sweep faster)"
    )

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
    recording: RecordingConfig = Field(default_factory=RecordingConfig)

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        problems = cross_check(
            self.zones, self.lines, self.alarms, self.detector.labels, self.camera, self.motion.height
        )
        stream = self.recording.stream(self.camera.source)
        why = record_problem(stream, self.camera.source) if self.recording.enabled else None
        if why:
            problems.append(f"recording: {why}")
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
