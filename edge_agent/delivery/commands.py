"""Commands on `P/D/cmd/<name>` with a JSON reply on `P/D/cmd/<name>/reply`.

Anyone the broker lets write to `P/D/cmd/#` can send anything, so a command never crashes,
stalls or bloats the agent: the name must match `^[a-z_]{1,32}$` and the payload be at most
`MAX_PAYLOAD` bytes, both checked before anything is decoded; a payload nested too deep for the
JSON decoder, an unknown name, a payload that is not a JSON object, or a handler that fails all
get an error reply. A name that fails the check gets no reply at all (its reply topic could be
one the broker or paho refuses); it is logged and counted.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any

from edge_agent.contract import redact

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], dict[str, Any]]
CommandHandler = Callable[[str, dict[str, Any]], dict[str, Any]]

NAME = re.compile(r"[a-z_]{1,32}")
MAX_PAYLOAD = 4096


class UnknownCommand(KeyError):
    pass


class Commands:
    """A registry of named commands: `commands.add("snapshot", fn)`; call it with (name, args)."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def add(self, name: str, handler: Handler) -> None:
        if not NAME.fullmatch(name):
            raise ValueError(f"command name {name!r} does not match {NAME.pattern}")
        self._handlers[name] = handler

    @property
    def names(self) -> list[str]:
        return sorted(self._handlers)

    def __call__(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        handler = self._handlers.get(name)
        if handler is None:
            raise UnknownCommand(name)
        return handler(args)


def valid_name(name: str) -> bool:
    """Whether `name` may be a command (and so part of a reply topic)."""
    return NAME.fullmatch(name) is not None


def command_reply(handler: CommandHandler | None, name: str, payload: bytes) -> bytes:
    """Run one command and return its JSON reply (always a JSON object with `ok`).

    The caller has checked `valid_name(name)`; the payload is checked here.
    """
    if len(payload) > MAX_PAYLOAD:
        return _error(name, f"payload is {len(payload)} bytes; a command takes at most {MAX_PAYLOAD}")
    try:
        args = json.loads(payload.decode("utf-8")) if payload.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _error(name, "payload is not valid JSON")
    except RecursionError:
        return _error(name, "payload is nested too deeply to be a command's arguments")
    if not isinstance(args, dict):
        return _error(name, "payload must be a JSON object")
    if handler is None:
        return _error(name, "this agent takes no commands")
    try:
        result = handler(name, args)
    except UnknownCommand:
        known = ", ".join(getattr(handler, "names", []))
        return _error(name, f"unknown command; known: {known}")
    except Exception as exc:  # a failing command must not take the agent down
        log.exception("command %s failed", name)
        return _error(name, f"{type(exc).__name__}: {exc}")
    return _reply({"ok": True, "command": name, **result})


def _error(name: str, error: str) -> bytes:
    return _reply({"ok": False, "command": name, "error": error})


def _reply(body: dict[str, Any]) -> bytes:
    return redact(json.dumps(body, default=str)).encode()
