"""What each `edge-agent station` command does, given parsed arguments."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sqlalchemy import Engine, select

from edge_agent.station.config import StationSettings
from edge_agent.station.errors import EXIT_CASE, EXIT_CONFIG, EXIT_DATABASE, EXIT_FAILED, UserError
from edge_agent.station.evidence import auditlog


def dump(data: Any) -> None:
    print(json.dumps(data, indent=2))


def run(settings: StationSettings, engine: Engine) -> int:
    import logging

    from edge_agent.station.service import run as run_service

    logging.getLogger().setLevel(settings.log_level.upper())
    return run_service(settings, engine)


def check_config(args: argparse.Namespace) -> int:
    from edge_agent.station.config import load

    settings = load(args.file)
    data = settings.model_dump(mode="json")
    for b in data["brokers"]:
        if b.get("password"):
            b["password"] = "********"
    for shown, channel in zip(data["notify"]["channels"], settings.notify.channels, strict=True):
        shown["url"] = channel.masked()  # Apprise's privacy form: the token never printed
    print(f"# {args.file}: valid")
    dump(data)
    return 0


def migrate(engine: Engine) -> int:
    print("schema is current")
    return 0


def search(engine: Engine, settings: StationSettings, args: argparse.Namespace, actor: str) -> int:
    """Times typed without an offset are the ward's (`time_zone`); shown with their offset."""
    from edge_agent.station.query.localtime import iso_local
    from edge_agent.station.query.search import Query, QueryError, parse_time
    from edge_agent.station.query.search import search as run_search

    zone = settings.zone[0]
    try:
        q = Query(
            devices=args.pole,
            cameras=args.camera,
            labels=args.label,
            zones=args.zone,
            lines=args.line,
            from_us=parse_time(args.from_, "--from", zone) if args.from_ else None,
            to_us=parse_time(args.to, "--to", zone) if args.to else None,
            min_score=args.min_score,
            stationary=args.stationary,
            limit=args.limit,
            cursor=args.cursor,
        ).check()
    except QueryError as exc:
        raise UserError(str(exc), EXIT_CONFIG) from None
    with engine.begin() as conn:
        result = run_search(conn, q)
        auditlog.append(conn, actor, "search", q.describe())
    if args.json:
        dump(result)
        return 0
    for e in result["events"]:
        clock = "" if e["clock_synced"] else "  CLOCK NOT SYNCED"
        thumb = "" if e["thumbnail_status"] == "ok" else f"  thumbnail {e['thumbnail_status'].upper()}"
        where = ",".join(e["zones"]) or "-"
        print(
            f"{iso_local(e['start'], zone)}  {e['device']}/{e['camera']}  {e['label']:<10}"
            f" {e['score']:.2f}  zones {where}"
            f"  {e['device']}/{e['event_id']}{thumb}{clock}"
        )
    print(
        f"# {len(result['events'])} events"
        + (f"; more: --cursor {result['next_cursor']}" if result["next_cursor"] else "")
    )
    return 0


def show(engine: Engine, ref: str, actor: str) -> int:
    from edge_agent.station.query.search import event_detail

    device, _, event_id = ref.partition("/")
    with engine.begin() as conn:
        detail = event_detail(conn, device, event_id)
        if detail is None:
            raise UserError(f"no event {ref} in the archive (name it DEVICE/EVENT-ID)", EXIT_CASE)
        auditlog.append(conn, actor, "view", {"event": ref})
    dump(detail)
    return 0


def fleet(engine: Engine, settings: StationSettings, as_json: bool) -> int:
    from edge_agent.station.fleet.state import fleet as fleet_state
    from edge_agent.station.store.ops import now_us

    with engine.connect() as conn:
        poles = fleet_state(conn, now_us(), settings.fleet.stale_after_s)
    if as_json:
        dump({"poles": poles})
        return 0
    for p in poles:
        gaps = f"  {p['seq_missing']} missing in {p['seq_gaps']} seq gaps" if p["seq_gaps"] else ""
        print(
            f"{p['device']:<20} {p['state']:<8} since {p['since']}"
            f"  last event {p['last_event_received']}{gaps}"
        )
    print(f"# {len(poles)} poles")
    return 0


