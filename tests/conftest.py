"""Shared test helpers: where the real test data lives, and a skip when it is absent."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytest_plugins = ["tests.broker"]  # the `broker` fixture: a real mosquitto per test

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# A kernel probe (tests/probe/kernels.py): only when asked for, in this process and its children.
if os.environ.get("EDGE_AGENT_TEST_PROBE"):
    from tests.probe.kernels import install

    install()
    _probe_path = str(REPO / "tests" / "probe")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_probe_path, os.environ.get("PYTHONPATH")) if p)


def pytest_report_header() -> str | None:
    probe = os.environ.get("EDGE_AGENT_TEST_PROBE")
    return f"kernel probe: {probe} (tests/probe/kernels.py)" if probe else None


def agent_command(*args: str | Path) -> list[str]:
    """The command line that runs edge-agent with `args` in this interpreter."""
    return [sys.executable, "-m", "edge_agent", *map(str, args)]


def shared(relative: str) -> Path:
    """A file under ../shared/data, or skip the test with the reason when it is not there."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"test data not available: {path} (the ../shared folder beside the repo)")
    return path


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"test data not available: {SHARED_DATA} (the ../shared folder beside the repo)")
    return SHARED_DATA
