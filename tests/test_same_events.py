"""The same events on every CPU: a replay of the demo clip and of vtest.avi frames 1–200 (from a
copy decoded the same on every CPU: tests/exact_clip.py) gives
the checked-in event list (tests/expected/, made by scripts/expected_events.py on the CPUs it
names): the same labels and counts, every event starting within two frames of its expected
start. The promise a ward needs: a pole behaves as the tests say, whatever its CPU's kernels."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent import config
from edge_agent.agent.replay import replay
from edge_agent.sources.opencv import probe
from tests.conftest import REPO, shared
from tests.event_list import CLIPS, START, _t, clip_video, differences, event_list, load


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CLIPS))
def test_a_replay_gives_the_checked_in_events(name: str, tmp_path: Path) -> None:
    relative, frames = CLIPS[name]
    if not (REPO / relative).exists():
        shared(relative)  # skips, with the reason, when ../shared is absent
    video = clip_video(name)
    expected = load(name)
    assert len(expected["cpus"]) >= 2, "the list must come from at least two CPUs' kernels"
    replay(config.load(None), video, tmp_path, _t(START), frames=frames)
    found = event_list(tmp_path, probe(video).fps)
    assert found, "the replay found nothing"
    diff = differences(expected["events"], found)
    assert not diff, f"{name}: " + "; ".join(diff) + " (scripts/expected_events.py check)"
