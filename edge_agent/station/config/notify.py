"""The `[notify]` section: channels (Apprise URLs), pole groups, subscriptions, templates.

Everything a technician can get wrong here is caught by `check-config`, not at 2 a.m.: a channel
URL that is not a URL or names a service Apprise does not know, a subscription naming an unknown
channel, group, pole group or kind, a quiet-hours range that is not HH:MM-HH:MM, a template that
uses a field its kind does not have. A channel URL holds a secret (a bot token, an SMTP
password): it is never repeated in an error, a log line or a page — only its masked form.
"""

from __future__ import annotations

import os
import re
import string
from datetime import time
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

Name = Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,64}$")]

# Each kind of message and the fields its templates may use (`{pole}`, `{camera}`, ...).
COMMON_FIELDS = ("station", "pole", "camera", "time", "link")
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "alarm": ("rule", "zone", "label", "event", "ack_link"),
    "pole_offline": ("state", "since", "last_heard"),
    "pole_reminder": ("state", "since", "last_heard", "down_for"),
    "pole_back": ("since", "down_for"),
    "pole_flapping": ("changes", "window"),
    "camera_health": ("condition", "detail"),
    "camera_recovered": ("condition", "detail"),
    "seq_gap": ("first_seq", "last_seq", "missing"),
    "pole_key_changed": ("pinned", "offered"),
    "footage_broken": ("detail",),
    "station_disk": ("free_percent", "free_gb", "path"),
    "ingest_stalled": ("quiet_for", "last_heard", "broker"),
    "digest": ("day", "summary"),
    "summary": ("count", "what", "window"),
    "test": ("channel",),
}
KINDS = tuple(k for k in KIND_FIELDS if k not in ("summary", "test", "digest"))  # digest: digest_at
DEFAULT_KINDS = ("alarm", "pole_offline", "pole_reminder", "pole_back", "pole_flapping")
QUIET = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
URL_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def mask_url(url: str) -> str:
    """What a channel's URL may show: Apprise's privacy form, or only its scheme."""
    import apprise

    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is None:
        return url.split("://", 1)[0] + "://…" if "://" in url else "(not a URL)"
    return str(plugin.url(privacy=True))


class ChannelConfig(Section):
    """One way of telling people: an Apprise URL, inline or in a 0600 file."""

    name: Name
    url: SecretStr | None = Field(None, description="Apprise URL: tgram://, mailto://, ntfy://, json://")
    url_file: Path | None = Field(
        None, description="file holding the URL (mode 0600), instead of `url` in this file"
    )
    language: str | None = Field(None, description="vi or en (default: notify.language)")

    @model_validator(mode="after")
    def _one_url(self) -> ChannelConfig:
        if (self.url is None) == (self.url_file is None):
            raise ValueError(f"channel {self.name!r}: give exactly one of url or url_file")
        if self.language not in (None, "vi", "en"):
            raise ValueError(f"channel {self.name!r}: language must be vi or en")
        check_channel_url(self.name, self.secret_url())
        return self

    def secret_url(self) -> str:
        if self.url is not None:
            return self.url.get_secret_value().strip()
        assert self.url_file is not None
        path = self.url_file
        try:
            mode = path.stat().st_mode & 0o777
            text = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(
                f"channel {self.name!r}: url_file {path} cannot be read ({exc.strerror})"
            ) from None
        if mode & 0o077 and os.environ.get("EDGE_STATION_ALLOW_OPEN_URL_FILE") != "1":
            raise ValueError(
                f"channel {self.name!r}: url_file {path} is readable by others (mode {mode:o}); "
                f"it holds a token: chmod 600 {path}"
            )
        return text

    def masked(self) -> str:
        try:
            return mask_url(self.secret_url())
        except ValueError:
            return "(unreadable)"