def case(engine: Engine, args: argparse.Namespace, actor: str) -> int:
    from edge_agent.station.evidence import cases

    if args.action != "list" and not args.name:
        raise UserError(f"case {args.action} needs the case's name", EXIT_CONFIG)
    try:
        if args.action == "open":
            cases.open_case(engine, args.name, args.reason, actor, held=not args.no_hold)
        elif args.action == "add":
            refs = [tuple(r.split("/", 1)) for r in args.events]
            if not refs or any(len(r) != 2 for r in refs):
                raise UserError("name events as DEVICE/EVENT-ID (see `station search`)", EXIT_CONFIG)
            n = cases.add_events(engine, args.name, refs, actor)  # type: ignore[arg-type]
            print(f"{n} events added to {args.name}")
        elif args.action in ("hold", "release"):
            cases.set_hold(engine, args.name, args.action == "hold", actor)
        elif args.action == "list":
            with engine.connect() as conn:
                dump(cases.list_cases(conn))
        else:
            with engine.connect() as conn:
                dump(cases.case_info(conn, args.name))
    except cases.CaseError as exc:
        raise UserError(str(exc), EXIT_CASE) from None
    return 0


def export(engine: Engine, settings: StationSettings, args: argparse.Namespace, actor: str) -> int:
    from edge_agent.station.evidence.bag import OutputFolderError
    from edge_agent.station.evidence.cases import CaseError
    from edge_agent.station.evidence.export import ExportError, export_case
    from edge_agent.station.store.footage_files import FootageFiles
    from edge_agent.station.store.pictures import PictureStore

    try:
        bag = export_case(
            engine,
            PictureStore(settings.pictures_dir),
            settings.key_path,
            settings.station_id,
            args.case,
            args.out,
            actor,
            settings.zone[0],
            FootageFiles(settings.footage_dir),
        )
    except (CaseError, ExportError) as exc:
        raise UserError(str(exc), EXIT_CASE) from None
    except OutputFolderError as exc:
        raise UserError(str(exc), EXIT_CONFIG) from None
    except FileExistsError as exc:
        raise UserError(
            f"{exc.filename or args.out} exists: choose a new --out folder", EXIT_CONFIG
        ) from None
    print(f"wrote {bag}")
    return 0


def verify(args: argparse.Namespace) -> int:
    from edge_agent.station.evidence.bag import verify_bag

    key = None
    if args.key is not None:
        try:
            key = args.key.read_bytes()
        except OSError as exc:
            raise UserError(f"cannot read the key {args.key}: {exc.strerror}", EXIT_CONFIG) from None
    if not args.bag.is_dir():
        raise UserError(
            f"{args.bag} is not a folder (a bag is the folder `station export` wrote)", EXIT_CONFIG
        )
    report = verify_bag(args.bag, key)
    for m in report.messages:
        print(m)
    for line in report.clips:
        print(line)
    for name, paths in (("ALTERED", report.altered), ("ADDED", report.added), ("REMOVED", report.removed)):
        for path in paths:
            print(f"{name}: {path}")
    print(f"signature: {'valid' if report.signature_ok else 'NOT VALID'}")
    print("bag is intact" if report.ok else "bag is NOT intact")
    return 0 if report.ok else EXIT_FAILED


