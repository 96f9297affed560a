"""Where messages go: the MQTT outbox, a replay folder, or a test's list."""

from __future__ import annotations

from typing import Protocol

from edge_agent.contract import Message


class Sink(Protocol):
    def publish(self, message: Message) -> None:
        """Take one message; never block on the network."""

    def close(self) -> None:
        """Flush what was taken and release resources."""


class ListSink:
    """Keeps every message in memory (tests, benchmarks)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def publish(self, message: Message) -> None:
        self.messages.append(message)

    def close(self) -> None:
        pass
