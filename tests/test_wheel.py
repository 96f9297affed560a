"""The wheel that install.sh and the pi-gen stage install carries every sub-package, the model and
the demo clip, and runs from where it is installed (not from the source tree)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

SHIPPED = (
    "models/nanodet-g-int8.onnx",
    "models/nanodet-g.onnx",
    "models/SHA256SUMS",
    "models/labels.txt",
    "demo/car-detection.mp4",
)


def pip(*args: str | Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", *map(str, args), "-q", "--no-deps"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    pip("wheel", "-w", out, REPO)
    (built,) = out.glob("edge_agent-*.whl")
    return built


def test_the_wheel_carries_every_module_the_model_and_the_demo(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    sources = {p.relative_to(REPO).as_posix() for p in (REPO / "edge_agent").rglob("*.py")}
    assert sources - names == set(), "modules missing from the wheel"
    assert {f"edge_agent/{name}" for name in SHIPPED} <= names


def test_the_installed_package_runs_from_where_it_is_installed(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    pip("install", "--target", target, wheel)
    env = {**os.environ, "PYTHONPATH": str(target)}

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, *args], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    assert run("-m", "edge_agent", "--version").startswith("edge-agent ")
    assert "valid" in run("-m", "edge_agent", "check-config", str(REPO / "deploy" / "edge-agent.toml"))
    where = run(
        "-c",
        "import edge_agent; from edge_agent.agent.demo import demo_clip; "
        "from edge_agent.config import DetectorConfig; from edge_agent.detection import Detector; "
        "from edge_agent.detection.detector import models_dir; "
        "Detector(DetectorConfig()); print(edge_agent.__file__); print(demo_clip()); print(models_dir())",
    ).split()
    assert all(Path(p).is_relative_to(target) for p in where), where
