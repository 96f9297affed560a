"""Pipeline benchmark: the whole vtest.avi replay pinned to one core.

    python benchmarks/pipeline.py [VIDEO]

Frames per second (wall clock), CPU milliseconds per frame by stage (thread CPU time, so other
processes on the machine do not count), decoding included, and peak RSS. Re-runs itself under
`taskset -c 0` when it is not pinned already. Writes benchmarks/results/pipeline.json.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import need, table, write

from edge_agent import config
from edge_agent.agent.pipeline import STAGES, Pipeline
from edge_agent.agent.sink import ListSink
from edge_agent.sources import open_file


def main() -> None:
    if len(os.sched_getaffinity(0)) > 1 and shutil.which("taskset"):
        raise SystemExit(subprocess.call(["taskset", "-c", "0", sys.executable, *sys.argv]))
    video = Path(sys.argv[1]) if len(sys.argv) > 1 else need("pets09_s2l1_vtest/vtest.avi")
    with tempfile.TemporaryDirectory() as state:
        settings = config.load(None, overrides={"device_id": "bench", "state_dir": state})
        source = open_file(video, settings.motion.height)
        pipeline = Pipeline(settings, source, [ListSink()])
        t0, c0 = time.perf_counter(), time.thread_time_ns()
        pipeline.run()
        wall, cpu_ns = time.perf_counter() - t0, time.thread_time_ns() - c0
    n = pipeline.stats.frames_processed
    stage_ms = {k: round(v / 1e6 / n, 2) for k, v in pipeline.stats.stage_cpu_ns.items()}
    stage_ms["decode+other"] = round((cpu_ns - sum(pipeline.stats.stage_cpu_ns.values())) / 1e6 / n, 2)
    rss_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    row = {
        "video": video.name,
        "frames": n,
        "fps": round(n / wall, 1),
        "cpu_ms_per_frame": round(cpu_ns / 1e6 / n, 2),
        "peak_rss_mb": rss_mb,
        "detector_runs": pipeline.stats.detector_runs,
        "inferences": pipeline.detector.inferences,
        "model": pipeline.detector.model_id,
        "cpus": sorted(os.sched_getaffinity(0)),
    }
    print(table([row], list(row)))
    print()
    print(table([stage_ms], [*STAGES, "decode+other"]))
    print(f"\nwrote {write('pipeline', {**row, 'stage_cpu_ms_per_frame': stage_ms})}")


if __name__ == "__main__":
    main()
