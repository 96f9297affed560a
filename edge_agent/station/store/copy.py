"""Move a ward's archive to another database (SQLite to PostgreSQL, to publish it to a city) without loss.

`copy_archive(source, target)`: both are brought to the newest schema first (the source is not
changed otherwise); the target must be empty. Every table is copied in foreign-key order, in
batches, by primary key; PostgreSQL's sequences are then set past the highest id, so the station
goes on numbering where the source stopped. Then each table is read back from both sides and
compared row by row (a sum of every row's sha256, so the backends' orders of text do not matter):
a copy that differs in any row, or in the number of rows, is an error naming the table, never a
"done". Pictures and footage files stay where they are (the same `state_dir`).

Why a copy of our own instead of pgloader: the schema is the station's own (Alembic makes it on
the target, with PostgreSQL's own types, indexes and BRIN indexes), every table is known, and the
check afterwards is the point — pgloader's type casts would give a schema that is not the one
the migrations make, and the next migration would fail on it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, Table, func, select, text

from edge_agent.station.store import footage_tables, notify_tables, web_tables
from edge_agent.station.store.schema import metadata

BATCH = 5000
EVERY_TABLE = (footage_tables, notify_tables, web_tables)  # their tables join the archive's metadata


class CopyError(RuntimeError):
    """The copy cannot be made or did not come out equal; the sentence says which table and why."""


@dataclass
class CopyReport:
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows copied (and compared)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def _tables() -> list[Table]:
    return list(metadata.sorted_tables)


def _order(table: Table) -> list[Any]:
    return list(table.primary_key.columns) or list(table.columns)


def _rows(engine: Engine, table: Table) -> Iterator[list[dict[str, Any]]]:
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(
            select(table).order_by(*_order(table))
        )
        for part in result.mappings().partitions(BATCH):
            yield [dict(r) for r in part]


def _digest(engine: Engine, table: Table) -> tuple[int, int]:
    """The rows' count and a sum of their sha256 (mod 2**256): equal whatever order a backend's
    collation reads them in, and different when any row differs."""
    total, n = 0, 0
    for batch in _rows(engine, table):
        for row in batch:
            h = hashlib.sha256()
            for name in sorted(row):
                v = row[name]
                h.update(name.encode() + b"=")
                h.update(bytes(v) if isinstance(v, bytes | memoryview) else repr(v).encode())
                h.update(b"\x00")
            total = (total + int.from_bytes(h.digest(), "big")) % 2**256
            n += 1
    return n, total


def copy_archive(
    source: Engine, target: Engine, progress: Callable[[str, int], None] | None = None
) -> CopyReport:
    """Copy every row of `source` into the empty `target` (both migrated), then compare them."""
    tables = _tables()
    with target.connect() as conn:
        for table in tables:
            n = conn.execute(select(func.count()).select_from(table)).scalar()
            if n:
                raise CopyError(
                    f"the target database already holds {n} rows in {table.name}: copy into an empty "
                    "database (create a new one, e.g. createdb edge_station)"
                )
    report = CopyReport()
    with target.begin() as conn:
        for table in tables:
            copied = 0
            for batch in _rows(source, table):
                conn.execute(table.insert(), batch)
                copied += len(batch)
                if progress is not None:
                    progress(table.name, copied)
            report.rows[table.name] = copied
        if target.dialect.name == "postgresql":
            for table in tables:
                if "id" in table.c and table.c.id.autoincrement is not False and table.c.id.primary_key:
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
                        )
                    )
    for table in tables:
        (n_src, d_src), (n_dst, d_dst) = _digest(source, table), _digest(target, table)
        if n_src != n_dst:
            raise CopyError(f"{table.name}: the source has {n_src} rows, the copy {n_dst}")
        if d_src != d_dst:
            raise CopyError(f"{table.name}: the copy's rows are not the source's (their sha256 differ)")
    return report
