"""`edge-agent station …` as a user runs it: config errors, search, cases, export, verify, audit, add-pole."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from edge_agent.station.cli.parser import main
from edge_agent.station.ingest.archive import Archive, Received
from edge_agent.station.ingest.inbox import PictureRecord, classify
from edge_agent.station.store.engine import connect
from edge_agent.station.store.pictures import PictureStore
from tests.station.factory import event, jpeg, thumbnail


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def station(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Ran]:
    """Run `edge-agent station ARGS` in this process (the entry point itself is tested once below)."""

    def run(*args: str | Path, env: dict[str, str] | None = None) -> Ran:
        with monkeypatch.context() as m:
            for k, v in (env or {}).items():
                m.setenv(k, v)
            capsys.readouterr()
            code = main([str(a) for a in args])
            out = capsys.readouterr()
        return Ran(code, out.out, out.err)

    return run


def test_the_entry_point_runs_the_station_cli(tmp_path: Path) -> None:
    cfg = tmp_path / "station.toml"
    cfg.write_text("colour = 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "edge_agent", "station", "check-config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "colour: unknown key" in proc.stderr


@pytest.mark.parametrize(
    ("toml", "needles"),
    [
        ("colour = 1\n", ["colour: unknown key"]),
        (
            '[[brokers]]\nurl = "http://x"\nspeed = 3\n',
            ["brokers[0].url: must look like", "brokers[0].speed: unknown"],
        ),
        ('[[brokers]]\nurl = "mqtt://u:secret@host"\n', ["not in the URL"]),
        ("[retention]\nevents_days = -1\n", ["retention.events_days"]),
        ('[database]\nurl = "mysql://x"\n', ["database.url"]),
        ("station_id = [\n", ["invalid TOML"]),
    ],
)
def test_bad_config_is_one_line_per_problem_and_exit_2(
    station: Callable[..., Ran], tmp_path: Path, toml: str, needles: list[str]
) -> None:
    cfg = tmp_path / "station.toml"
    cfg.write_text(toml)
    proc = station("check-config", cfg)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "secret" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("edge-agent station: bad configuration in")
    for needle in needles:
        assert any(needle in line for line in lines[1:]), proc.stderr
    assert len(lines) == 1 + len(needles)


def test_missing_config_file_is_a_clear_error(station: Callable[..., Ran], tmp_path: Path) -> None:
    proc = station("search", "--config", tmp_path / "nope.toml")
    assert proc.returncode == 2 and "file not found" in proc.stderr


def test_search_case_export_verify_audit_from_the_command_line(
    station: Callable[..., Ran], tmp_path: Path
) -> None:
    cfg = tmp_path / "station.toml"
    cfg.write_text(f'station_id = "ward7"\nstate_dir = "{tmp_path / "state"}"\n')
    engine = connect(f"sqlite:///{tmp_path / 'state' / 'station.db'}")
    store = PictureStore(tmp_path / "state" / "pictures")
    batch = []
    for i in range(1, 6):
        pic = jpeg(i)
        for topic, payload in (
            thumbnail("pole17", i, pic),
            event("pole17", i, thumb=pic, label="motorcycle" if i % 2 else "person"),
        ):
            rec = classify("edge", topic, payload, 2**22)
            if isinstance(rec, PictureRecord):
                store.put(rec.data)
            batch.append(Received("ward", 1, rec))
    Archive(engine).store(batch)
    engine.dispose()

    found = station(
        "search",
        "--config",
        cfg,
        "--pole",
        "pole17",
        "--label",
        "motorcycle",
        "--from",
        "2026-11-22T21:00Z",
        "--to",
        "2026-11-22T21:30Z",
        "--user",
        "officer-an",
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.count("pole17/pole1") == 3 and "# 3 events" in found.stdout
    bad = station("search", "--config", cfg, "--from", "tuesday")
    assert bad.returncode == 2 and "--from" in bad.stderr and "ISO 8601" in bad.stderr

    assert (
        station("case", "open", "case-17", "--config", cfg, "--reason", "theft", "--user", "an").returncode
        == 0
    )
    added = station(
        "case", "add", "case-17", "pole17/pole17-cam0-000001", "pole17/pole17-cam0-000003", "--config", cfg
    )
    assert added.returncode == 0 and "2 events added" in added.stdout
    missing = station("case", "add", "case-17", "pole17/nope-000001", "--config", cfg)
    assert missing.returncode == 4 and "not in the archive" in missing.stderr

    out = tmp_path / "bag"
    exported = station("export", "case-17", "--out", out, "--config", cfg, "--user", "an")
    assert exported.returncode == 0, exported.stderr
    again = station("export", "case-17", "--out", out, "--config", cfg)
    assert again.returncode == 2 and "Traceback" not in again.stderr
    ok = station("verify", out)
    assert ok.returncode == 0 and "bag is intact" in ok.stdout
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    target = next((copy / "data" / "events" / "pole17").rglob("*.json"))
    target.write_bytes(target.read_bytes().replace(b"motorcycle", b"motorcyclE"))
    (copy / "data" / "extra.txt").write_text("planted")
    broken = station("verify", copy)
    assert broken.returncode == 1
    assert f"ALTERED: {target.relative_to(copy).as_posix()}" in broken.stdout
    assert "ADDED: data/extra.txt" in broken.stdout

    intact = station("audit", "--verify", "--config", cfg)
    assert intact.returncode == 0 and "intact" in intact.stdout
    listing = station("audit", "--config", cfg).stdout
    assert "search" in listing and "export" in listing and "case-open" in listing
    copy_db = tmp_path / "copy.db"
    with sqlite3.connect(tmp_path / "state" / "station.db") as src, sqlite3.connect(copy_db) as dst:
        src.backup(dst)  # the WAL's pages too
    with sqlite3.connect(copy_db) as db:
        db.execute("DELETE FROM audit WHERE id = 2")
    env = {"EDGE_STATION_DATABASE__URL": f"sqlite:///{copy_db}"}
    tampered = station("audit", "--verify", "--config", cfg, env=env)
    assert tampered.returncode == 1 and "problems" in tampered.stdout

    anchor = json.loads((out / "data" / "case.json").read_text())["audit_anchor"]
    with sqlite3.connect(tmp_path / "state" / "station.db") as db:
        db.execute("DELETE FROM audit WHERE id >= ?", (anchor["id"],))  # the newest rows, cleanly cut
    cut = station("audit", "--verify", "--config", cfg)
    assert cut.returncode == 0  # a clean cut at the end shows only against an anchor kept elsewhere
    anchored = station("audit", "--verify", "--anchor", f"{anchor['id']}:{anchor['hash']}", "--config", cfg)
    assert anchored.returncode == 1 and "problems" in anchored.stdout


def test_add_pole_creates_a_password_and_prints_the_boot_lines(
    station: Callable[..., Ran], tmp_path: Path
) -> None:
    if shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto_passwd is not installed (apt install mosquitto)")
    passwd = tmp_path / "edge-passwd"
    proc = station(
        "add-pole", "pole17", "--passwd-file", passwd, "--broker-url", "mqtts://ward7.example:8883"
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    password = lines[1]
    assert (
        len(password) >= 24 and 'device_id = "pole17"' in proc.stdout and 'username = "pole17"' in proc.stdout
    )
    assert passwd.read_text().startswith("pole17:")
    assert password not in passwd.read_text()  # hashed
    bad = station("add-pole", "Pole 17!", "--passwd-file", passwd)
    assert bad.returncode == 4 and "a-z 0-9" in bad.stderr
