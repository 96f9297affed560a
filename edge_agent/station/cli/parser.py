"""`edge-agent station …`: run the station, search, fleet, cases, export, verify, audit, add-pole.

Every error a user can cause ends as one message and an exit status: 1 a failed verification,
2 bad configuration or arguments, 3 the database cannot be reached, 4 a case or pole problem.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edge_agent.station import config
from edge_agent.station.errors import EXIT_CONFIG, EXIT_DATABASE, UserError


def _user() -> str:
    return os.environ.get("SUDO_USER") or getpass.getuser()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge-agent station", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def cmd(name: str, help: str, needs_config: bool = True) -> argparse.ArgumentParser:
        s = sub.add_parser(name, help=help)
        if needs_config:
            s.add_argument(
                "--config", type=Path, default=config.DEFAULT_CONFIG_PATH, help="station TOML file"
            )
        return s

    cmd("run", "archive every pole's messages and serve the JSON API")
    chk = cmd("check-config", "validate the config file and print it", needs_config=False)
    chk.add_argument("file", type=Path, nargs="?", default=config.DEFAULT_CONFIG_PATH)
    cmd("migrate", "create or upgrade the archive's schema")

    s = cmd("search", "find events, newest first")
    s.add_argument("--pole", action="append", default=[], help="pole (device id); repeat for several")
    s.add_argument("--camera", action="append", default=[])
    s.add_argument("--label", action="append", default=[], help="person, motorcycle, car, ...")
    s.add_argument("--zone", action="append", default=[])
    s.add_argument("--line", action="append", default=[], help="a line the object crossed")
    s.add_argument("--from", dest="from_", metavar="TIME", help="ISO 8601; no zone = local time")
    s.add_argument("--to", metavar="TIME")
    s.add_argument("--min-score", type=float)
    g = s.add_mutually_exclusive_group()
    g.add_argument("--stationary", dest="stationary", action="store_const", const=True)
    g.add_argument("--moving", dest="stationary", action="store_const", const=False)
    s.add_argument("--limit", type=int, default=50)
    s.add_argument("--cursor", help="next_cursor of the previous page")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.add_argument("--user", default=None, help="who searches (for the audit trail; default: you)")

    sh = cmd("show", "one event: its messages, thumbnail versions, clock")
    sh.add_argument("event", help="DEVICE/EVENT-ID")
    sh.add_argument("--user", default=None)

    f = cmd("fleet", "every pole: online, offline or silent and since when, gaps, cameras")
    f.add_argument("--json", action="store_true")

    c = cmd("case", "open a case, add events, hold or release it, list cases")
    c.add_argument("action", choices=["open", "add", "hold", "release", "list", "show"])
    c.add_argument("name", nargs="?")
    c.add_argument("events", nargs="*", help="DEVICE/EVENT-ID ... (for add)")
    c.add_argument("--reason", default="")
    c.add_argument("--no-hold", action="store_true", help="open without a hold (retention may delete)")
    c.add_argument("--user", default=None)

    e = cmd("export", "write a case as a signed BagIt bag")
    e.add_argument("case")
    e.add_argument("--out", type=Path, required=True)
    e.add_argument("--user", default=None)

    v = sub.add_parser("verify", help="check a bag: altered, added or removed files, the signature")
    v.add_argument("bag", type=Path)
    v.add_argument("--key", type=Path, help="the station's public key (PEM); default: the one in the bag")

    a = cmd("audit", "the audit trail: list it, or --verify its hash chain")
    a.add_argument("--verify", action="store_true")
    a.add_argument(
        "--anchor",
        action="append",
        default=[],
        metavar="ID:HASH",
        help="a row known to exist (a bag's case.json)",
    )
    a.add_argument("--limit", type=int, default=50)

    r = cmd("retention", "run retention once now")
    r.add_argument("--json", action="store_true")

    u = cmd("adduser", "create an account for the web pages (the password is asked twice)")
    u.add_argument("name", help="account name: a-z 0-9 . _ -")
    u.add_argument("--role", required=True, choices=["admin", "police", "volunteer", "resident"])
    u.add_argument("--password-stdin", action="store_true", help="read the password from standard input")

    nt = cmd("notify", "alerts: send a test, list subscriptions and the outbox, snooze a pole")
    nt.add_argument("action", choices=["test", "list", "snooze", "unsnooze"])
    nt.add_argument("pole", nargs="?", help="the pole to snooze or unsnooze")
    nt.add_argument("--channel", help="test only this channel")
    nt.add_argument("--camera", help="snooze only this camera of the pole")
    nt.add_argument("--for", dest="for_", metavar="DURATION", help="how long: 30m, 2h, 3d")
    nt.add_argument("--note", default="", help="why (kept in the audit log)")
    nt.add_argument("--limit", type=int, default=30, help="outbox rows listed")
    nt.add_argument("--user", default=None)

    cl = cmd("clip", "ask a pole for footage: POLE/CAMERA --from --to, or POLE/EVENT-ID")
    cl.add_argument("target", help="POLE/CAMERA (with --from and --to) or POLE/EVENT-ID")
    cl.add_argument("--from", dest="from_", metavar="TIME", help="ISO 8601 or HH:MM; no zone = local time")
    cl.add_argument("--to", metavar="TIME")
    cl.add_argument("--user", default=None, help="who asks (for the audit trail; default: you)")
    cs = cmd("clips", "clip requests and where they stand; with an ID, each of its segments")
    cs.add_argument("id", nargs="?", type=int)
    cs.add_argument("--pole", help="only this pole's")
    cs.add_argument("--limit", type=int, default=30)
    cs.add_argument("--json", action="store_true")

    cp = cmd(
        "copy", "copy the whole archive into an empty database (SQLite to PostgreSQL), checked row by row"
    )
    cp.add_argument("--to", required=True, metavar="URL", help="postgresql+psycopg://user@host/db")

    cpub = cmd("city-publish", "make this ward's PostgreSQL ready for a city (publication, role, WAL cap)")
    cpub.add_argument("--password-file", type=Path, help="the city's replication password (0600)")
    ct = cmd("city", "on the city: init its tables, add a ward, the wards' status, resync a lost ward")
    ct.add_argument("action", choices=["init", "add-ward", "status", "resync", "search"])
    ct.add_argument("name", nargs="?", help="the ward's station_id (add-ward)")
    ct.add_argument("--host", help="the ward's PostgreSQL host")
    ct.add_argument("--port", type=int, default=5432)
    ct.add_argument("--dbname", default="edge_station")
    ct.add_argument(
        "--sslmode", default="verify-full", help="verify-full (default) checks the ward's certificate"
    )
    ct.add_argument("--password-file", type=Path, help="the replication password the ward was given")
    ct.add_argument("--json", action="store_true")
    ct.add_argument("--ward", action="append", default=[], help="search: only this ward (repeat for several)")
    ct.add_argument("--pole", action="append", default=[], help="search: only this pole")
    ct.add_argument("--label", action="append", default=[], help="search: person, motorcycle, car, ...")
    ct.add_argument("--from", dest="from_", metavar="TIME", help="search: ISO 8601 (UTC unless it says)")
    ct.add_argument("--to", metavar="TIME")
    ct.add_argument("--limit", type=int, default=50)

    pk = cmd("pole-key", "a pole's footage signing key and chains; --accept trusts the new key it offered")
    pk.add_argument("pole")
    pk.add_argument("--accept", action="store_true", help="the pole was reinstalled: trust its new key")
    pk.add_argument("--json", action="store_true")
    pk.add_argument("--user", default=None)

    ap = sub.add_parser("add-pole", help="create a pole's broker password; print its boot-partition lines")
    ap.add_argument("name")
    ap.add_argument("--passwd-file", type=Path, default=Path("/etc/mosquitto/edge-passwd"))
    ap.add_argument("--broker-url", default="mqtts://broker.ward.example:8883")
    return p


def _adduser(args: argparse.Namespace) -> int:
    from edge_agent.station.auth.adduser import run_adduser

    return run_adduser(_settings(args).database_url, args.name, args.role, args.password_stdin, _user())


def _notify(args: argparse.Namespace, actor: str) -> int:
    from edge_agent.station.cli import notify_commands as n

    settings = _settings(args)
    if args.action == "test":
        return n.test(settings, args.channel, actor)
    args.zone = settings.zone[0]
    if args.action == "list":
        return n.listing(_engine(settings), settings, args.limit)
    return n.snooze(_engine(settings), args, actor)


def _clip(args: argparse.Namespace, actor: str) -> int:
    from edge_agent.station.cli import clip_commands as c

    settings = _settings(args)
    if args.command == "clip":
        return c.clip(_engine(settings), settings, args, actor)
    if args.command == "pole-key":
        return c.pole_key(_engine(settings), settings, args, actor)
    return c.clips(_engine(settings), settings, args)


def _city(args: argparse.Namespace) -> int:
    from edge_agent.station.cli import city_commands as c

    settings = _settings(args)
    if args.command == "city-publish":
        return c.publish(_engine(settings), settings, args)
    from edge_agent.station.store.engine import open_engine  # a city's tables are not a ward's schema

    if settings.database.url is None:
        raise UserError("a city runs on PostgreSQL: set [database] url in its config", EXIT_CONFIG)
    return c.city(open_engine(settings.database.url), args)


def _settings(args: argparse.Namespace) -> config.StationSettings:
    return config.load(args.config)


def _engine(settings: config.StationSettings) -> Any:
    from sqlalchemy.exc import OperationalError

    from edge_agent.station.store.engine import connect

    try:
        return connect(settings.database_url)
    except OperationalError as exc:
        from edge_agent.contract import redact

        raise UserError(f"cannot open the database: {redact(str(exc.orig or exc))}", EXIT_DATABASE) from None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from edge_agent.station.cli import commands

    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "run": lambda a: commands.run(s := _settings(a), _engine(s)),
        "check-config": commands.check_config,
        "migrate": lambda a: commands.migrate(_engine(_settings(a))),
        "search": lambda a: commands.search(_engine(s := _settings(a)), s, a, a.user or _user()),
        "show": lambda a: commands.show(_engine(_settings(a)), a.event, a.user or _user()),
        "fleet": lambda a: commands.fleet(_engine(s := _settings(a)), s, a.json),
        "case": lambda a: commands.case(_engine(_settings(a)), a, a.user or _user()),
        "export": lambda a: commands.export(_engine(s := _settings(a)), s, a, a.user or _user()),
        "verify": commands.verify,
        "audit": lambda a: commands.audit(_engine(_settings(a)), a),
        "retention": lambda a: commands.retention(_engine(s := _settings(a)), s, a.json),
        "add-pole": commands.add_pole,
        "notify": lambda a: _notify(a, a.user or _user()),
        "adduser": lambda a: _adduser(a),
        "clip": lambda a: _clip(a, a.user or _user()),
        "clips": lambda a: _clip(a, ""),
        "pole-key": lambda a: _clip(a, a.user or _user()),
        "copy": lambda a: commands.copy(_engine(s := _settings(a)), s, a.to),
        "city-publish": lambda a: _city(a),
        "city": lambda a: _city(a),
    }
    try:
        return handlers[args.command](args)
    except config.ConfigError as exc:
        print(f"edge-agent station: bad configuration in {exc.source}:", file=sys.stderr)
        for line in exc.problems:
            print(f"  {line}", file=sys.stderr)
        return EXIT_CONFIG
    except UserError as exc:
        print(f"edge-agent station: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return 130
