"""A test message on one channel ("send a test"), from the CLI or the admin page."""

from __future__ import annotations

from datetime import tzinfo

from edge_agent.station.config.notify import NotifyConfig
from edge_agent.station.notify.channels import Channels, Outcome
from edge_agent.station.notify.messages import render
from edge_agent.station.query.search import to_iso
from edge_agent.station.store.ops import now_us


def send_test(cfg: NotifyConfig, channels: Channels, name: str, station_id: str, zone: tzinfo) -> Outcome:
    facts = {"channel": name, "station": station_id, "time": to_iso(now_us())}
    language = channels.languages.get(name, cfg.language)
    title, body = render("test", facts, language, zone, cfg.templates)
    return channels.send(name, title, body, key=f"test:{name}:{now_us()}")
