"""Checks that read the files a configuration names: TLS files, the model and its labels, the
video file and the state directory. Each problem is one line naming the key and the path.

These run in `load()` (so in `check-config`, at start-up and on `cmd/reload`), not in the models:
building a `DetectorConfig` for a file that does not exist yet stays possible in code and tests.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from edge_agent import shipped
from edge_agent.config.settings import MqttConfig, Settings
from edge_agent.config.vision import DetectorConfig

MAX_CERT_BYTES = 1_000_000
MAX_LABELS_BYTES = 1_000_000


def readable_file(path: Path, limit: int | None = None) -> str | None:
    """Why `path` cannot be read as a regular file (of at most `limit` bytes), or None."""
    try:
        if not path.exists():
            return "does not exist"
        if path.is_dir():
            return "is a directory, not a file"
        if not path.is_file():
            return "is not a regular file"
        if limit is not None and path.stat().st_size > limit:
            return f"is more than {limit:,} bytes: not the file meant here"
        with path.open("rb") as fh:
            fh.read(1)
    except PermissionError:
        return "cannot be read: permission denied (the agent runs as user edge-agent)"
    except (OSError, ValueError) as exc:
        return f"cannot be read: {getattr(exc, 'strerror', None) or exc}"
    return None


def _tls(cfg: MqttConfig) -> list[str]:
    problems = []
    files = {"ca_file": cfg.ca_file, "certfile": cfg.certfile, "keyfile": cfg.keyfile}
    for key, path in files.items():
        if path is not None and (why := readable_file(path, MAX_CERT_BYTES)):
            problems.append(f"mqtt.{key}: {path} {why}")
    if problems:
        return problems
    try:
        if cfg.ca_file is not None:
            ssl.create_default_context().load_verify_locations(cafile=str(cfg.ca_file))
    except (ssl.SSLError, ValueError) as exc:
        problems.append(f"mqtt.ca_file: {cfg.ca_file} is not a PEM CA certificate ({exc})")
    try:
        if cfg.certfile is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            keyfile = str(cfg.keyfile) if cfg.keyfile else None
            ctx.load_cert_chain(str(cfg.certfile), keyfile, password=_no_passphrase)
    except (ssl.SSLError, ValueError, OSError) as exc:
        which = "certfile/keyfile" if cfg.keyfile else "certfile"
        problems.append(
            f"mqtt.{which}: {cfg.certfile} is not a PEM client certificate with its unencrypted key "
            f"({getattr(exc, 'reason', None) or exc})"
        )
    return problems


def _no_passphrase() -> str:
    raise ValueError("the key is encrypted with a passphrase; the agent needs an unencrypted key")


def model_path(model: Path) -> Path:
    """The model file: a bare name is one of the shipped models (as `detection.resolve_model`)."""
    if model.is_absolute() or model.parent != Path("."):
        return model
    return shipped("models") / model


def model_labels(model: Path) -> tuple[list[str], Path]:
    """The labels of `model`: `labels.txt` beside it, else the shipped one."""
    beside = model.parent / "labels.txt"
    path = beside if readable_file(beside, MAX_LABELS_BYTES) is None else shipped("models") / "labels.txt"
    text = path.read_text(encoding="utf-8", errors="replace")
    return [line.strip() for line in text.splitlines() if line.strip()], path


def _detector(cfg: DetectorConfig) -> list[str]:
    path = model_path(cfg.model)
    why = readable_file(path)
    if why:
        if path.parent == shipped("models"):
            ship = ", ".join(sorted(p.name for p in path.parent.glob("*.onnx")))
            return [f"detector.model: {cfg.model} is not a model shipped with edge-agent (shipped: {ship})"]
        return [f"detector.model: {path} {why}"]
    try:
        names, source = model_labels(path)
    except OSError as exc:
        return [f"detector.model: its label list cannot be read: {exc.strerror or exc}"]
    unknown = [label for label in cfg.labels if label not in names]
    if unknown:
        return [
            f"detector.labels: {', '.join(map(repr, unknown))} not a label of {path.name}; "
            f"known labels ({source}): {', '.join(names)}"
        ]
    return []


def _camera_file(source: str) -> list[str]:
    if source == "picamera2" or "://" in source or source.startswith(("usb:", "/dev/video")):
        return []
    why = readable_file(Path(source))
    return [f"camera.source: {source} {why} (a video file, picamera2, a URL or a device)"] if why else []


def _state_dir(path: Path) -> list[str]:
    try:
        if path.exists() and not path.is_dir():
            return [f"state_dir: {path} is not a directory"]
    except (OSError, ValueError) as exc:
        return [f"state_dir: {path} cannot be used: {getattr(exc, 'strerror', None) or exc}"]
    return []


def check_files(settings: Settings) -> list[str]:
    """Every problem with a file the settings name, one line each (empty: all fine)."""
    return [
        *_tls(settings.mqtt),
        *_detector(settings.detector),
        *_camera_file(settings.camera.source),
        *_state_dir(settings.state_dir),
    ]
