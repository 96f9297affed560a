"""Commands on `P/D/cmd/<name>` with a JSON reply on `P/D/cmd/<name>/reply`.

A command never crashes the agent: an unknown name, a payload that is not a JSON object, or a
handler that fails all get an error reply.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], dict[str, Any]]
CommandHandler = Callable[[str, dict[str, Any]], dict[str, Any]]


class UnknownCommand(KeyError):
    pass


class Commands:
    """A registry of named commands: `commands.add("snapshot", fn)`; call it with (name, args)."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def add(self, name: str, handler: Handler) -> None:
        self._handlers[name] = handler

    @property
    def names(self) -> list[str]:
        return sorted(self._handlers)

    def __call__(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        handler = self._handlers.get(name)
        if handler is None:
            raise UnknownCommand(name)
        return handler(args)


def command_reply(handler: CommandHandler | None, name: str, payload: bytes) -> bytes:
    """Run one command and return its JSON reply (always a JSON object with `ok`)."""
    try:
        args = json.loads(payload.decode("utf-8")) if payload.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _reply({"ok": False, "command": name, "error": "payload is not valid JSON"})
    if not isinstance(args, dict):
        return _reply({"ok": False, "command": name, "error": "payload must be a JSON object"})
    if handler is None:
        return _reply({"ok": False, "command": name, "error": "this agent takes no commands"})
    try:
        result = handler(name, args)
    except UnknownCommand:
        known = ", ".join(getattr(handler, "names", []))
        return _reply({"ok": False, "command": name, "error": f"unknown command; known: {known}"})
    except Exception as exc:  # a failing command must not take the agent down
        log.exception("command %s failed", name)
        return _reply({"ok": False, "command": name, "error": f"{type(exc).__name__}: {exc}"})
    return _reply({"ok": True, "command": name, **result})


def _reply(body: dict[str, Any]) -> bytes:
    return json.dumps(body, default=str).encode()
