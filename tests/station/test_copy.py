"""A ward's archive moved from SQLite to a real PostgreSQL without loss (`station copy --to`):
every row of every table equal afterwards, searches answer the same, the ids go on where they
stopped, and a target that is not empty is refused before anything is written."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from edge_agent.station.cli.parser import main
from edge_agent.station.query.search import Query, search
from edge_agent.station.store.copy import CopyError, copy_archive
from edge_agent.station.store.engine import connect
from edge_agent.station.store.footage_files import FootageFiles
from edge_agent.station.store.footage_tables import footage_files, footage_segments
from edge_agent.station.store.schema import audit, events
from tests.station.factory import event
from tests.station.footage_fixture import pull_clip
from tests.station.postgres import Postgres
from tests.station.test_web_support import T0, make_ward, store_messages


def test_a_sqlite_ward_moves_to_postgresql_whole(
    tmp_path: Path, postgres: Postgres, capsys: pytest.CaptureFixture[str]
) -> None:
    ward = make_ward(tmp_path)  # events, pictures, devices, accounts, a case, the audit trail
    files = FootageFiles(tmp_path / "footage")
    pull_clip(ward.engine, files, tmp_path / "pole", "pole1", "pole1-cam0-000003", T0 + timedelta(minutes=3))
    url = postgres.create_database("copied_ward")
    cfg = tmp_path / "station.toml"
    cfg.write_text(f'state_dir = "{tmp_path}"\n[database]\nurl = "{ward.engine.url}"\n')
    ward.engine.dispose()
    capsys.readouterr()
    assert main(["copy", "--config", str(cfg), "--to", url]) == 0
    assert "every row checked equal" in capsys.readouterr().out
    source, target = connect(f"sqlite:///{tmp_path / 'station.db'}"), connect(url)
    try:
        with source.connect() as a, target.connect() as b:
            for table in (events, audit, footage_segments, footage_files):
                n = a.execute(select(func.count()).select_from(table)).scalar()
                assert n and n == b.execute(select(func.count()).select_from(table)).scalar(), table.name
            q = Query(devices=["pole1", "pole2"], labels=["car"], limit=50)
            assert [e["event_id"] for e in search(a, q)["events"]] == [
                e["event_id"] for e in search(b, q)["events"]
            ]
        top = max_id(target)
        store_messages(target, ward.store, [event("pole1", 999, n=999)], 1)  # numbering goes on
        assert max_id(target) > top
        with pytest.raises(CopyError, match="already holds"):
            copy_archive(source, target)
    finally:
        source.dispose()
        target.dispose()


def max_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.max(events.c.id))).scalar() or 0)


def test_a_target_that_cannot_be_opened_is_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "station.toml"
    cfg.write_text(f'state_dir = "{tmp_path}"\n')
    code = main(["copy", "--config", str(cfg), "--to", "postgresql+psycopg://nobody:s3cret@127.0.0.1:1/x"])
    err = capsys.readouterr().err
    assert (
        code == 3
        and "cannot open postgresql+psycopg://nobody:***@127.0.0.1:1/x" in err
        and "s3cret" not in err
    )
