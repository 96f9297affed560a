"""Statements that differ between SQLite and PostgreSQL, written once."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from edge_agent.station.store.schema import counters


def now_us() -> int:
    return time.time_ns() // 1000


def insert_ignore(conn: Connection, table: Table, values: Mapping[str, Any]) -> bool:
    """Insert one row unless a unique key already holds it; True when the row was new."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    key = list(table.primary_key.columns)
    stmt = dialect.insert(table).values(**values).on_conflict_do_nothing().returning(*key)
    return conn.execute(stmt).first() is not None


def bump(conn: Connection, counts: Mapping[str, int]) -> None:
    """Add to named counters (rejects by reason, duplicates, deletions...): one upsert for all."""
    rows: dict[str, int] = {}
    for name, n in counts.items():
        if n:
            rows[name[:96]] = rows.get(name[:96], 0) + n
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(counters)
    stmt = stmt.on_conflict_do_update(
        index_elements=[counters.c.name], set_={"value": counters.c.value + stmt.excluded.value}
    )
    conn.execute(stmt, [{"name": k, "value": v} for k, v in sorted(rows.items())])


def read_counters(conn: Connection) -> dict[str, int]:
    return {r.name: int(r.value) for r in conn.execute(select(counters.c.name, counters.c.value))}
