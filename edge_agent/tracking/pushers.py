"""A person walking a bicycle or motorbike is its rider: one object pass, one event.

The rider rule (`tracker.assign_riders`) catches a person sitting on the vehicle (their box on
it). A person pushing a bike walks beside it instead: their boxes touch side by side, stand on
the same ground line, and keep doing so frame after frame. Each frame both are seen counts for
the pair, and the frames they touch; when they have touched for most of their shared life
(`tracker.pusher_in_step`), the one that has no event yet joins the other: a person joins the
vehicle as `riders: 1`, or, when the person's event had already started before the vehicle was
seen, the vehicle joins the person. A person next to a bike is held back from starting an event
for up to `tracker.pusher_wait_s` while this is decided.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from edge_agent.geometry import Box
from edge_agent.labels import TWO_WHEELERS


class PairTrack(Protocol):
    id: int
    box: Box
    seen_this_frame: bool
    beside: dict[int, list[int]]

    @property
    def label(self) -> str: ...


def touching(person: Box, wheel: Box) -> bool:
    """Side by side at touching distance, on the same ground line (not one far behind the other)."""
    pw, ph = person[2] - person[0], max(person[3] - person[1], 1.0)
    gap = max(wheel[0] - person[2], person[0] - wheel[2])  # negative: they overlap
    overlap_y = min(person[3], wheel[3]) - max(person[1], wheel[1])
    same_ground = abs(person[3] - wheel[3]) <= 0.25 * ph
    return gap <= 0.5 * pw and overlap_y >= 0.5 * (wheel[3] - wheel[1]) and same_ground


def count_pairs(tracks: Sequence[PairTrack]) -> None:
    """For every person and two-wheeler both seen this frame: one more shared frame, and one
    more touching frame when they touch (kept on the person as `beside[wheel id]`)."""
    people = [t for t in tracks if t.seen_this_frame and t.label == "person"]
    wheels = [t for t in tracks if t.seen_this_frame and t.label in TWO_WHEELERS]
    for p in people:
        for w in wheels:
            shared = p.beside.setdefault(w.id, [0, 0])
            shared[0] += 1
            shared[1] += touching(p.box, w.box)


def in_step(person: PairTrack, wheel_id: int, least_frames: int, share: float) -> bool:
    shared = person.beside.get(wheel_id)
    return shared is not None and shared[0] >= least_frames and shared[1] >= share * shared[0]
