"""edge-agent: motion-gated person/vehicle events from a street camera, delivered over MQTT."""

__version__ = "0.1.0"
