"""The station's configuration: one TOML file, `EDGE_STATION_…` environment overrides.

Unknown keys are errors; `load()` turns every problem into a `ConfigError` with one line per
problem naming the key, and the CLI exits with status 2.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from datetime import tzinfo
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from edge_agent.contract import redact
from edge_agent.station.config.footage import FootageConfig
from edge_agent.station.config.notify import NotifyConfig

DEFAULT_CONFIG_PATH = Path("/etc/edge-station/station.toml")
ENV_PREFIX = "EDGE_STATION_"
UTC_ZONE = ZoneInfo("UTC")
ZONEINFO_DIR = "zoneinfo/"
Id = Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,64}$")]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BrokerConfig(Section):
    name: Id = Field("ward", description="short name of this broker, stored beside every message")
    url: str = Field("mqtt://127.0.0.1:1883", description="mqtt://host:port or mqtts://host:port")
    username: str | None = Field("station", description="broker user (reads P/#, writes P/+/cmd/#)")
    password: SecretStr | None = Field(None, description="broker password")
    ca_file: Path | None = Field(None, description="CA certificate for mqtts://")
    client_id: str | None = Field(None, description="MQTT client id (default: edge-station-<station_id>)")
    prefix: Id = Field("edge", description="the poles' topic prefix")
    session_expiry_days: float = Field(7.0, gt=0, le=365, description="broker keeps our queue this long")
    receive_maximum: int = Field(1000, ge=1, le=65535, description="unacknowledged messages in flight")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("must look like mqtt://host:1883 or mqtts://host:8883")
        if parts.password or parts.username:
            raise ValueError("put the user and password in username/password, not in the URL")
        return v


class DatabaseConfig(Section):
    url: str | None = Field(
        None,
        description="postgresql+psycopg://user@host/db (default: SQLite in state_dir)",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return v


class IngestConfig(Section):
    max_payload_bytes: int = Field(4 * 2**20, ge=1024, description="larger messages are rejected")
    batch_max: int = Field(500, ge=1, le=10000, description="messages stored per transaction at most")
    thumbnail_wait_s: float = Field(120.0, gt=0, description="flag an event's thumbnail missing after")


class FleetConfig(Section):
    stale_after_s: float = Field(180.0, gt=0, description="no stats for this long = silent")
    alert_after_s: float = Field(300.0, ge=0, description="offline or silent this long = alert")
    alert_topic: str = Field("station/alerts", description="topic the station's alerts go to")


class RetentionConfig(Section):
    events_days: float = Field(90.0, gt=0, description="delete events older than this")
    pictures_days: float = Field(30.0, gt=0, description="delete pictures older than this")
    disk_min_free_percent: float = Field(10.0, ge=0, le=90, description="delete oldest below this")
    interval_s: float = Field(600.0, gt=0, description="how often retention runs")


class HttpConfig(Section):
    host: str = Field("127.0.0.1", description="address the JSON API listens on")
    port: int = Field(8480, ge=1, le=65535)


class WebConfig(Section):
    """The `[web]` section: the pages' language, the wall's public poles, logins, live pages."""

    language: Literal["vi", "en"] = Field("vi", description="the pages' language (each user may switch)")
    public_poles: list[str] = Field(
        default_factory=list, description="poles whose latest snapshot residents may see on the wall"
    )
    cookie_secure: bool = Field(True, description="session cookie only over HTTPS (and localhost)")
    session_hours: float = Field(12.0, gt=0, le=24 * 30, description="a login lasts this long")
    login_max_failures: int = Field(5, ge=1, le=100, description="failed logins per account in the window")
    login_window_s: float = Field(900.0, gt=0, description="the failed-login window")
    live_interval_s: float = Field(2.0, gt=0, le=60, description="how often live pages are refreshed")
    live_max_s: float = Field(
        300.0, gt=0, description="a live stream ends after this; the browser reconnects"
    )
    events_per_page: int = Field(60, ge=1, le=500)


class StationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid")

    station_id: Id = Field("ward", description="this station's id, in exports and alerts")
    state_dir: Path = Field(Path("/var/lib/edge-station"), description="database, pictures, key")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    time_zone: str | None = Field(
        None,
        description="the ward's time zone for pages, forms and the CLI, an IANA name such as "
        "Asia/Ho_Chi_Minh (default: the server's own zone)",
    )
    brokers: list[BrokerConfig] = Field(default_factory=lambda: [BrokerConfig()])
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    fleet: FleetConfig = Field(default_factory=FleetConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    footage: FootageConfig = Field(default_factory=FootageConfig)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file comes in through init_settings (see load()): the environment wins over it.
        return (env_settings, init_settings)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        return None if v is None else zone_named(v).key

    @property
    def zone(self) -> tuple[tzinfo, str]:
        """The station's zone and where it comes from (the config, or the server)."""
        if self.time_zone is not None:
            return zone_named(self.time_zone), "time_zone in the config"
        return system_zone()

    @field_validator("brokers")
    @classmethod
    def _unique_names(cls, v: list[BrokerConfig]) -> list[BrokerConfig]:
        names = [b.name for b in v]
        if len(set(names)) != len(names):
            raise ValueError("every broker needs its own name")
        return v

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.state_dir / 'station.db'}"

    @property
    def pictures_dir(self) -> Path:
        return self.state_dir / "pictures"

    @property
    def footage_dir(self) -> Path:
        """The segments pulled from the poles, as they were recorded."""
        return self.state_dir / "footage"

    @property
    def key_path(self) -> Path:
        return self.state_dir / "station-ed25519.pem"

    @property
    def ack_key_path(self) -> Path:
        """The secret that signs the alarm messages' acknowledge links (made once, 0600)."""
        return self.state_dir / "notify-ack.key"

    def client_id(self, broker: BrokerConfig) -> str:
        return broker.client_id or f"edge-station-{self.station_id}-{broker.name}"


