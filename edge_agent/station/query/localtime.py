"""The station's time zone: the one place that turns an instant into what a person reads, and a
time a person types into an instant.

The archive keeps UTC (µs since the epoch; ISO 8601 `…Z` in JSON). People at a ward read and
type the ward's own time: `time_zone` in the station config, an IANA name (`Asia/Ho_Chi_Minh`),
by default the server's own zone (`config.system_zone`). `shown` gives date, time and offset in the
page's language through Babel (`6 thg 12, 2026 · 21:10:20 · +07`); the offset is always there,
so a time copied into a report says which clock it is on. `parse_time` reads ISO 8601: with an
offset as given, without one in the station's zone. `iso_local` is the ISO form with an explicit
offset, for the CLI and the bag's summary; the JSON API keeps `…Z`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from babel.dates import format_datetime, format_skeleton


class TimeError(ValueError):
    """A time or a zone that cannot be used; the message names it and what is allowed."""


def instant(value: str | int | datetime) -> datetime:
    """An aware UTC datetime from ISO 8601 (`…Z` or an offset), µs since the epoch, or a datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int):
        return datetime.fromtimestamp(value / 1_000_000, UTC)
    t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Shown:
    """One instant as a person at the ward reads it."""

    utc: str  # ISO 8601 UTC, for <time datetime=…>
    date: str  # "6 thg 12, 2026" / "Dec 6, 2026"
    time: str  # "21:10:20" (or "21:10")
    offset: str  # "+07"

    @property
    def text(self) -> str:
        return f"{self.date} {self.time} · {self.offset}"


def shown(value: str | int | datetime, zone: tzinfo, lang: str, seconds: bool = True) -> Shown:
    t = instant(value)
    return Shown(
        utc=t.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        date=format_skeleton("yMMMd", t, tzinfo=zone, locale=lang),
        time=format_skeleton("Hms" if seconds else "Hm", t, tzinfo=zone, locale=lang),
        offset=format_datetime(t, "x", tzinfo=zone, locale=lang),
    )


def iso_local(value: str | int | datetime, zone: tzinfo) -> str:
    """ISO 8601 in the station's zone with its offset: 2026-12-06T21:10:20+07:00."""
    return instant(value).astimezone(zone).isoformat(timespec="seconds")


def parse_time(text: str, name: str, zone: tzinfo | None = None) -> int:
    """ISO 8601 → µs since the epoch. A time with an offset (`Z`, `+07:00`) is that instant; one
    without is on the station's clock (`zone`; the server's zone when None)."""
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise TimeError(
            f"{name}: {text!r} is not an ISO 8601 time (e.g. 2026-11-22T21:00 in the station's "
            "time zone, or 2026-11-22T14:00Z)"
        ) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=zone) if zone is not None else t.astimezone()
    return int(t.timestamp() * 1_000_000)
