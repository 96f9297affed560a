"""Installs tests/probe/kernels.py's probe in a Python child of a test (on PYTHONPATH only when
EDGE_AGENT_TEST_PROBE is set: see tests/conftest.py)."""

import os

if os.environ.get("EDGE_AGENT_TEST_PROBE"):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.probe.kernels import install

    install()
