"""Configuration: pydantic models (`settings`, its vision sections in `vision`, what every section
shares in `section`), the only place defaults live, and their loading.

`fields` holds the value types, `rules` the checks between sections, `source` the reading of
files as volunteers write them, `environment` the `EDGE_AGENT_…` variables, `files` the checks of
the files a configuration names, `errors` the one-line-per-problem `ConfigError`, and `loader`
`load()` and `effective()`. Everything callers import from `edge_agent.config` is re-exported here.
"""

from __future__ import annotations

from edge_agent.config.device import default_device_id
from edge_agent.config.errors import ConfigError, format_errors
from edge_agent.config.fields import ID_PATTERN, Fraction, Id, Point
from edge_agent.config.loader import CREDENTIALS, effective, effective_text, load
from edge_agent.config.recording import RecordingConfig
from edge_agent.config.section import Section
from edge_agent.config.settings import (
    DEFAULT_CONFIG_PATH,
    ENV_PREFIX,
    AlarmRule,
    CameraConfig,
    EventsConfig,
    HealthConfig,
    HomeAssistantConfig,
    LineConfig,
    MqttConfig,
    OutboxConfig,
    PipelineConfig,
    Settings,
    ThumbnailConfig,
    ZoneConfig,
)
from edge_agent.config.source import read_toml
from edge_agent.config.vision import DEFAULT_LABELS, DetectorConfig, MotionConfig, TrackerConfig

__all__ = [
    "CREDENTIALS",
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_LABELS",
    "ENV_PREFIX",
    "ID_PATTERN",
    "AlarmRule",
    "CameraConfig",
    "ConfigError",
    "DetectorConfig",
    "EventsConfig",
    "Fraction",
    "HealthConfig",
    "HomeAssistantConfig",
    "Id",
    "LineConfig",
    "MotionConfig",
    "MqttConfig",
    "OutboxConfig",
    "PipelineConfig",
    "Point",
    "RecordingConfig",
    "Section",
    "Settings",
    "ThumbnailConfig",
    "TrackerConfig",
    "ZoneConfig",
    "default_device_id",
    "effective",
    "effective_text",
    "format_errors",
    "load",
    "read_toml",
]