def audit(engine: Engine, args: argparse.Namespace) -> int:
    if args.verify:
        from edge_agent.station.evidence.audit import AuditAnchor

        anchors = []
        for text in args.anchor:
            row_id, _, h = text.partition(":")
            if not row_id.isdigit() or len(h) != 64:
                raise UserError(f"--anchor {text!r}: give ID:HASH as in a bag's case.json", EXIT_CONFIG)
            anchors.append(AuditAnchor(int(row_id), h))
        problems = auditlog.verify(engine, anchors)
        for p in problems:
            print(p)
        with engine.connect() as conn:
            n = len(auditlog.rows(conn))
        print(f"audit trail: {n} rows, " + ("intact" if not problems else f"{len(problems)} problems"))
        return EXIT_FAILED if problems else 0
    from edge_agent.station.store.schema import audit as audit_table

    with engine.connect() as conn:
        rows = conn.execute(select(audit_table).order_by(audit_table.c.id.desc()).limit(args.limit)).all()
    for r in reversed(rows):
        print(f"{r.id:>8} {r.at} {r.actor:<12} {r.action:<10} {r.detail}")
    return 0


def retention(engine: Engine, settings: StationSettings, as_json: bool) -> int:
    from edge_agent.station.store.footage_files import FootageFiles
    from edge_agent.station.store.footage_retention import FootageRetention
    from edge_agent.station.store.ops import now_us
    from edge_agent.station.store.pictures import PictureStore
    from edge_agent.station.store.retention import Retention

    r, v = settings.retention, settings.footage
    footage = FootageRetention(engine, FootageFiles(settings.footage_dir))
    ret = Retention(engine, PictureStore(settings.pictures_dir), footage=footage)
    d = ret.run(
        now_us(), r.events_days, r.pictures_days, r.disk_min_free_percent, v.keep_days, v.records_days
    )
    f = ret.footage_deleted
    out = {"events": d.events, "pictures": d.pictures, "picture_uses": d.uses, "bytes": d.bytes}
    out |= {"footage_segments": f.segments, "footage_bytes": f.bytes, "footage_records": f.records}
    if as_json:
        dump(out)
    else:
        print(f"deleted {d.events} events, {d.pictures} pictures ({d.bytes} bytes)")
        print(f"deleted {f.segments} footage segments ({f.bytes} bytes), {f.records} chain records")
    return 0


def add_pole(args: argparse.Namespace) -> int:
    from edge_agent.station.fleet.enrol import PoleError, boot_lines
    from edge_agent.station.fleet.enrol import add_pole as add

    try:
        password = add(args.name, args.passwd_file)
    except PoleError as exc:
        raise UserError(str(exc), EXIT_CASE) from None
    except PermissionError:
        raise UserError(f"cannot write {args.passwd_file}: run as root (sudo)", EXIT_CASE) from None
    print(boot_lines(args.name, password, args.broker_url), end="")
    return 0


def copy(engine: Engine, settings: StationSettings, url: str) -> int:
    """`station copy --to URL`: the archive into an empty database, compared row by row."""
    from sqlalchemy.exc import OperationalError

    from edge_agent.contract import redact
    from edge_agent.station.store.copy import CopyError, copy_archive
    from edge_agent.station.store.engine import connect

    shown = redact(url)
    try:
        target = connect(url)
    except (OperationalError, ValueError) as exc:
        raise UserError(
            f"cannot open {shown}: {redact(str(getattr(exc, 'orig', None) or exc))}", EXIT_DATABASE
        ) from None
    last: dict[str, int] = {}

    def progress(table: str, n: int) -> None:
        if n - last.get(table, 0) >= 50_000:
            last[table] = n
            print(f"  {table}: {n} rows", flush=True)

    try:
        report = copy_archive(engine, target, progress)
    except CopyError as exc:
        raise UserError(f"copy to {shown} failed: {exc}", EXIT_DATABASE) from None
    finally:
        target.dispose()
    print(f"copied {report.total} rows in {len(report.rows)} tables to {shown}; every row checked equal")
    print(
        "now set [database] url to it in the station's config (a peer-authenticated local user needs "
        "no password in it), restart the station, and keep the old database until you are sure"
    )
    return 0