def check_channel_url(name: str, url: str) -> None:
    """A clear error, naming the channel and never the secret, unless Apprise can use `url`."""
    if not url:
        raise ValueError(f"channel {name!r}: the URL is empty")
    if not URL_SCHEME.match(url):
        raise ValueError(
            f"channel {name!r}: not a URL (it must start with a scheme such as tgram://, mailto://, "
            "ntfys://, json://)"
        )
    import apprise

    scheme = url.split("://", 1)[0].lower()
    if not _known_scheme(scheme):
        raise ValueError(
            f"channel {name!r}: unknown scheme {scheme}:// (Apprise's list: "
            "https://github.com/caronc/apprise/wiki; Telegram is tgram://, email mailto://)"
        )
    if apprise.Apprise.instantiate(url, suppress_exceptions=True) is None:
        raise ValueError(
            f"channel {name!r}: {scheme}:// URL is incomplete or malformed ({mask_url(url)}); "
            "see the service's page in Apprise's wiki"
        )


def _known_scheme(scheme: str) -> bool:
    from apprise.manager_plugins import NotificationManager

    return scheme in NotificationManager()


class SubscriptionConfig(Section):
    """Who is told what: kinds, poles (names or `group:NAME`), hours, limits, escalation."""

    name: Name
    channels: list[Name] = Field(min_length=1, description="channels this subscription uses")
    kinds: list[str] = Field(default_factory=lambda: list(DEFAULT_KINDS))
    poles: list[str] = Field(
        default_factory=lambda: ["*"], description='pole names, "group:NAME", or "*" (all)'
    )
    quiet_hours: str | None = Field(None, description="HH:MM-HH:MM (ward time) nothing but alarms is sent")
    quiet_alarms: bool = Field(False, description="alarms are quiet in quiet_hours too")
    group_window_s: float = Field(300.0, ge=0, le=86400, description="the same kind on one pole: grouped")
    max_per_hour: int = Field(30, ge=1, le=10000, description="more than this: held back, counted")
    escalate_to: Name | None = Field(None, description="subscription told when an alarm is not acknowledged")
    escalate_after_s: float = Field(600.0, ge=30, le=86400)
    digest_at: str | None = Field(None, description="HH:MM (ward time): a daily digest of the last 24 h")

    @field_validator("digest_at")
    @classmethod
    def _digest(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^([01]\d|2[0-3]):[0-5]\d$", v.strip()):
            raise ValueError("digest_at must be HH:MM in ward time, e.g. 07:00")
        return None if v is None else v.strip()

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, v: list[str]) -> list[str]:
        bad = [k for k in v if k not in KINDS]
        if bad:
            raise ValueError(f"unknown kind {bad[0]!r} (kinds: {', '.join(KINDS)})")
        return v

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, v: str | None) -> str | None:
        if v is not None and not QUIET.match(v.strip()):
            raise ValueError("quiet_hours must be HH:MM-HH:MM in ward time, e.g. 22:30-06:00")
        return None if v is None else v.strip()

    def quiet_range(self) -> tuple[time, time] | None:
        if self.quiet_hours is None:
            return None
        m = QUIET.match(self.quiet_hours)
        assert m is not None
        return time(int(m[1]), int(m[2])), time(int(m[3]), int(m[4]))


class RetryConfig(Section):
    attempts: int = Field(8, ge=1, le=100, description="tries before a message is a dead letter")
    backoff_min_s: float = Field(5.0, gt=0, le=3600, description="the first wait after a failure")
    backoff_max_s: float = Field(900.0, gt=0, le=86400, description="the longest wait")
    timeout_s: float = Field(20.0, gt=0, le=300, description="one send's network timeout")


