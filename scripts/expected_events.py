"""Write, or check, the checked-in event lists of tests/test_same_events.py on this machine.

    python scripts/expected_events.py check            # this CPU against tests/expected/
    python scripts/expected_events.py write --cpu "…"  # replace the lists with this CPU's events
    python scripts/expected_events.py add-cpu --cpu "…" # this CPU gives the same events: record it

Each list is the events of one replay (`tests/event_list.py`: the demo clip, vtest.avi frames
1–200) with the CPUs it was produced on. Run `check` natively, under `qemu-x86_64-static -cpu
Haswell` (an AVX2-only x86) and on arm64; a list is kept only when every CPU agrees.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge_agent import config  # noqa: E402
from edge_agent.agent.replay import replay  # noqa: E402
from edge_agent.sources.opencv import probe  # noqa: E402
from tests.event_list import CLIPS, EXPECTED, START, _t, clip_video, differences, event_list, load  # noqa: E402


def run(name: str) -> tuple[list[dict], float]:
    _, frames = CLIPS[name]
    video = clip_video(name)
    fps = probe(video).fps
    with tempfile.TemporaryDirectory() as tmp:
        replay(config.load(None), video, Path(tmp), _t(START), frames=frames)
        return event_list(Path(tmp), fps), fps


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("action", choices=["check", "write", "add-cpu"])
    p.add_argument("--cpu", default=f"{platform.machine()} {platform.processor() or ''}".strip())
    args = p.parse_args()
    status = 0
    for name, (relative, frames) in CLIPS.items():
        events, fps = run(name)
        path = EXPECTED / f"events-{name}.json"
        if args.action == "write":
            data = {"clip": relative, "frames": frames, "fps": fps, "start": START, "cpus": [args.cpu]}
            path.write_text(json.dumps({**data, "events": events}, indent=1) + "\n")
            print(f"{name}: {len(events)} events -> {path}")
            continue
        diff = differences(load(name)["events"], events)
        print(f"{name}: {len(events)} events; " + ("the same as the list" if not diff else "; ".join(diff)))
        if diff:
            status = 1
        elif args.action == "add-cpu":
            data = load(name)
            if args.cpu not in data["cpus"]:
                data["cpus"].append(args.cpu)
                path.write_text(json.dumps(data, indent=1) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
