"""Stage 4, tracking: stable ids across frames, riders on their vehicles, parked objects.

`Tracker.update(frame, detections | None) -> TrackerOutput` (`tracker`).
"""

from __future__ import annotations

from edge_agent.tracking.tracker import Track, Tracker, TrackerOutput

__all__ = ["Track", "Tracker", "TrackerOutput"]
