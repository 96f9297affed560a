"""Times on the pages: every instant a template shows goes through the `when` filter.

`{{ e.start|when }}` → `<time datetime="2026-12-06T14:10:20Z" title="2026-12-06 14:10:20 UTC">
6 thg 12, 2026 21:10:20 · +07</time>`: the station's zone (`time_zone`), the page's language,
the offset always visible, the exact UTC instant in the attribute (and as a tooltip).
`when_minute` drops the seconds (fleet lists). An empty value is a dash. The `pole_time` macro of
`_time.html` adds the unsynced-clock mark and the receive time where a pole's time is shown.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo

from markupsafe import Markup

from edge_agent.station.query.localtime import instant, shown

Value = str | int | datetime | None
TIME = Markup('<time datetime="{utc}" title="{title} UTC">{date} {time} · {offset}</time>')


def when(value: Value, zone: tzinfo, lang: str, seconds: bool = True) -> Markup:
    if value is None or value == "":
        return Markup("—")
    try:
        s = shown(value, zone, lang, seconds)
    except (ValueError, TypeError, OverflowError):
        return Markup("{}").format(value)  # not a time: shown as it came, escaped
    title = instant(value).strftime("%Y-%m-%d %H:%M:%S")
    return TIME.format(utc=s.utc, title=title, date=s.date, time=s.time, offset=s.offset)


def filters(zone: tzinfo, lang: str) -> dict[str, Callable[[Value], Markup]]:
    return {
        "when": lambda v: when(v, zone, lang),
        "when_minute": lambda v: when(v, zone, lang, seconds=False),
    }
