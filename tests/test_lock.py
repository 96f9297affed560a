"""One lock for every install: uv.lock, current with pyproject.toml, and every script takes it.

The demo and the tests install with `uv sync --locked` (scripts/common.sh); the Pi installs from
the lock's export `deploy/requirements-pole.txt` with hashes (install.sh, wheelhouse.sh); uv itself
is bootstrapped at the lock's version from `scripts/uv-requirements.txt`, another export.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import REPO

UV = Path(sys.executable).with_name("uv")


def uv() -> str:
    if not UV.exists():
        pytest.skip(f"uv is not beside {sys.executable} (scripts/test.sh installs it from the lock)")
    return str(UV)


def test_the_lock_is_current_with_pyproject() -> None:
    proc = subprocess.run([uv(), "lock", "--locked"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"uv.lock is out of step: run scripts/upgrade-deps.sh\n{proc.stderr}"


def test_the_exports_are_what_the_lock_says() -> None:
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "lock-exports.sh"), "--check"],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "UV": uv()},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_uv_is_one_version_everywhere() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    required = pyproject["tool"]["uv"]["required-version"].removeprefix("==")
    locked = {p["name"]: p["version"] for p in tomllib.loads((REPO / "uv.lock").read_text())["package"]}
    boot = re.search(r"^uv==([0-9.]+)", (REPO / "scripts" / "uv-requirements.txt").read_text(), re.M)
    assert boot is not None
    assert required == locked["uv"] == boot.group(1)
    assert f'"uv=={required}"' in (REPO / "pyproject.toml").read_text()


def test_every_script_installs_from_the_lock() -> None:
    common = (REPO / "scripts" / "common.sh").read_text()
    assert "sync --quiet --locked" in common and "--require-hashes -r scripts/uv-requirements.txt" in common
    for script in ("test.sh", "demo.sh"):
        text = (REPO / "scripts" / script).read_text()
        assert "ensure_venv" in text and "pip install" not in text, script
    assert "./scripts/test.sh" in (REPO / ".ci" / "run").read_text()
    install = (REPO / "deploy" / "install.sh").read_text()
    assert '--require-hashes -r "$pins"' in install and "requirements-pole.txt" in install
    assert "requirements-pole.txt" in (REPO / "scripts" / "wheelhouse.sh").read_text()


def test_the_pole_export_pins_every_line_with_hashes() -> None:
    body = (REPO / "deploy" / "requirements-pole.txt").read_text().split("\n", 2)[2]
    entries = re.split(r"\n(?=[a-z])", body)
    names = set()
    for entry in entries:
        if not entry.strip():
            continue
        assert re.match(r"^[a-z0-9._-]+==[0-9][^ ;]* ", entry), entry.splitlines()[0]
        assert "--hash=sha256:" in entry, entry.splitlines()[0]
        names.add(entry.split("==", 1)[0])
    assert {"numpy", "onnxruntime", "opencv-python-headless", "paho-mqtt", "pydantic"} <= names
    assert not names & {"sqlalchemy", "starlette", "pytest", "uv"}, "the pole gets no station or test package"
