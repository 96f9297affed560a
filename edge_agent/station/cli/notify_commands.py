"""`edge-agent station notify test | list | snooze | unsnooze`: the alerts, for the admin.

`test` sends a test message on each channel (or one) and says what failed — refused, DNS, a
timeout, a bad token — with the URL's secrets masked; `list` shows the subscriptions, the active
snoozes and the outbox (what is pending, what was skipped and why, the dead letters).
"""

from __future__ import annotations

import argparse
import re

from sqlalchemy import Engine

from edge_agent.station.config import StationSettings
from edge_agent.station.errors import EXIT_CASE, EXIT_CONFIG, EXIT_FAILED, UserError
from edge_agent.station.query.localtime import iso_local
from edge_agent.station.store.ops import now_us

DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$")
UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    m = DURATION.match(text.strip().lower())
    if m is None or float(m[1]) <= 0:
        raise UserError(f"--for {text!r}: give a duration such as 30m, 2h or 3d", EXIT_CONFIG)
    seconds = float(m[1]) * UNIT_S[m[2]]
    if seconds > 90 * 86400:
        raise UserError(f"--for {text!r}: at most 90 days (use maintenance for longer)", EXIT_CONFIG)
    return seconds


def test(settings: StationSettings, channel: str | None, actor: str) -> int:
    from edge_agent.station.notify.channels import Channels
    from edge_agent.station.notify.probe import send_test

    n = settings.notify
    names = [c.name for c in n.channels]
    if not names:
        raise UserError("no [[notify.channels]] in the config: add one (docs/alerts.md)", EXIT_CONFIG)
    if channel is not None and channel not in names:
        raise UserError(f"no channel named {channel!r} (channels: {', '.join(names)})", EXIT_CONFIG)
    channels = Channels(n, n.retry.timeout_s)
    zone = settings.zone[0]
    failed = 0
    for name in [channel] if channel else names:
        outcome = send_test(n, channels, name, settings.station_id, zone)
        where = channels.masked(name)
        if outcome.ok:
            print(f"{name} ({where}): sent — check that it arrived")
        else:
            failed += 1
            print(f"{name} ({where}): FAILED: {outcome.error}")
    return EXIT_FAILED if failed else 0


def listing(engine: Engine, settings: StationSettings, limit: int) -> int:
    from edge_agent.station.notify.report import overview

    n, zone = settings.notify, settings.zone[0]
    print("subscriptions:")
    for s in n.subscriptions:
        extra = f", quiet {s.quiet_hours}" if s.quiet_hours else ""
        if s.escalate_to:
            extra += f", escalates to {s.escalate_to} after {s.escalate_after_s:.0f} s"
        print(
            f"  {s.name}: {', '.join(s.kinds)} · poles {', '.join(s.poles)} · via {', '.join(s.channels)}"
            f" · at most {s.max_per_hour}/h, grouped over {s.group_window_s:.0f} s{extra}"
        )
    if not n.subscriptions:
        print("  none: nobody is told (add [[notify.subscriptions]])")
    print("channels:")
    for c in n.channels:
        print(f"  {c.name}: {c.masked()}")
    with engine.connect() as conn:
        seen = overview(conn, now_us(), limit)
    print("snoozed:" if seen.snoozes else "snoozed: none")
    for z in seen.snoozes:
        what = f"{z.device}/{z.camera}" if z.camera else z.device
        print(
            f"  {what} until {iso_local(int(z.until_us), zone)} by {z.by}" + (f": {z.note}" if z.note else "")
        )
    print("outbox: " + (", ".join(f"{k} {v}" for k, v in sorted(seen.states.items())) or "empty"))
    for r in seen.rows:
        why = f" — {r.reason}" if r.reason else ""
        ack = f" · acknowledged by {r.ack_by}" if r.ack_by else ""
        print(
            f"  #{r.id} {iso_local(int(r.created_us), zone)} {r.kind} {r.device or '-'}"
            f" → {r.subscription}/{r.channel}: {r.state} (tries {r.attempts}){ack}{why}"
        )
    return 0


def snooze(engine: Engine, args: argparse.Namespace, actor: str) -> int:
    from edge_agent.station.notify.snooze import snooze as do_snooze
    from edge_agent.station.notify.snooze import unsnooze

    if not args.pole:
        raise UserError(
            f"notify {args.action}: name the pole (e.g. notify {args.action} pole17)", EXIT_CONFIG
        )
    from edge_agent.station.fleet.state import known

    with engine.connect() as conn:
        exists = known(conn, args.pole)
    if not exists:
        raise UserError(f"no pole named {args.pole!r} has sent anything to this station", EXIT_CASE)
    what = f"{args.pole}/{args.camera}" if args.camera else args.pole
    if args.action == "unsnooze":
        n = unsnooze(engine, args.pole, args.camera or "", actor)
        print(f"{what}: {'snooze ended' if n else 'was not snoozed'}")
        return 0
    if not args.for_:
        raise UserError("notify snooze: say for how long, e.g. --for 2h", EXIT_CONFIG)
    until = do_snooze(engine, args.pole, args.camera or "", parse_duration(args.for_), actor, args.note)
    print(f"{what}: snoozed until {iso_local(until, args.zone)} (in the audit log)")
    return 0
