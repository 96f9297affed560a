"""The package layout: one sub-package per stage, and rules on who may import whom.

The rules are import-linter contracts in pyproject.toml; these tests run them on the code as it
is (all kept) and on copies with one forbidden import planted (each is caught), so a contract that
stops checking anything fails here too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
HEAVY = ("cv2", "numpy", "onnxruntime", "paho")
STAGES = ("sources", "motion", "detection", "tracking", "events")


def lint_imports(package_parent: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports with the project's contracts on the `edge_agent` found in `package_parent`."""
    if not LINT_IMPORTS.exists():
        pytest.skip(f"lint-imports is not installed beside {sys.executable} (pip install -e '.[dev]')")
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=package_parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_contract_is_kept() -> None:
    proc = lint_imports(REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


PLANTED = [
    ("contract/topics.py", "from edge_agent import config", "The MQTT contract imports nothing else"),
    ("contract/schema.py", "import numpy", "The MQTT contract imports nothing else"),
    ("motion/ghosts.py", "from edge_agent.delivery import outbox", "The stages know nothing of delivery"),
    ("events/zones.py", "from edge_agent.agent import sink", "The stages know nothing of delivery"),
    ("detection/crops.py", "from edge_agent.tracking import tracker", "The pole's data path"),
    ("delivery/outbox.py", "from edge_agent.events import zones", "Delivery moves contract messages"),
    ("station/__init__.py", "from edge_agent.detection import nanodet", "The ward station imports only"),
    ("station/__init__.py", "import cv2", "The ward station imports only"),
    ("motion/exposure.py", "from edge_agent.motion import background", "No import cycles anywhere"),
    ("station/config/__init__.py", "from edge_agent.station.web import app", "The station's stages"),
    ("station/store/ops.py", "from edge_agent.station.query import search", "The station's stages"),
    ("station/ingest/inbox.py", "from edge_agent.station.web import i18n", "The station's stages"),
    ("station/query/search.py", "from edge_agent.station.evidence import cases", "The station's stages"),
    ("station/api/app.py", "from edge_agent.station.auth import roles", "The station's stages"),
    ("station/web/charts.py", "from edge_agent.station.ingest import inbox", "Only the station's wiring"),
    ("station/notify/watch.py", "from edge_agent.station.ingest import archive", "Only the station's wiring"),
    ("station/notify/sender.py", "import paho.mqtt.client", "The station's lower rooms know no"),
    ("station/notify/fanout.py", "from edge_agent.station.web import i18n", "The station's stages"),
    ("station/evidence/cases.py", "import starlette", "The station's lower rooms know no"),
    ("station/store/schema.py", "import paho.mqtt.client", "The station's lower rooms know no"),
]


@pytest.mark.parametrize(("module", "line", "contract"), PLANTED, ids=[p[0] + ": " + p[1] for p in PLANTED])
def test_a_planted_forbidden_import_is_caught(tmp_path: Path, module: str, line: str, contract: str) -> None:
    no_cache = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "edge_agent", tmp_path / "edge_agent", ignore=no_cache)
    target = tmp_path / "edge_agent" / module
    target.write_text(target.read_text() + f"\n{line}  # planted by the test\n")
    proc = lint_imports(tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    broken = [ln for ln in proc.stdout.splitlines() if ln.endswith(" BROKEN")]
    assert any(ln.startswith(contract) for ln in broken), proc.stdout


def test_the_contract_imports_nothing_heavy() -> None:
    """The ward station depends on `edge_agent.contract`: it must not drag in the pole's libraries."""
    code = (
        "import sys, edge_agent.contract as c; "
        "c.Event, c.Topics('edge', 'pole17', 'cam0').events, c.Message; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"importing edge_agent.contract imported {proc.stdout.strip()}"


def test_listing_the_package_shows_the_data_path() -> None:
    package = REPO / "edge_agent"
    modules = sorted(p.name for p in package.glob("*.py"))
    packages = sorted(p.name for p in package.iterdir() if (p / "__init__.py").is_file())
    assert len(modules) <= 8, modules
    for name in ("contract", *STAGES, "delivery", "agent", "station"):
        assert name in packages, f"edge_agent/{name}/ is missing: {packages}"


STATION_WIRING = {"__init__.py", "cli", "service.py", "config", "errors.py"}
STATION_ROOMS = ("store", "ingest", "query", "evidence", "fleet", "notify", "api", "auth", "web")


def test_listing_the_station_shows_its_stages() -> None:
    """`ls edge_agent/station/` names the rooms a message passes through, and the wiring on top."""
    station = REPO / "edge_agent" / "station"
    entries = {p.name for p in station.iterdir() if p.name != "__pycache__"}
    packages = {p.name for p in station.iterdir() if (p / "__init__.py").is_file()}
    assert entries - packages - STATION_WIRING == set(), "only the wiring sits beside the rooms"
    for room in STATION_ROOMS:
        assert room in packages, f"edge_agent/station/{room}/ is missing: {sorted(packages)}"
    overview = (station / "__init__.py").read_text(encoding="utf-8")
    for room in (*STATION_ROOMS, "notify", "footage", "city"):
        assert f"`{room}/`" in overview, f"the station's docstring does not place {room}/"


@pytest.mark.parametrize("room", [*STATION_ROOMS, "cli"])
def test_every_station_room_says_what_comes_in_and_goes_out(room: str) -> None:
    init = REPO / "edge_agent" / "station" / room / "__init__.py"
    text = init.read_text(encoding="utf-8")
    assert text.startswith('"""'), f"{init} has no docstring"
    doc = text.split('"""')[1]
    assert len(doc.split()) >= 20, f"{init}: say what comes in and what goes out"
    assert "In:" in doc and "Out:" in doc, f"{init}: say what comes in (In:) and what goes out (Out:)"
