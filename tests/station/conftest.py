"""Station fixtures: an archive on each backend (SQLite in a temp folder, a real PostgreSQL)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

# The real PostgreSQL and the broker running the shipped config, as fixtures of this folder
# (`pytest_plugins` is allowed only in the top-level conftest).
from tests.station.postgres import Postgres
from tests.station.postgres import postgres as postgres
from tests.station.shipped_broker import shipped_broker as shipped_broker

_names = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'station.db'}"
    pg: Postgres = request.getfixturevalue("postgres")
    return pg.create_database(f"station_{next(_names)}_{id(tmp_path) % 100000}")
