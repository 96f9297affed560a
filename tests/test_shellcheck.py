"""Every shell script is shellcheck-clean."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def scripts() -> list[Path]:
    found = [
        *REPO.glob("deploy/**/*.sh"),
        *REPO.glob("scripts/*.sh"),
        *REPO.glob("models/*.sh"),
        REPO / ".ci" / "run",
    ]
    return sorted(p for p in found if p.is_file())


def test_there_are_scripts() -> None:
    names = {p.name for p in scripts()}
    assert {"install.sh", "provision.sh", "record-failure.sh", "build-image.sh", "smoke-qemu.sh"} <= names
    assert {"test.sh", "demo.sh", "wheelhouse.sh", "run"} <= names


def test_shellcheck_is_clean() -> None:
    tool = shutil.which("shellcheck")
    if tool is None:
        pytest.skip("shellcheck is not installed (scripts/test.sh installs it: apt install shellcheck)")
    proc = subprocess.run(
        [tool, "-s", "bash", *map(str, scripts())], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
