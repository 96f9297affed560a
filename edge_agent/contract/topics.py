"""Topic names of the MQTT contract, version 1: the only module that spells them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Topics:
    prefix: str
    device: str
    camera: str

    @property
    def device_root(self) -> str:
        return f"{self.prefix}/{self.device}"

    @property
    def camera_root(self) -> str:
        return f"{self.prefix}/{self.device}/{self.camera}"

    # device level
    @property
    def status(self) -> str:
        return f"{self.device_root}/status"

    @property
    def stats(self) -> str:
        return f"{self.device_root}/stats"

    def command(self, name: str) -> str:
        return f"{self.device_root}/cmd/{name}"

    @property
    def command_filter(self) -> str:
        return f"{self.device_root}/cmd/+"

    def reply(self, name: str) -> str:
        return f"{self.device_root}/cmd/{name}/reply"

    # camera level
    @property
    def events(self) -> str:
        return f"{self.camera_root}/events"

    def thumbnail(self, event_id: str) -> str:
        return f"{self.camera_root}/thumbnails/{event_id}"

    @property
    def snapshot(self) -> str:
        return f"{self.camera_root}/snapshot"

    @property
    def motion(self) -> str:
        return f"{self.camera_root}/motion"

    @property
    def alarm(self) -> str:
        return f"{self.camera_root}/alarm"

    @property
    def counts(self) -> str:
        return f"{self.camera_root}/counts"

    @property
    def health(self) -> str:
        """Camera health alerts (frozen, covered, moved, blurred): an addition to contract v1."""
        return f"{self.camera_root}/health"

    @property
    def footage(self) -> str:
        """One segment record of the camera's footage chain per closed, kept segment."""
        return f"{self.camera_root}/footage"

    @property
    def footage_heads(self) -> str:
        """The pole's signature over the chain's head, every `recording.sign_every` records."""
        return f"{self.camera_root}/footage/heads"

    @property
    def footage_chunks(self) -> str:
        """Chunks of the segments the station asked for (`cmd/clip`): a JSON header line, then bytes."""
        return f"{self.camera_root}/footage/chunks"

    @property
    def footage_unavailable(self) -> str:
        """A segment asked for that became unreadable while it was sent, and why."""
        return f"{self.camera_root}/footage/unavailable"
