"""`edge-agent station city-publish` (on a ward) and `station city init | add-ward | status` (on
the city): PostgreSQL's logical replication set up and watched, each problem one sentence."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from sqlalchemy import Engine

from edge_agent.station.city.publish import CityError, publish_ward
from edge_agent.station.city.subscribe import add_ward, conninfo, init_city, resync, wards
from edge_agent.station.config import StationSettings
from edge_agent.station.errors import EXIT_CASE, EXIT_CONFIG, UserError


def _password(path: Path | None) -> str:
    """The replication password: from a file (0600, like the broker's) or $EDGE_CITY_PASSWORD."""
    if path is not None:
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UserError(f"cannot read {path}: {exc.strerror}", EXIT_CONFIG) from None
    else:
        value = os.environ.get("EDGE_CITY_PASSWORD", "").strip()
    if len(value) < 12:
        raise UserError(
            "give the city's replication password (at least 12 characters) in --password-file FILE "
            "or $EDGE_CITY_PASSWORD",
            EXIT_CONFIG,
        )
    return value


def publish(engine: Engine, settings: StationSettings, args: argparse.Namespace) -> int:
    try:
        done = publish_ward(engine, settings.station_id, _password(args.password_file)).done
    except CityError as exc:
        raise UserError(str(exc), EXIT_CASE) from None
    for line in done:
        print(line)
    ward = settings.station_id
    print(f"ward {ward} is ready: on the city, run  edge-agent station city add-ward {ward} --host …")
    return 0


def city(engine: Engine, args: argparse.Namespace) -> int:
    try:
        if args.action == "init":
            lines = init_city(engine)
        elif args.action == "add-ward":
            if not (args.name and args.host):
                raise UserError("add-ward needs the ward's NAME (its station_id) and --host", EXIT_CONFIG)
            info = conninfo(
                host=args.host,
                port=args.port,
                dbname=args.dbname,
                user="edge_city",
                password=_password(args.password_file),
                sslmode=args.sslmode,
            )
            lines = add_ward(engine, args.name, info)
        elif args.action == "search":
            return _search(engine, args)
        elif args.action == "resync":
            if not args.name:
                raise UserError("resync needs the ward's NAME", EXIT_CONFIG)
            lines = resync(engine, args.name)
        else:
            found = wards(engine)
            if args.json:
                print(json.dumps(found, indent=2))
                return 0
            lines = [
                f"{w['ward']}: {'receiving' if w['connected'] else 'NOT CONNECTED'}; last message "
                f"{w['last_message'] or 'never'}; slot {w['slot']}"
                + (f", {w['lag_bytes']} bytes behind" if w["lag_bytes"] is not None else "")
                + (
                    "  -> LOST: run  edge-agent station city resync " + w["ward"]
                    if w["slot"] == "lost"
                    else ""
                )
                for w in found
            ] or ["no wards: station city add-ward NAME --host HOST"]
    except CityError as exc:
        raise UserError(str(exc), EXIT_CASE) from None
    for line in lines:
        print(line)
    return 0


def _search(engine: Engine, args: argparse.Namespace) -> int:
    """Events of every ward (or those given with --ward) found in the city's tables, newest first."""
    from edge_agent.station.query.search import Query, QueryError, parse_time, search

    try:
        q = Query(
            stations=args.ward,
            devices=args.pole,
            labels=args.label,
            from_us=parse_time(args.from_, "--from") if args.from_ else None,
            to_us=parse_time(args.to, "--to") if args.to else None,
            limit=args.limit,
        ).check()
    except QueryError as exc:
        raise UserError(str(exc), EXIT_CONFIG) from None
    with engine.connect() as conn:
        found = search(conn, q)["events"]
    for e in found:
        where = f"{e['station']}/{e['device']}/{e['camera']}"
        print(f"{e['start']}  {where}  {e['label']:<10} {e['score']:.2f}  {e['event_id']}")
    print(f"# {len(found)} events from {len({e['station'] for e in found})} wards")
    return 0
