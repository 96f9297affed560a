"""The schema on both backends: migrations create exactly the tables the code uses."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import edge_agent.station.store.notify_tables  # the alerts' tables, migration 0003
import edge_agent.station.store.web_tables  # noqa: F401  (the web pages' tables, migration 0002)
from edge_agent.station.store.engine import connect
from edge_agent.station.store.schema import metadata


def test_migrations_create_the_schema_and_match_the_code(db_url: str) -> None:
    engine = connect(db_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert set(metadata.tables) <= tables and "alembic_version" in tables
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == [], f"schema.py and the migrations differ: {diff}"
        connect(db_url).dispose()  # a second start finds the schema current and changes nothing
    finally:
        engine.dispose()
