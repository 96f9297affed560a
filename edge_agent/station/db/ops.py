"""Statements that differ between SQLite and PostgreSQL, written once."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite

from edge_agent.station.db.schema import counters


def now_us() -> int:
    return time.time_ns() // 1000


def insert_ignore(conn: Connection, table: Table, values: Mapping[str, Any]) -> bool:
    """Insert one row unless a unique key already holds it; True when the row was new."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    key = list(table.primary_key.columns)
    stmt = dialect.insert(table).values(**values).on_conflict_do_nothing().returning(*key)
    return conn.execute(stmt).first() is not None


def bump(conn: Connection, counts: Mapping[str, int]) -> None:
    """Add to named counters (rejects by reason, duplicates, deletions...)."""
    for name, n in counts.items():
        if not n:
            continue
        name = name[:96]
        if not insert_ignore(conn, counters, {"name": name, "value": n}):
            conn.execute(update(counters).where(counters.c.name == name).values(value=counters.c.value + n))


def read_counters(conn: Connection) -> dict[str, int]:
    return {r.name: int(r.value) for r in conn.execute(select(counters.c.name, counters.c.value))}
