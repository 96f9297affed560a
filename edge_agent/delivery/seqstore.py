"""Event numbers when there is no outbox (no broker configured: a replay into a folder).

With a broker, the outbox hands out `seq` and stores it with each event (outbox.py). Without
one, this keeps the same file the outbox uses as its hint (`state_dir/seq`), written at every
number: without a broker there are few events and no SD-card budget to save. The numbers go on
by one from the highest ever written, across restarts and across switching the broker on.
"""

from __future__ import annotations

from pathlib import Path

from edge_agent.delivery.outbox_file import SeqHint


class SeqStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._hint = SeqHint(path)
        self._last = self._hint.written

    def next(self) -> int:
        self._last += 1
        self._hint.write(self._last)
        return self._last
