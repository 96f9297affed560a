"""The channels: one Apprise object per `[[notify.channels]]` entry, and what one send gave.

Apprise knows ~100 services by URL (Telegram `tgram://`, email `mailto://`, ntfy `ntfys://`, a
JSON webhook `json://`); this module adds what a station needs around it: a timeout, an
idempotency key where the service takes one (the webhook's `Idempotency-Key` header), the
picture attached, and an error that says what failed (refused, DNS, timeout, an HTTP status)
with every secret of the URL masked, for the outbox, the log and `notify test`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import apprise

from edge_agent.station.config.notify import NotifyConfig

log = logging.getLogger("edge_agent.station.notify")
MIN_SECRET = 4
# Apprise waits 5.5 s between two sends on one channel unless the service says otherwise (email
# does not): polite for a mail relay, but it would hold the tenth alarm of a burst for 50 s. The
# station limits what it sends per subscription itself (grouping, max_per_hour), so a channel
# waits at most this long between sends; services that ask for less (Telegram) keep theirs.
THROTTLE_MAX_S = 0.1


@dataclass(frozen=True)
class Outcome:
    ok: bool
    error: str = ""  # masked; says what failed


def secrets_of(url: str) -> list[str]:
    """The parts of a channel URL that may be secret: user, password, path, query values (and
    Telegram's host part, which is the bot's token)."""
    scheme, _, rest = url.partition("://")
    netloc, _, tail = rest.partition("/")
    path, _, query = tail.partition("?")
    userinfo, _, host = netloc.rpartition("@")
    out = userinfo.split(":")
    if scheme.lower() == "tgram":
        out += [host, *host.split(":")]
    out += [p for p in path.split("/") if p]
    out += [v for kv in query.split("&") for v in kv.split("=")[1:]]
    found = {unquote(s) for s in out if len(s) >= MIN_SECRET} | {s for s in out if len(s) >= MIN_SECRET}
    return sorted(found, key=len, reverse=True)


def mask(text: str, secrets: list[str]) -> str:
    for s in secrets:
        text = text.replace(s, s[:2] + "…")
    return re.sub(r"bot\d+:[A-Za-z0-9_-]+", "bot…", text)


class Channels:
    def __init__(self, cfg: NotifyConfig, timeout_s: float) -> None:
        self._plugins: dict[str, Any] = {}
        self._secrets: dict[str, list[str]] = {}
        self.languages: dict[str, str] = {}
        for c in cfg.channels:
            url = c.secret_url()
            plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
            if plugin is None:  # checked at load; a file changed since
                log.error("channel %s: its URL no longer works (%s)", c.name, c.masked())
                continue
            plugin.socket_connect_timeout = timeout_s
            plugin.socket_read_timeout = timeout_s
            plugin.request_rate_per_sec = min(plugin.request_rate_per_sec, THROTTLE_MAX_S)
            self._plugins[c.name] = plugin
            self._secrets[c.name] = secrets_of(url)
            self.languages[c.name] = c.language or cfg.language

    def names(self) -> list[str]:
        return sorted(self._plugins)

    def masked(self, name: str) -> str:
        plugin = self._plugins.get(name)
        return "(not usable)" if plugin is None else str(plugin.url(privacy=True))

    def send(self, name: str, title: str, body: str, picture: Path | None = None, key: str = "") -> Outcome:
        plugin = self._plugins.get(name)
        if plugin is None:
            return Outcome(False, f"channel {name}: not configured or its URL is not usable")
        headers = getattr(plugin, "headers", None)
        if isinstance(headers, dict) and key:
            headers["Idempotency-Key"] = key  # the JSON webhook: a retried POST is recognisable
        a = apprise.Apprise()
        a.add(plugin)
        attach = apprise.AppriseAttachment(str(picture)) if picture is not None else None
        with apprise.LogCapture(level=logging.INFO) as captured:
            try:
                result = a.notify(body=body, title=title, attach=attach)
            except Exception as exc:  # a plugin's surprise must not end the sender
                return Outcome(False, mask(f"{type(exc).__name__}: {exc}", self._secrets[name]))
        if result:
            return Outcome(True)
        return Outcome(False, mask(_reason(captured.getvalue()), self._secrets[name]))


def _reason(logs: str) -> str:
    """The most telling lines of Apprise's log of a failed send."""
    lines = [ln.split(" - ", 2)[-1].strip() for ln in logs.splitlines() if " - " in ln]
    bad = [ln for ln in lines if not ln.startswith(("Sending", "Sent", "Applying", "Attaching"))]
    text = " | ".join(dict.fromkeys(bad or lines))[-600:]
    return text or "the service refused it (no detail)"