def zone_named(name: str) -> ZoneInfo:
    """The IANA zone `name`, or a ValueError saying what a zone name looks like."""
    text = name.strip()
    if not text or text.startswith(("/", ".")) or ".." in text or len(text) > 64:
        raise ValueError(f"{name!r} is not a time zone name (an IANA name such as Asia/Ho_Chi_Minh)")
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as Asia/Ho_Chi_Minh or "
            "Europe/Berlin (`timedatectl list-timezones` lists them)"
        ) from None


def system_zone(environ: Mapping[str, str] | None = None, etc: Path = Path("/etc")) -> tuple[ZoneInfo, str]:
    """The server's own zone and where it was read: $TZ, /etc/localtime's link into zoneinfo/,
    /etc/timezone (Debian), else UTC."""
    env = os.environ if environ is None else environ
    tz = env.get("TZ", "").removeprefix(":")
    if tz:
        try:
            return zone_named(tz), "$TZ"
        except ValueError:
            pass
    try:
        target = os.readlink(etc / "localtime")
        if ZONEINFO_DIR in target:
            return zone_named(target.split(ZONEINFO_DIR, 1)[1]), f"{etc / 'localtime'}"
    except (OSError, ValueError):
        pass
    try:
        return zone_named((etc / "timezone").read_text().strip()), f"{etc / 'timezone'}"
    except (OSError, ValueError):
        pass
    return UTC_ZONE, "no zone set on this server"


def zone_label(zone: tzinfo) -> str:
    return getattr(zone, "key", None) or str(zone)


class ConfigError(Exception):
    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def _key(loc: tuple[int | str, ...]) -> str:
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else (("." if out else "") + p)
    return out or "(top level)"


def format_errors(err: ValidationError) -> list[str]:
    lines = []
    for e in err.errors(include_url=False):
        key = _key(tuple(e["loc"]))
        if e["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown key (see docs/station.md for the keys allowed)")
            continue
        given = e.get("input")
        shown = (
            ""
            if isinstance(given, dict | list) or given is None or "password" in key or "channels" in key
            else f" (got {redact(repr(given))})"
        )
        lines.append(f"{key}: {e['msg'].removeprefix('Value error, ')}{shown}")
    return lines


def read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found (create it, or pass --config FILE)"]) from None
    except IsADirectoryError:
        raise ConfigError(str(path), ["is a directory, not a TOML file"]) from None
    except PermissionError:
        raise ConfigError(str(path), ["cannot be read: permission denied"]) from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), ["is not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"invalid TOML: {exc}"]) from None


def _credentials(data: dict[str, Any]) -> None:
    """systemd's LoadCredential=broker_password fills the first broker's unset password."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    path = Path(directory) / "broker_password" if directory else None
    if path is None or not path.is_file():
        return
    value = path.read_text(encoding="utf-8").strip()
    brokers = data.setdefault("brokers", [{}])
    if value and isinstance(brokers, list) and brokers and isinstance(brokers[0], dict):
        brokers[0].setdefault("password", value)


def load(path: Path | None, overrides: dict[str, Any] | None = None) -> StationSettings:
    data: dict[str, Any] = read_toml(path) if path is not None else {}
    _credentials(data)
    data.update(overrides or {})
    try:
        return StationSettings(**data)
    except ValidationError as exc:
        raise ConfigError(str(path) if path else "configuration", format_errors(exc)) from None
