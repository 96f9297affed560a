"""`edge-agent run | replay | check-config | demo | --version`.

Every error a user can cause ends here as one clear message and an exit status:
2 bad configuration, 3 camera or video, 4 model, 5 state directory (disk, permissions).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from edge_agent import __version__, config
from edge_agent.contract import redact

EXIT_CONFIG = 2
EXIT_SOURCE = 3
EXIT_MODEL = 4
EXIT_STATE = 5
EXIT_LOST = 6  # a replay whose messages could not all be stored

log = logging.getLogger("edge_agent")


class UserError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge-agent", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"edge-agent {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run on the configured camera and publish to the broker")
    run.add_argument("--config", type=Path, default=config.DEFAULT_CONFIG_PATH, help="TOML config file")

    rep = sub.add_parser("replay", help="run the pipeline on a video file, as fast as it can")
    rep.add_argument("video", type=Path)
    rep.add_argument("--out", type=Path, required=True, help="folder for events.jsonl, thumbnails, summary")
    rep.add_argument("--config", type=Path, default=None, help="TOML config file (default: defaults)")
    rep.add_argument(
        "--start",
        default=None,
        help="wall-clock time of the first frame, ISO 8601 (default: the file's modification time)",
    )
    rep.add_argument("--frames", type=int, default=None, metavar="N", help="only the first N frames")
    rep.add_argument("--no-progress", action="store_true", help="no progress bar")
    rep.add_argument(
        "--drain-timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="with a broker: wait this long at the end for every message to be acknowledged",
    )

    chk = sub.add_parser("check-config", help="validate a config file and print the effective config")
    chk.add_argument("file", type=Path, nargs="?", default=None)
    chk.add_argument("--config", type=Path, default=None, help=argparse.SUPPRESS)

    sub.add_parser("station", help="the ward station: `edge-agent station --help` (the station extra)")
    demo = sub.add_parser("demo", help="replay the bundled clip through a local mosquitto, printing events")
    demo.add_argument("--out", type=Path, default=Path("demo-output"))
    return p


def _station(argv: Sequence[str]) -> int:
    """`edge-agent station ...`: the ward station's own CLI, imported only when asked for."""
    try:
        from edge_agent.station.cli.parser import main as station_main
    except ImportError as exc:
        print(
            f"edge-agent: the ward station is not installed ({exc.name} is missing): "
            "pip install 'edge-agent[station]'",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    return station_main(argv)


def _say(text: str, stream: Any = None) -> None:
    """Print `text`; a reader that went away (`| head -1`) only silences the stream."""
    stream = stream or sys.stdout
    try:
        print(text, file=stream, flush=True)
    except BrokenPipeError:
        _silence(stream)


def _silence(stream: Any) -> None:
    """Point a stream whose reader is gone at /dev/null, so that exiting does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # argparse's --help or --version into a closed pipe
        _silence(sys.stdout)
        _silence(sys.stderr)
        return 0


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["station"]:
        return _station(argv[1:])
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "check-config": cmd_check_config,
        "replay": cmd_replay,
        "run": cmd_run,
        "demo": cmd_demo,
    }
    try:
        return handlers[args.command](args)
    except config.ConfigError as exc:  # its lines are redacted already
        lines = [f"edge-agent: bad configuration in {exc.source}:", *(f"  {p}" for p in exc.problems)]
        _say("\n".join(lines), sys.stderr)
        return EXIT_CONFIG
    except UserError as exc:
        _say(f"edge-agent: {redact(str(exc))}", sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return 130


def _errors() -> dict[type[BaseException], int]:
    """The user-caused error types of the stages, with the exit status each gets."""
    from edge_agent.delivery.outbox_file import OutboxError
    from edge_agent.detection.detector import ModelError
    from edge_agent.sources import SourceError

    return {SourceError: EXIT_SOURCE, ModelError: EXIT_MODEL, OutboxError: EXIT_STATE}


def _guard(fn: Callable[[], Any]) -> Any:
    errors = _errors()
    try:
        return fn()
    except tuple(errors) as exc:
        status = next(code for kind, code in errors.items() if isinstance(exc, kind))
        raise UserError(str(exc), status) from None
    except OSError as exc:
        raise UserError(
            f"{exc.strerror or exc}: {exc.filename or ''} (check disk space and permissions)", EXIT_STATE
        ) from None


# --- check-config -------------------------------------------------------------------------


def cmd_check_config(args: argparse.Namespace) -> int:
    path = args.file or args.config or config.DEFAULT_CONFIG_PATH
    settings = config.load(path)
    _say(f"# {path}: valid\n{config.effective_text(settings)}")
    return 0


# --- replay -------------------------------------------------------------------------------


def _start_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(
            f"--start {text!r} is not an ISO 8601 time (e.g. 2026-11-22T21:10:00Z)", EXIT_CONFIG
        ) from None
    return t if t.tzinfo else t.astimezone()


def cmd_replay(args: argparse.Namespace) -> int:
    from edge_agent.agent.progress import Progress
    from edge_agent.agent.replay import replay

    settings = config.load(args.config)
    start = _start_time(args.start)
    if args.frames is not None and args.frames < 1:
        raise UserError(f"--frames {args.frames}: give a number of frames of 1 or more", EXIT_CONFIG)
    progress: Progress | None = None

    def on_start(total: int) -> None:
        nonlocal progress
        if not args.no_progress:
            progress = Progress(total)

    def on_frame(done: int, events: int) -> None:
        if progress is not None:
            progress.update(done, f"{events} events")

    result = _guard(
        lambda: replay(
            settings, args.video, args.out, start, on_start, on_frame, args.drain_timeout, args.frames
        )
    )
    if progress is not None:
        progress.close(f"{result.events} events")
    print(
        f"{result.frames} frames, {result.events} events ({result.event_messages} messages) "
        f"-> {args.out}/events.jsonl, {args.out}/thumbnails/, {args.out}/summary.png"
    )
    if result.undelivered:
        print(
            f"warning: {result.undelivered} messages are stored in the outbox, not yet delivered "
            "(broker unreachable); the next run sends them",
            file=sys.stderr,
        )
    if result.lost:
        print(
            f"error: {result.lost} messages could not be stored (the state directory's disk is full) "
            "and are lost; free space in the state directory",
            file=sys.stderr,
        )
        return EXIT_LOST
    return 0


# --- run ----------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    from edge_agent.agent.service import run_service

    rejected = args.config.with_name("config.rejected.txt")  # left by first-boot provisioning
    if rejected.is_file():
        raise UserError(rejected.read_text(encoding="utf-8", errors="replace").strip(), EXIT_CONFIG)
    settings = config.load(args.config)
    logging.getLogger().setLevel(settings.log_level.upper())
    return _guard(lambda: run_service(settings, args.config))


# --- demo ---------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from edge_agent.agent.demo import run_demo

    logging.getLogger().setLevel(logging.WARNING)  # the demo prints what matters itself
    return _guard(lambda: run_demo(args.out))