class NotifyConfig(Section):
    enabled: bool = Field(True, description="send messages (off: the outbox still fills, nothing goes)")
    base_url: str = Field(
        "http://127.0.0.1:8480", description="the station's address as a phone reaches it, for links"
    )
    language: str = Field("vi", description="vi or en: the messages' language")
    channels: list[ChannelConfig] = Field(default_factory=list)
    groups: dict[Name, list[Name]] = Field(default_factory=dict, description="pole groups: tổ 3, chợ")
    subscriptions: list[SubscriptionConfig] = Field(default_factory=list)
    reminders_s: list[float] = Field(
        default_factory=lambda: [3600.0, 86400.0], description="reminders while a pole stays down"
    )
    flap_changes: int = Field(3, ge=2, le=100, description="offline alerts in flap_window_s = flapping")
    flap_window_s: float = Field(3600.0, gt=0, le=7 * 86400)
    ack_valid_s: float = Field(86400.0, gt=60, le=30 * 86400, description="an acknowledge link lasts")
    poll_s: float = Field(1.0, gt=0, le=60, description="how often the stored messages are read")
    stall_after_s: float = Field(
        900.0, ge=60, le=7 * 86400, description="no message from any pole this long = ingest stalled"
    )
    retry: RetryConfig = Field(default_factory=RetryConfig)
    templates: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="per kind and language: {title}\\n{body} overrides"
    )

    @field_validator("language")
    @classmethod
    def _language(cls, v: str) -> str:
        if v not in ("vi", "en"):
            raise ValueError("must be vi or en")
        return v

    @field_validator("base_url")
    @classmethod
    def _base(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError("must be the station's http:// or https:// address, e.g. https://ward.example")
        return v.rstrip("/")

    @field_validator("templates")
    @classmethod
    def _templates(cls, v: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for kind, by_language in v.items():
            if kind not in KIND_FIELDS:
                raise ValueError(f"templates.{kind}: unknown kind (kinds: {', '.join(KIND_FIELDS)})")
            for language, text in by_language.items():
                if language not in ("vi", "en"):
                    raise ValueError(f"templates.{kind}.{language}: the language must be vi or en")
                check_template(kind, language, text)
        return v

    @model_validator(mode="after")
    def _names(self) -> NotifyConfig:
        channels = [c.name for c in self.channels]
        subs = [s.name for s in self.subscriptions]
        for what, names in (("channel", channels), ("subscription", subs)):
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"{what} {twice[0]!r} is defined twice; each name must be unique")
        for s in self.subscriptions:
            for c in s.channels:
                if c not in channels:
                    raise ValueError(
                        f"subscription {s.name!r} names channel {c!r}, which is not in "
                        f"[[notify.channels]] ({', '.join(channels) or 'none defined'})"
                    )
            for p in s.poles:
                if p.startswith("group:") and p[6:] not in self.groups:
                    raise ValueError(
                        f"subscription {s.name!r} names pole group {p[6:]!r}, which is not in "
                        f"[notify.groups] ({', '.join(self.groups) or 'none defined'})"
                    )
            if s.escalate_to is not None and s.escalate_to not in subs:
                raise ValueError(
                    f"subscription {s.name!r} escalates to {s.escalate_to!r}, which is not defined"
                )
            if s.escalate_to == s.name:
                raise ValueError(f"subscription {s.name!r} escalates to itself")
        return self

    def channel(self, name: str) -> ChannelConfig:
        return next(c for c in self.channels if c.name == name)

    def subscription(self, name: str) -> SubscriptionConfig:
        return next(s for s in self.subscriptions if s.name == name)

    def poles_of(self, sub: SubscriptionConfig) -> set[str] | None:
        """The poles a subscription covers (None: all)."""
        if "*" in sub.poles:
            return None
        out: set[str] = set()
        for p in sub.poles:
            out |= set(self.groups[p[6:]]) if p.startswith("group:") else {p}
        return out


def check_template(kind: str, language: str, text: str) -> None:
    """A template is `title` on its first line and the body below; every field must be known."""
    allowed = set(COMMON_FIELDS) | set(KIND_FIELDS[kind])
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        raise ValueError(f"templates.{kind}.{language}: {exc} (write {{{{ and }}}} for a brace)") from None
    for f in fields:
        name = re.split(r"[.\[!:]", f, maxsplit=1)[0]
        if name not in allowed:
            raise ValueError(
                f"templates.{kind}.{language}: unknown field {{{f}}} (fields: "
                + ", ".join(sorted(allowed))
                + ")"
            )


def sample_facts(kind: str) -> dict[str, Any]:
    return {f: f"<{f}>" for f in (*COMMON_FIELDS, *KIND_FIELDS[kind])}
