"""edge-agent: motion-gated person/vehicle events from a street camera, delivered over MQTT."""

from pathlib import Path

__version__ = "0.1.0"

PACKAGE_DIR = Path(__file__).resolve().parent


def shipped(name: str) -> Path:
    """A folder that ships with edge-agent (`models`, `demo`): inside the installed package, where
    the wheel puts it, else beside the package in the source tree."""
    inside = PACKAGE_DIR / name
    return inside if inside.is_dir() else PACKAGE_DIR.parent / name
