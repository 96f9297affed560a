"""Case work the station's `cases` module does not do: remove an event, export and verify for a
download (the bag kept under the exports folder, zipped), and the record of each export."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, delete, insert, select

from edge_agent.station.evidence import auditlog
from edge_agent.station.evidence.cases import CaseError
from edge_agent.station.evidence.export import export_case
from edge_agent.station.evidence.signing import load_or_create_key, public_key_pem
from edge_agent.station.evidence.verify import verify_bag
from edge_agent.station.query.search import to_iso
from edge_agent.station.store.footage_files import FootageFiles
from edge_agent.station.store.ops import now_us
from edge_agent.station.store.pictures import PictureStore
from edge_agent.station.store.schema import case_events, cases
from edge_agent.station.store.web_tables import case_exports


def remove_event(engine: Engine, name: str, device: str, event_id: str, actor: str) -> None:
    with engine.begin() as conn:
        case = conn.execute(select(cases.c.id).where(cases.c.name == name)).first()
        if case is None:
            raise CaseError(f"no case named {name!r}")
        conn.execute(
            delete(case_events).where(
                and_(
                    case_events.c.case_id == case.id,
                    case_events.c.device == device,
                    case_events.c.event_id == event_id,
                )
            )
        )
        auditlog.append(conn, actor, "case-remove", {"case": name, "events": [f"{device}/{event_id}"]})


def safe_folder_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:64] or "case"


def export_and_verify(
    engine: Engine,
    store: PictureStore,
    key_path: Path,
    station_id: str,
    exports_dir: Path,
    name: str,
    actor: str,
    zone: tzinfo = UTC,
    footage: FootageFiles | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Write the case's signed bag, verify it against the station's own key, zip it.

    Returns the zip and the verification's result (also stored, and shown on the case page)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    folder = exports_dir / f"{safe_folder_name(name)}-{stamp}"
    bag = export_case(engine, store, key_path, station_id, name, folder, actor, zone, footage)
    report = verify_bag(bag, public_key_pem(load_or_create_key(key_path)))
    result = {
        "ok": report.ok,
        "signature_ok": report.signature_ok,
        "key_matches": report.key_matches,
        "problems": report.messages + [f"altered: {p}" for p in report.altered],
        "clips": report.clips,
        "files": len(list(bag.rglob("*"))),
    }
    archive = Path(shutil.make_archive(str(folder), "zip", root_dir=bag.parent, base_dir=bag.name))
    with engine.begin() as conn:
        conn.execute(
            insert(case_exports).values(
                case_name=name,
                at_us=now_us(),
                by=actor,
                path=str(archive),
                ok=report.ok,
                report=json.dumps(result),
            )
        )
    return archive, result


def exports_of(engine: Engine, name: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(case_exports)
            .where(case_exports.c.case_name == name)
            .order_by(case_exports.c.at_us.desc())
            .limit(10)
        ).all()
    return [
        {"at": to_iso(r.at_us), "by": r.by, "ok": r.ok, "file": Path(r.path).name, **json.loads(r.report)}
        for r in rows
    ]
