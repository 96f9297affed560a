"""Probes for tests that hang on one CPU's int8 kernels: run the suite with the model's scores
moved as another CPU would move them, and see which tests change their verdict.

    EDGE_AGENT_TEST_PROBE=fp32 scripts/test.sh         # the fp32 model instead of int8
    EDGE_AGENT_TEST_PROBE=opt-off scripts/test.sh      # onnxruntime's graph optimisations off
    EDGE_AGENT_TEST_PROBE=jitter:0.03:1 scripts/test.sh  # every score ± up to 0.03 (seed 1)

tests/conftest.py installs the probe in the test process and, through `sitecustomize.py` in this
folder (put on PYTHONPATH), in every Python child a test starts (the agent's replay, its service).
A test whose verdict changes under a probe depends on a score a few hundredths from a
threshold: docs/detection.md ("Scores across CPUs") says what was found and what was done.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ENV = "EDGE_AGENT_TEST_PROBE"


class _Jittered:
    """An onnxruntime session whose class scores are moved by up to ±`delta` each."""

    def __init__(self, session: Any, delta: float, seed: int) -> None:
        import numpy as np

        self._session, self._delta = session, delta
        self._rng = np.random.default_rng(seed)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    def run(self, names: list[str], feed: dict[str, Any]) -> list[Any]:
        import numpy as np

        out = self._session.run(names, feed)
        for i, name in enumerate(names):
            if name.startswith("cls_"):
                noise = self._rng.uniform(-self._delta, self._delta, out[i].shape).astype(np.float32)
                out[i] = np.clip(out[i] + noise, 0.0, 1.0)
        return out


def install(mode: str | None = None) -> str | None:
    """Patch the detector's session loader for `mode` (default: $EDGE_AGENT_TEST_PROBE)."""
    mode = mode if mode is not None else os.environ.get(ENV)
    if not mode:
        return None
    import onnxruntime as ort

    from edge_agent.detection import nanodet

    if getattr(nanodet.load_session, "probe", None) == mode:
        return mode
    original = nanodet.load_session

    def load(path: Path, threads: int, expected_sha256: str | None) -> Any:
        if mode == "fp32" and path.name == "nanodet-g-int8.onnx":
            path, expected_sha256 = path.with_name("nanodet-g.onnx"), None
        session = original(path, threads, expected_sha256)
        if mode == "opt-off":
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            opts.log_severity_level = 3
            session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        if mode.startswith("jitter:"):
            _, delta, seed = mode.split(":")
            session = _Jittered(session, float(delta), int(seed))
        return session

    load.probe = mode  # type: ignore[attr-defined]
    nanodet.load_session = load
    return mode
