"""systemd/edge-station.service: `systemd-analyze verify` is silent, its exposure score is low."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd" / "edge-station.service"


@pytest.fixture
def unit(tmp_path: Path) -> Path:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (package systemd)")
    path = tmp_path / UNIT.name
    path.write_text(UNIT.read_text().replace("/opt/edge-station/venv/bin/edge-agent", "/usr/bin/true"))
    return path


def test_verify_prints_nothing(unit: Path) -> None:
    proc = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert proc.stdout + proc.stderr == "" and proc.returncode == 0, proc.stdout + proc.stderr


def test_exposure_score_at_most_2(unit: Path) -> None:
    proc = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for edge-station.service: ([0-9.]+)", proc.stdout)
    assert match, proc.stdout + proc.stderr
    assert float(match.group(1)) <= 2.0, proc.stdout
    assert "Invalid syntax" not in proc.stderr
