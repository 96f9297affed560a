"""The audit trail in the database: every search, view, export and hold, hash-chained.

Each row carries the hash of the one before (`evidence.audit.row_hash`), so a row altered or
deleted breaks the chain, and `station audit --verify` names where. Appends are serialised by
taking the `audit rows` counter's row lock first, so two writers never fork the chain.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from edge_agent.contract import iso_ms
from edge_agent.station.evidence.audit import GENESIS, AuditAnchor, AuditRow, row_hash, verify_chain
from edge_agent.station.store.ops import bump
from edge_agent.station.store.schema import audit


def detail_text(detail: dict[str, Any] | str) -> str:
    return detail if isinstance(detail, str) else json.dumps(detail, sort_keys=True, separators=(",", ":"))


def append(conn: Connection, actor: str, action: str, detail: dict[str, Any] | str) -> str:
    """Add one row inside the caller's transaction; returns its hash."""
    bump(conn, {"audit rows": 1})  # takes the write lock before reading the chain's end
    last = conn.execute(select(audit.c.hash).order_by(audit.c.id.desc()).limit(1)).scalar()
    prev = last or GENESIS
    at = iso_ms(datetime.now(UTC))
    text = detail_text(detail)
    h = row_hash(prev, at, actor, action, text)
    conn.execute(insert(audit).values(at=at, actor=actor, action=action, detail=text, prev_hash=prev, hash=h))
    return h


def record(engine: Engine, actor: str, action: str, detail: dict[str, Any] | str) -> str:
    with engine.begin() as conn:
        return append(conn, actor, action, detail)


def rows(conn: Connection) -> list[AuditRow]:
    return [
        AuditRow(r.id, r.at, r.actor, r.action, r.detail, r.prev_hash, r.hash)
        for r in conn.execute(select(audit).order_by(audit.c.id))
    ]


def anchor(conn: Connection) -> dict[str, Any] | None:
    """The newest row's id and hash: kept outside the database (in every bag), it lets
    `verify` see rows deleted after it too."""
    r = conn.execute(select(audit.c.id, audit.c.hash).order_by(audit.c.id.desc()).limit(1)).first()
    return None if r is None else {"id": int(r.id), "hash": r.hash}


def verify(engine: Engine, anchors: list[AuditAnchor] | None = None) -> list[str]:
    """Problems in the chain (empty when intact)."""
    with engine.connect() as conn:
        return verify_chain(rows(conn), anchors or ())
