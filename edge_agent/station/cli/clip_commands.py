"""`edge-agent station clip …` and `station clips`: ask a pole for footage, see where it stands.

`clip pole17/cam0 --from 21:05 --to 21:15` asks for a time range on one camera; `clip
pole17/pole17-cam0-000042` for an event with the `[footage]` margins. The running station service
pulls it (now if the pole is online, when it is back if not); `clips` lists the requests with
their state — waiting for the pole, uploading n of m, done, or not available with the reason —
and `clips ID` each segment of one. Asking is written to the audit trail.
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from sqlalchemy import Engine

from edge_agent.station.config import StationSettings
from edge_agent.station.errors import EXIT_CASE, EXIT_CONFIG, UserError
from edge_agent.station.evidence import auditlog
from edge_agent.station.footage.keys import accept_key, summary
from edge_agent.station.footage.requests import (
    ClipError,
    ClipStatus,
    ask_event,
    ask_range,
    requests_for,
    status,
)
from edge_agent.station.query.localtime import iso_local
from edge_agent.station.query.search import QueryError, parse_time

TARGET = re.compile(r"^(?P<device>[a-z0-9_-]{1,64})/(?P<what>[a-z0-9_-]{1,96})$")
EVENT_ID = re.compile(r"^[a-z0-9_-]{1,80}-[0-9]{6,15}$")


def clip(engine: Engine, settings: StationSettings, args: argparse.Namespace, actor: str) -> int:
    m = TARGET.match(args.target or "")
    if m is None:
        raise UserError(
            f"{args.target!r}: give POLE/CAMERA with --from and --to, or POLE/EVENT-ID "
            "(as `station search` prints it)",
            EXIT_CONFIG,
        )
    device, what = m["device"], m["what"]
    zone = settings.zone[0]
    try:
        with engine.begin() as conn:
            if EVENT_ID.match(what) and args.from_ is None and args.to is None:
                v = settings.footage
                rid = ask_event(conn, device, what, actor, v.pre_s, v.post_s)
            else:
                if args.from_ is None or args.to is None:
                    raise UserError(f"{device}/{what} is a camera: give --from and --to", EXIT_CONFIG)
                start, end = parse_time(args.from_, "--from", zone), parse_time(args.to, "--to", zone)
                rid = ask_range(conn, device, what, start, end, actor)
            auditlog.append(conn, actor, "clip", {"request": rid, "target": f"{device}/{what}"})
            st = status(conn, rid)
    except (ClipError, QueryError) as exc:
        raise UserError(str(exc), EXIT_CASE) from None
    assert st is not None
    print(_line(st, zone))
    if st.state != "unavailable":
        print("the station service pulls it from the pole; `edge-agent station clips` shows where it stands")
    return 0


def clips(engine: Engine, settings: StationSettings, args: argparse.Namespace) -> int:
    zone = settings.zone[0]
    with engine.connect() as conn:
        if args.id is not None:
            st = status(conn, args.id)
            if st is None:
                raise UserError(f"no clip request {args.id}", EXIT_CASE)
            found = [st]
        else:
            found = requests_for(conn, device=args.pole, limit=args.limit)
    if args.json:
        print(json.dumps([_json(s, bool(args.id)) for s in found], indent=2))
        return 0
    for st in found:
        print(_line(st, zone))
        if args.id is not None:
            for s in st.segments:
                when = iso_local(s.start_us, zone) if s.start_us is not None else "(record deleted)"
                print(f"  {s.idx:>8} {s.name:<24} {when}  {s.state:<11} {s.reason}")
            for a, b in st.holes:
                print(f"  no segment covers {iso_local(a, zone)} to {iso_local(b, zone)}")
    if not found:
        print("no clip requests")
    return 0


def _line(st: ClipStatus, zone: Any) -> str:
    what = f"{st.device}/{st.event_id}" if st.event_id else f"{st.device}/{st.camera}"
    span = f"{iso_local(st.from_us, zone)} to {iso_local(st.to_us, zone)}"
    n = len(st.segments)
    state = f"uploading {st.verified} of {n}" if st.state == "uploading" else st.state
    detail = f": {st.detail}" if st.detail else ""
    return f"clip {st.id}  {what}  {span}  {state}{detail}"


def _json(st: ClipStatus, segments: bool) -> dict[str, Any]:
    out = st.as_dict()
    if segments:
        out["segment_states"] = [s.__dict__ for s in st.segments]
    return out


def pole_key(engine: Engine, settings: StationSettings, args: argparse.Namespace, actor: str) -> int:
    """The pole's footage key and chains; with --accept, trust the key it offered (audited)."""
    zone = settings.zone[0]
    with engine.begin() as conn:
        if args.accept:
            try:
                fingerprint, again = accept_key(conn, args.pole)
            except ClipError as exc:
                raise UserError(str(exc), EXIT_CASE) from None
            auditlog.append(conn, actor, "pole-key", {"pole": args.pole, "key": fingerprint, "heads": again})
            print(f"{args.pole}: now trusting key {fingerprint}; {again} signed heads checked again")
        info = summary(conn, args.pole)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{args.pole}: key {info['key'] or '(none seen)'}")
    if info["offered"]:
        print(f"  OFFERED, NOT TRUSTED: {info['offered']} since {iso_local(info['offered_us'], zone)}")
        print("  if the pole was reinstalled: edge-agent station pole-key POLE --accept")
    for c in info["chains"]:
        state = (
            "BROKEN" if c["broken"] or c["bad_heads"] else (c["last_head"] or {}).get("status", "unsigned")
        )
        first, last = iso_local(c["first_us"], zone), iso_local(c["last_us"], zone)
        print(f"  {c['camera']} chain {c['chain']}: {c['records']} records {first} to {last}; {state}")
    return 0
