"""The value types of the configuration: ids, topic levels, coordinates, polygons, times of day.

Every pattern is a full match (pydantic's Rust regex, or `re.fullmatch`): a trailing newline or
space never passes. Lengths are capped so that nothing a volunteer types can make a topic, a
polygon or a list that the agent refuses or chokes on at run time.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr

ID_PATTERN = r"^[a-z0-9_-]{1,64}$"
# A topic prefix made of levels: no '+', '#', NUL, space or empty level; at most 8 levels.
TOPIC_PREFIX_PATTERN = r"^[A-Za-z0-9_-]{1,64}(/[A-Za-z0-9_-]{1,64}){0,7}$"
MAX_POLYGON_POINTS = 100
MAX_POLYGONS = 32
MAX_RULES = 64
CAMERA_SCHEMES = ("rtsp", "rtsps", "http", "https", "rtmp", "rtmps", "udp", "tcp", "srt")

Id = Annotated[str, Field(pattern=ID_PATTERN)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Point = tuple[Fraction, Fraction]
Polygon = Annotated[list[Point], Field(min_length=3, max_length=MAX_POLYGON_POINTS)]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _hhmm(text: str) -> str:
    if not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", text):
        raise ValueError("must be a time of day HH:MM, from 00:00 to 23:59")
    return text


def _no_control(text: str) -> str:
    if _CONTROL.search(text):
        raise ValueError("must not contain control characters (a tab, line break or NUL)")
    return text


def _path(path: Path) -> Path:
    if _CONTROL.search(str(path)) or not str(path).strip() or str(path) == ".":
        raise ValueError("must be a file path, without control characters")
    return path


def _topic_prefix(text: str, lower: bool = False) -> str:
    if len(text) > 200 or not re.fullmatch(TOPIC_PREFIX_PATTERN, text) or (lower and text != text.lower()):
        letters = "lower-case letters" if lower else "letters"
        raise ValueError(
            f"must be 1 to 8 MQTT topic levels of {letters}, digits, _ and - joined by / "
            "(no +, #, spaces, empty levels or a / at either end)"
        )
    return text


TopicPrefix = Annotated[str, AfterValidator(_topic_prefix)]
LowerTopicPrefix = Annotated[str, AfterValidator(lambda t: _topic_prefix(t, lower=True))]
TimeOfDay = Annotated[str, AfterValidator(_hhmm)]
Text = Annotated[str, Field(min_length=1, max_length=1024), AfterValidator(_no_control)]
# An optional one-line text: empty means unset.
OptionalText = Annotated[Text | None, BeforeValidator(lambda v: None if v == "" else v)]
FilePath = Annotated[Path, AfterValidator(_path)]


def _camera_source(v: str) -> str:
    _no_control(v)
    if not v.strip() or len(v) > 2048:
        raise ValueError("must be picamera2, a camera URL, a device or a file (1 to 2048 characters)")
    if v.startswith("usb:") and not re.fullmatch(r"usb:[0-9]{1,2}", v):
        raise ValueError("a USB camera is usb:N with N its number (usb:0 is the first)")
    if "://" in v:
        scheme = v.split("://", 1)[0].lower()
        # Whitespace and quotes must be percent-encoded; refusing them also lets
        # `contract.redact` find the password of every camera URL in any log line.
        if scheme not in CAMERA_SCHEMES or re.search(r"[\s\"'<>]", v):
            raise ValueError(
                f"a camera URL must start with {', '.join(s + '://' for s in CAMERA_SCHEMES)} and "
                "hold no spaces, quotes, < or > (in a password write them as %20, %22, %27, %3C, %3E)"
            )
        try:
            urlsplit(v).port  # noqa: B018  (raises on a port that is no number or out of range)
        except ValueError:
            raise ValueError(
                "the camera URL's port is not a number from 1 to 65535 (in a password write # ? / @ "
                "as %23 %3F %2F %40)"
            ) from None
    return v


_HOST = r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])"


def _broker_url(v: str | None) -> str | None:
    if v in (None, ""):
        return None
    if "@" in v:
        raise ValueError(
            "must not hold a user or password (user:password@): put the user in mqtt.username "
            "and the password in edge-agent.secret"
        )
    m = re.fullmatch(rf"mqtts?://{_HOST}(?::(\d{{1,5}}))?/?", v)
    if not m or (m.group(1) and not 1 <= int(m.group(1)) <= 65535):
        raise ValueError("must look like mqtt://host:1883 or mqtts://host:8883 (port 1..65535)")
    return v


def _password(v: SecretStr | None) -> SecretStr | None:
    if v is None:
        return None
    secret = v.get_secret_value()
    if len(secret) > 1024 or re.search(r"[\x00-\x1f\x7f\ufeff]", secret):
        raise ValueError(
            "must be one line of at most 1024 characters, without control characters or a byte "
            "order mark (save edge-agent.secret as plain UTF-8 text)"
        )
    return v if secret else None


def _once(v: list[str]) -> list[str]:
    twice = sorted({label for label in v if v.count(label) > 1})
    if twice:
        raise ValueError(f"{', '.join(map(repr, twice))} listed more than once")
    return v


CameraSource = Annotated[str, AfterValidator(_camera_source)]
BrokerUrl = Annotated[str | None, AfterValidator(_broker_url)]
Password = Annotated[SecretStr | None, AfterValidator(_password)]
Label = Annotated[str, Field(min_length=1, max_length=64)]
Labels = Annotated[list[Label], Field(min_length=1, max_length=100), AfterValidator(_once)]
