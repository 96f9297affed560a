"""A case as a signed BagIt bag: each event's messages exactly as received, every thumbnail
version, the camera's snapshots around it, the station's record of each event (receive times,
brokers, the pole's clock status per message, the thumbnail check), and the footage pulled for
its events with the pole's chain records, signed heads and key (`footage_bag`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, select

from edge_agent.station.evidence import auditlog
from edge_agent.station.evidence.bag import CaseInfo, EvidenceFile, write_bag
from edge_agent.station.evidence.cases import case_info
from edge_agent.station.evidence.footage_bag import footage_files
from edge_agent.station.evidence.signing import load_or_create_key
from edge_agent.station.query.localtime import iso_local
from edge_agent.station.query.search import event_detail, to_iso
from edge_agent.station.store.footage_files import FootageFiles
from edge_agent.station.store.pictures import PictureStore
from edge_agent.station.store.schema import event_messages, events, picture_uses

SNAPSHOT_MARGIN_US = 60_000_000


class ExportError(RuntimeError):
    pass


def _event_files(
    conn: Connection, pictures: PictureStore, device: str, event_id: str
) -> Iterator[EvidenceFile]:
    base = f"events/{device}/{event_id}"
    detail = event_detail(conn, device, event_id)
    if detail is None:
        raise ExportError(f"event {device}/{event_id} of the case is no longer in the archive")
    msgs = conn.execute(
        select(event_messages.c.seq, event_messages.c.raw)
        .where(and_(event_messages.c.device == device, event_messages.c.event_id == event_id))
        .order_by(event_messages.c.seq)
    ).all()
    for m in msgs:
        yield EvidenceFile(f"{base}/messages/{m.seq:012d}.json", bytes(m.raw))
    for i, v in enumerate(detail["thumbnail_versions"], 1):
        data = pictures.get(v["sha256"])
        if data is None:
            v["file"] = None  # deleted by retention before the case was opened
            continue
        v["file"] = f"thumbnails/{i:03d}-{v['sha256']}.jpg"
        yield EvidenceFile(f"{base}/{v['file']}", data)
    row = conn.execute(
        select(events).where(and_(events.c.device == device, events.c.event_id == event_id))
    ).one()
    snaps = conn.execute(
        select(picture_uses.c.sha256, picture_uses.c.received_us).where(
            and_(
                picture_uses.c.kind == "snapshot",
                picture_uses.c.device == device,
                picture_uses.c.camera == row.camera,
                picture_uses.c.received_us >= row.first_received_us - SNAPSHOT_MARGIN_US,
                picture_uses.c.received_us <= row.last_received_us + SNAPSHOT_MARGIN_US,
            )
        )
    ).all()
    detail["snapshots"] = []
    for s in snaps:
        data = pictures.get(s.sha256)
        if data is not None:
            name = f"snapshots/{s.sha256}.jpg"
            detail["snapshots"].append({"file": name, "received": to_iso(s.received_us)})
            yield EvidenceFile(f"{base}/{name}", data)
    detail["clock"] = {
        "synced_throughout": row.clock_synced,
        "per_message": {str(m["seq"]): m["clock_synced"] for m in detail["messages_received"]},
        "note": "" if row.clock_synced else "the pole's clock was NOT synchronised: its times may be wrong",
    }
    yield EvidenceFile(f"{base}/station-record.json", json.dumps(detail, indent=2, sort_keys=True).encode())


def export_case(
    engine: Engine,
    pictures: PictureStore,
    key_path: Path,
    station_id: str,
    name: str,
    out: Path,
    actor: str,
    zone: tzinfo = UTC,
    footage: FootageFiles | None = None,
) -> Path:
    """The case's signed bag in `out`. Its instants are UTC; case.json also names the station's
    time zone and gives the case's own times on the ward's clock, with their offset."""
    with engine.connect() as conn:
        info = case_info(conn, name)
        files: list[EvidenceFile] = []
        refs = [tuple(ref.split("/", 1)) for ref in info["events"]]
        for device, event_id in refs:
            files.extend(_event_files(conn, pictures, device, event_id))
        files.extend(footage_files(conn, footage, refs))  # type: ignore[arg-type]
        summary: dict[str, Any] = {
            **info,
            "station_id": station_id,
            "exported_by": actor,
            "time_zone": getattr(zone, "key", None) or str(zone),
            "opened_at_local": iso_local(info["opened_at"], zone),
            "exported_at_local": iso_local(datetime.now(UTC), zone),
            "audit_anchor": auditlog.anchor(conn),  # `station audit --verify --anchor ID:HASH`
        }
        files.append(EvidenceFile("case.json", json.dumps(summary, indent=2, sort_keys=True).encode()))
    case = CaseInfo(
        name=info["name"],
        reason=info["reason"],
        opened_by=info["opened_by"],
        opened_at=info["opened_at"],
        station_id=station_id,
        exported_by=actor,
        time_zone=summary["time_zone"],
        opened_at_local=summary["opened_at_local"],
    )
    bag = write_bag(out, case, files, load_or_create_key(key_path))
    auditlog.record(engine, actor, "export", {"case": name, "events": info["events"], "out": str(bag)})
    return bag
